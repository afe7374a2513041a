//! The 4-ary min-heap that orders timers and periodics by deadline.
//!
//! Same shape as libev's (a 4-heap whose root lives at index [`HEAP0`] = 3), because the heap
//! index is visible to C: a started timer's `active` field holds its index in the heap, and
//! `ev_is_active()` returns that raw value. Each node caches the deadline next to the watcher
//! pointer so the sift loops never touch watcher memory.
//!
//! Invariant: for every node `k > HEAP0`, `at(parent(k)) <= at(k)`, and
//! `nodes[k].w.active() == k` for every node in use.

use super::watcher::WatcherPtr;

/// Branching factor.
const DHEAP: usize = 4;
/// Index of the root. Indices below it are unused, so that a node's index equals its
/// `active` value with libev's numbering.
pub const HEAP0: usize = DHEAP - 1;

#[derive(Clone, Copy)]
pub struct Node {
    pub at: f64,
    pub w: WatcherPtr,
}

#[derive(Default)]
pub struct Heap {
    /// `nodes[HEAP0 ..]` are in use; the first `HEAP0` slots are padding.
    nodes: Vec<Node>,
}

#[inline]
fn parent(k: usize) -> usize {
    (k - HEAP0 - 1) / DHEAP + HEAP0
}

impl Heap {
    /// Number of watchers in the heap.
    #[inline]
    pub fn len(&self) -> usize {
        self.nodes.len().saturating_sub(HEAP0)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The earliest node, if any.
    #[inline]
    pub fn top(&self) -> Option<Node> {
        self.nodes.get(HEAP0).copied()
    }

    #[inline]
    pub fn node(&self, k: usize) -> Node {
        self.nodes[k]
    }

    /// Iterate over the heap indices in use.
    pub fn indices(&self) -> core::ops::Range<usize> {
        HEAP0..self.nodes.len()
    }

    /// Insert `w` with deadline `at`; sets `w.active` to its heap index.
    pub fn push(&mut self, w: WatcherPtr, at: f64) {
        if self.nodes.is_empty() {
            // Padding slots; never read as nodes.
            for _ in 0..HEAP0 {
                self.nodes.push(Node { at: 0.0, w });
            }
        }
        let k = self.nodes.len();
        self.nodes.push(Node { at, w });
        w.set_active(k as i32);
        self.upheap(k);
    }

    /// Remove the node at index `k` (a watcher's `active` value).
    pub fn remove(&mut self, k: usize) {
        let last = self.nodes.len() - 1;
        debug_assert!(k >= HEAP0 && k <= last);
        if k < last {
            self.nodes[k] = self.nodes[last];
            self.nodes.pop();
            self.adjust(k);
        } else {
            self.nodes.pop();
        }
        if self.nodes.len() == HEAP0 {
            self.nodes.clear();
        }
    }

    /// Change the deadline of node `k` and restore heap order.
    pub fn set_at(&mut self, k: usize, at: f64) {
        self.nodes[k].at = at;
        self.adjust(k);
    }

    /// Change the cached deadline of node `k` without restoring order (used when every node
    /// is shifted by the same amount, or before a full [`Heap::rebuild`]).
    pub fn set_at_unordered(&mut self, k: usize, at: f64) {
        self.nodes[k].at = at;
    }

    /// Move node `k` up or down as its deadline requires.
    pub fn adjust(&mut self, k: usize) {
        if k > HEAP0 && self.nodes[k].at <= self.nodes[parent(k)].at {
            self.upheap(k);
        } else {
            self.downheap(k);
        }
    }

    /// Restore the heap property for all nodes (after arbitrary deadline changes).
    pub fn rebuild(&mut self) {
        for k in self.indices() {
            self.upheap(k);
        }
    }

    fn upheap(&mut self, mut k: usize) {
        let he = self.nodes[k];
        while k > HEAP0 {
            let p = parent(k);
            if self.nodes[p].at <= he.at {
                break;
            }
            self.nodes[k] = self.nodes[p];
            self.nodes[k].w.set_active(k as i32);
            k = p;
        }
        self.nodes[k] = he;
        he.w.set_active(k as i32);
    }

    fn downheap(&mut self, mut k: usize) {
        let he = self.nodes[k];
        let end = self.nodes.len();
        loop {
            let first = DHEAP * (k - HEAP0) + HEAP0 + 1;
            if first >= end {
                break;
            }
            let last = (first + DHEAP).min(end);
            let mut minpos = first;
            let mut minat = self.nodes[first].at;
            for c in first + 1..last {
                if self.nodes[c].at < minat {
                    minat = self.nodes[c].at;
                    minpos = c;
                }
            }
            if he.at <= minat {
                break;
            }
            self.nodes[k] = self.nodes[minpos];
            self.nodes[k].w.set_active(k as i32);
            k = minpos;
        }
        self.nodes[k] = he;
        he.w.set_active(k as i32);
    }

    /// Check the heap invariants; returns a description of the first violation.
    pub fn verify(&self) -> Result<(), String> {
        for k in self.indices() {
            let n = self.nodes[k];
            if n.w.active() as usize != k {
                return Err(format!("heap node {k} has active {}", n.w.active()));
            }
            if k > HEAP0 && self.nodes[parent(k)].at > n.at {
                return Err(format!("heap order violated at {k}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::abi::ev_watcher;

    fn watchers(n: usize) -> Vec<ev_watcher> {
        (0..n)
            .map(|_| ev_watcher {
                active: 0,
                pending: 0,
                priority: 0,
                data: core::ptr::null_mut(),
                cb: None,
            })
            .collect()
    }

    #[test]
    fn pops_in_order_and_tracks_active() {
        let mut ws = watchers(200);
        let mut h = Heap::default();
        let mut seed = 12345u64;
        for w in ws.iter_mut() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = (seed >> 33) as f64 / 1000.0;
            // SAFETY: `w` outlives the heap in this test.
            let p = unsafe { WatcherPtr::from_raw(w as *mut ev_watcher) }.unwrap();
            h.push(p, at);
            h.verify().unwrap();
        }
        let mut last = f64::MIN;
        while let Some(top) = h.top() {
            assert!(top.at >= last);
            last = top.at;
            assert_eq!(top.w.active() as usize, HEAP0);
            h.remove(HEAP0);
            h.verify().unwrap();
        }
        assert!(h.is_empty());
    }

    #[test]
    fn remove_middle_and_adjust() {
        let mut ws = watchers(50);
        let mut h = Heap::default();
        for (i, w) in ws.iter_mut().enumerate() {
            // SAFETY: `w` outlives the heap in this test.
            let p = unsafe { WatcherPtr::from_raw(w as *mut ev_watcher) }.unwrap();
            h.push(p, ((i * 37) % 50) as f64);
        }
        for i in (0..50).step_by(3) {
            let k = ws[i].active as usize;
            h.remove(k);
            h.verify().unwrap();
        }
        for i in (1..50).step_by(3) {
            let k = ws[i].active as usize;
            h.set_at(k, -(i as f64));
            h.verify().unwrap();
        }
        assert_eq!(h.top().unwrap().at, -49.0);
    }

    #[test]
    fn libev_root_index_is_three() {
        // libev probe sem1: timers with after 10, 20, 5 started in that order show
        // active 5, 4, 3.
        let mut ws = watchers(3);
        let mut h = Heap::default();
        for (w, at) in ws.iter_mut().zip([10.0, 20.0, 5.0]) {
            // SAFETY: `w` outlives the heap in this test.
            let p = unsafe { WatcherPtr::from_raw(w as *mut ev_watcher) }.unwrap();
            h.push(p, at);
        }
        assert_eq!([ws[0].active, ws[1].active, ws[2].active], [5, 4, 3]);
    }
}
