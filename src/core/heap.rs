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
use crate::ffi::abi::ev_watcher;
use core::cell::UnsafeCell;

/// Branching factor.
const DHEAP: usize = 4;
/// Index of the root. Indices below it are unused, so that a node's index equals its
/// `active` value with libev's numbering.
pub const HEAP0: usize = DHEAP - 1;

/// The watcher the padding slots point at: a real (static, never used) watcher, so that no
/// watcher a caller passes can equal a padding node, and [`Heap::holds`] needs no separate
/// "index below the root" test.
struct PadWatcher(UnsafeCell<ev_watcher>);
// SAFETY: nothing ever reads or writes the watcher; only its address is used.
unsafe impl Sync for PadWatcher {}
static PAD: PadWatcher = PadWatcher(UnsafeCell::new(ev_watcher {
    active: 0,
    pending: 0,
    priority: 0,
    data: core::ptr::null_mut(),
    cb: None,
}));

fn pad() -> WatcherPtr {
    // SAFETY: `PAD` is a valid watcher for the whole program; padding nodes are never
    // accessed as watchers.
    unsafe { WatcherPtr::from_raw(PAD.0.get()) }.unwrap()
}

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

#[inline]
fn first_child(k: usize) -> usize {
    DHEAP * (k - HEAP0) + HEAP0 + 1
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

    /// Is `w` the watcher at index `k`? (Checks a C-supplied `active` value before use.)
    #[inline]
    pub fn holds(&self, k: usize, w: WatcherPtr) -> bool {
        // (Indices below HEAP0 hold `pad()`, which is never `w`.)
        matches!(self.nodes.get(k), Some(n) if n.w == w)
    }

    /// Insert `w` with deadline `at`; sets `w.active` to its heap index.
    pub fn push(&mut self, w: WatcherPtr, at: f64) {
        if self.nodes.is_empty() {
            // Padding slots; never read as nodes. They stay when the heap empties again.
            for _ in 0..HEAP0 {
                self.nodes.push(Node { at: 0.0, w: pad() });
            }
        }
        let k = self.nodes.len();
        self.nodes.push(Node { at, w });
        // (upheap writes `w.active`.)
        self.upheap(k);
    }

    /// Remove the node at index `k` (a watcher's `active` value, checked with
    /// [`Heap::holds`]): the last node takes its place and moves up or down from there.
    #[inline]
    pub fn remove(&mut self, k: usize) {
        let Some(moved) = self.nodes.pop() else {
            return;
        };
        if k < self.nodes.len() {
            self.nodes[k] = moved;
            moved.w.set_active(k as i32);
            self.adjust(k);
        }
    }

    /// Change the deadline of node `k` and restore heap order.
    #[inline]
    pub fn set_at(&mut self, k: usize, at: f64) {
        self.nodes[k].at = at;
        self.adjust(k);
    }

    /// Change the cached deadline of node `k` without restoring order (used when every node
    /// is shifted by the same amount, or before a full [`Heap::rebuild`]).
    pub fn set_at_unordered(&mut self, k: usize, at: f64) {
        self.nodes[k].at = at;
    }

    /// Move node `k` up or down as its deadline requires; its watcher's `active` must
    /// already be `k`. A node that stays where it is (a leaf not smaller than its parent:
    /// most removals) is left alone without a call; libev's sift would only rewrite the
    /// same index.
    #[inline]
    pub fn adjust(&mut self, k: usize) {
        let at = self.nodes[k].at;
        // SAFETY: `parent(k) < k`, and `k` is in bounds (checked just above).
        if k > HEAP0 && at <= unsafe { self.nodes.get_unchecked(parent(k)) }.at {
            self.upheap(k);
        } else if first_child(k) < self.nodes.len() {
            self.downheap(k);
        }
    }

    /// Restore the heap property for all nodes (after arbitrary deadline changes).
    pub fn rebuild(&mut self) {
        for k in self.indices() {
            self.upheap(k);
        }
    }

    /// Sift node `k` up (libev's order: stop at a parent that is not later).
    fn upheap(&mut self, k: usize) {
        let len = self.nodes.len();
        assert!(k < len);
        let base = self.nodes.as_mut_ptr();
        // SAFETY: `base .. base + len` are the vector's initialised nodes and nothing else
        // refers to them during this function. `k < len` by the assert, and every parent
        // index is smaller than its child's, so all offsets stay below `len`.
        unsafe {
            let he = *base.add(k);
            let mut k = k;
            while k > HEAP0 {
                let p = parent(k);
                let pn = *base.add(p);
                if pn.at <= he.at {
                    break;
                }
                *base.add(k) = pn;
                pn.w.set_active(k as i32);
                k = p;
            }
            *base.add(k) = he;
            he.w.set_active(k as i32);
        }
    }

    /// Sift node `k` down. The common case (all four children present) compares them
    /// unrolled; the comparison order and the strict `<` are libev's, so equal deadlines end
    /// up where libev puts them. This loop is most of the cost of dispatching and stopping
    /// timers, hence raw element access: every index is checked against `end` once, where
    /// the algorithm needs the comparison anyway, instead of again at each access.
    fn downheap(&mut self, k: usize) {
        let end = self.nodes.len();
        assert!(k < end);
        let base = self.nodes.as_mut_ptr();
        // SAFETY: `base .. base + end` are the vector's initialised nodes and nothing else
        // refers to them during this function. Every offset used is below `end`: `k` by the
        // assert above and then because each new `k` is a child index just checked; children
        // `first .. first + DHEAP` are read only after `first + DHEAP <= end`, and in the
        // partial case only those below `end`. (`first` cannot overflow: k < end, and a
        // vector of 16-byte nodes holds far fewer than usize::MAX / 4 elements.)
        unsafe {
            let he = *base.add(k);
            let mut k = k;
            loop {
                let first = first_child(k);
                let c = base.add(first);
                let (mut mi, mut minat);
                if first + DHEAP <= end {
                    mi = 0;
                    minat = (*c).at;
                    let a1 = (*c.add(1)).at;
                    if a1 < minat {
                        mi = 1;
                        minat = a1;
                    }
                    let a2 = (*c.add(2)).at;
                    if a2 < minat {
                        mi = 2;
                        minat = a2;
                    }
                    let a3 = (*c.add(3)).at;
                    if a3 < minat {
                        mi = 3;
                        minat = a3;
                    }
                } else if first < end {
                    // The one node whose children straddle the end: 1 to 3 of them.
                    mi = 0;
                    minat = (*c).at;
                    if first + 1 < end && (*c.add(1)).at < minat {
                        mi = 1;
                        minat = (*c.add(1)).at;
                    }
                    if first + 2 < end && (*c.add(2)).at < minat {
                        mi = 2;
                        minat = (*c.add(2)).at;
                    }
                } else {
                    break;
                }
                if he.at <= minat {
                    break;
                }
                let moved = *c.add(mi);
                *base.add(k) = moved;
                moved.w.set_active(k as i32);
                k = first + mi;
            }
            *base.add(k) = he;
            he.w.set_active(k as i32);
        }
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
    fn holds_rejects_padding_and_strangers() {
        let mut ws = watchers(6);
        let mut h = Heap::default();
        let ps: Vec<WatcherPtr> = ws
            .iter_mut()
            // SAFETY: the watchers outlive the heap in this test.
            .map(|w| unsafe { WatcherPtr::from_raw(w as *mut ev_watcher) }.unwrap())
            .collect();
        for (i, p) in ps.iter().take(5).enumerate() {
            h.push(*p, (i * 7 % 5) as f64);
        }
        for p in &ps[..5] {
            assert!(h.holds(p.active() as usize, *p));
            for k in 0..HEAP0 {
                assert!(!h.holds(k, *p));
            }
        }
        assert!(!h.holds(HEAP0, ps[5]));
        assert!(!h.holds(100, ps[0]));
        while let Some(top) = h.top() {
            h.remove(top.w.active() as usize);
            h.verify().unwrap();
        }
        for k in 0..HEAP0 + 2 {
            assert!(!h.holds(k, ps[0]));
        }
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
