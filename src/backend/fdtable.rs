//! The loop's per-fd table ([`Anfd`] per fd number), in two dense parts.
//!
//! libev keeps one array indexed by fd. evring's own objects (wakeup fd, signalfd, timerfd,
//! epoll fd) live at protected high numbers (~512 and up, [`crate::sys::protect_fd`]), so a
//! single array would reach fd ~520 in every loop: 8 KiB allocated and zero-filled per loop
//! even when the application watches three sockets. In a forked pgagroal worker that is
//! three page faults of a few µs each (`perf record -e page-faults` on bench_fork's child).
//!
//! So the table is `lo` (fds `0..lo.len()`, dense, the application's fds) plus `hi` (fds
//! `hi_base..hi_base + hi.len()`, the loop's own high numbers), with a gap in between that
//! holds no entry. The gap exists only while every application fd is below it: the first
//! application watcher on an fd at or above `hi_base` merges `hi` into `lo`, and the table
//! is then one dense array as in libev (a process with that many fds pays the 8 KiB anyway,
//! and its lookups stay on the fast path).
//!
//! Lookups of `lo` fds cost what a slice lookup costs (one compare); `hi` lookups (the
//! loop's internal watchers, which fire rarely) take an out-of-line call. A gap fd has no
//! entry: `get`/`get_mut` return `None`, indexing aborts like an out-of-range slice index.

use super::Anfd;
use core::ops::{Index, IndexMut};

#[derive(Default)]
pub struct FdTable {
    lo: Vec<Anfd>,
    hi: Vec<Anfd>,
    /// First fd held by `hi` (meaningless while `hi` is empty). Invariant: `lo.len() <=
    /// hi_base` while `hi` is not empty.
    hi_base: usize,
}

/// When an internal number is at least this far above the dense part, it goes into `hi`
/// (below, the dense part just grows: 64 entries are 1 KiB).
const SPARSE_MIN: usize = 64;

impl FdTable {
    /// A dense table of `n` default entries (tests).
    pub fn with_len(n: usize) -> FdTable {
        FdTable {
            lo: vec![Anfd::default(); n],
            hi: Vec::new(),
            hi_base: 0,
        }
    }

    /// Number of entries of the dense part: fds below it are in the table.
    #[inline(always)]
    pub fn lo_len(&self) -> usize {
        self.lo.len()
    }

    /// One past the highest fd that has an entry (fds in the gap below it have none).
    pub fn end(&self) -> usize {
        if self.hi.is_empty() {
            self.lo.len()
        } else {
            self.hi_base + self.hi.len()
        }
    }

    #[inline(always)]
    pub fn get(&self, fd: usize) -> Option<&Anfd> {
        if fd < self.lo.len() {
            // SAFETY: in bounds (checked just above).
            Some(unsafe { self.lo.get_unchecked(fd) })
        } else {
            self.get_hi(fd)
        }
    }

    #[inline(always)]
    pub fn get_mut(&mut self, fd: usize) -> Option<&mut Anfd> {
        if fd < self.lo.len() {
            // SAFETY: in bounds (checked just above).
            Some(unsafe { self.lo.get_unchecked_mut(fd) })
        } else {
            self.get_hi_mut(fd)
        }
    }

    /// The entry of a dense-part fd without a bounds check.
    ///
    /// # Safety
    /// `fd < self.lo_len()`.
    #[inline(always)]
    pub unsafe fn lo_unchecked_mut(&mut self, fd: usize) -> &mut Anfd {
        // SAFETY: the caller's contract.
        unsafe { self.lo.get_unchecked_mut(fd) }
    }

    #[cold]
    #[inline(never)]
    fn get_hi(&self, fd: usize) -> Option<&Anfd> {
        self.hi.get(fd.checked_sub(self.hi_base)?)
    }

    #[cold]
    #[inline(never)]
    fn get_hi_mut(&mut self, fd: usize) -> Option<&mut Anfd> {
        self.hi.get_mut(fd.checked_sub(self.hi_base)?)
    }

    /// Every entry with its fd, ascending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (usize, &Anfd)> {
        let base = self.hi_base;
        self.lo
            .iter()
            .enumerate()
            .chain(self.hi.iter().enumerate().map(move |(i, a)| (base + i, a)))
    }

    /// Every entry with its fd, ascending.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (usize, &mut Anfd)> {
        let base = self.hi_base;
        self.lo.iter_mut().enumerate().chain(
            self.hi
                .iter_mut()
                .enumerate()
                .map(move |(i, a)| (base + i, a)),
        )
    }

    /// Make sure `fd` (an application's) has an entry, in the dense part. Returns the new
    /// length of the dense part.
    pub fn cover(&mut self, fd: usize) -> usize {
        if fd >= self.lo.len() {
            if !self.hi.is_empty() && fd >= self.hi_base {
                self.merge(fd + 1);
            } else {
                self.lo.resize(fd + 1, Anfd::default());
            }
        }
        self.lo.len()
    }

    /// Make sure `fd` (one of the loop's own numbers) has an entry, with room for `slack`
    /// more numbers right above it (the loop's other objects come next). High numbers go
    /// into the sparse part, each growth in one exact step.
    pub fn cover_internal(&mut self, fd: usize, slack: usize) {
        if self.get(fd).is_some() {
            return;
        }
        if self.hi.is_empty() {
            if fd < self.lo.len() + SPARSE_MIN {
                let n = fd + 1 + slack;
                self.lo.reserve_exact(n - self.lo.len());
                self.lo.resize(n, Anfd::default());
            } else {
                self.hi_base = fd;
                self.hi = vec![Anfd::default(); 1 + slack];
            }
        } else if fd < self.hi_base {
            if fd < self.lo.len() + SPARSE_MIN {
                // Close to the dense part: one dense table from here on.
                self.merge(fd + 1);
            } else {
                // Below the sparse part (an object made after another's number was freed):
                // the sparse part starts at `fd` now.
                let mut hi = vec![Anfd::default(); self.hi_base - fd];
                hi.extend_from_slice(&self.hi);
                self.hi = hi;
                self.hi_base = fd;
            }
        } else {
            let n = fd - self.hi_base + 1 + slack;
            self.hi.reserve_exact(n - self.hi.len());
            self.hi.resize(n, Anfd::default());
        }
    }

    /// One dense table covering at least `n` fds: the sparse part moves into the dense one.
    #[cold]
    fn merge(&mut self, n: usize) {
        let n = n.max(self.end());
        let base = self.hi_base;
        self.lo.reserve_exact(n - self.lo.len());
        self.lo.resize(n, Anfd::default());
        self.lo[base..base + self.hi.len()].copy_from_slice(&self.hi);
        self.hi = Vec::new();
        self.hi_base = 0;
    }
}

impl Index<usize> for FdTable {
    type Output = Anfd;
    #[inline(always)]
    fn index(&self, fd: usize) -> &Anfd {
        match self.get(fd) {
            Some(a) => a,
            None => out_of_range(fd),
        }
    }
}

impl IndexMut<usize> for FdTable {
    #[inline(always)]
    fn index_mut(&mut self, fd: usize) -> &mut Anfd {
        match self.get_mut(fd) {
            Some(a) => a,
            None => out_of_range(fd),
        }
    }
}

#[cold]
#[inline(never)]
fn out_of_range(fd: usize) -> ! {
    crate::sys::fatal(&format!(
        "evring: internal error: fd {fd} has no entry in the fd table"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(t: &mut FdTable, fd: usize) {
        t[fd].egen = fd as u32 + 1;
    }

    fn check(t: &FdTable, fds: &[usize]) {
        for &fd in fds {
            assert_eq!(t.get(fd).map(|a| a.egen), Some(fd as u32 + 1), "fd {fd}");
        }
        let seen: Vec<usize> = t
            .iter()
            .filter(|(_, a)| a.egen != 0)
            .map(|(f, _)| f)
            .collect();
        let mut want = fds.to_vec();
        want.sort_unstable();
        assert_eq!(seen, want);
        for (fd, a) in t.iter() {
            assert!(a.egen == 0 || a.egen == fd as u32 + 1);
        }
    }

    #[test]
    fn internal_numbers_go_sparse_and_merge_on_a_high_application_fd() {
        let mut t = FdTable::default();
        t.cover(3);
        mark(&mut t, 3);
        t.cover_internal(518, 9);
        mark(&mut t, 518);
        assert_eq!(t.lo_len(), 4);
        assert!(t.get(100).is_none() && t.get(517).is_none());
        assert_eq!(t.end(), 528);
        // Another object right above, and one below the sparse part (a freed number).
        t.cover_internal(530, 9);
        mark(&mut t, 530);
        t.cover_internal(512, 9);
        mark(&mut t, 512);
        assert_eq!(t.lo_len(), 4);
        check(&t, &[3, 512, 518, 530]);
        // An application fd below the gap's end keeps the table split.
        t.cover(40);
        mark(&mut t, 40);
        assert_eq!(t.lo_len(), 41);
        check(&t, &[3, 40, 512, 518, 530]);
        // One at or above the sparse part makes the table dense.
        t.cover(600);
        mark(&mut t, 600);
        assert_eq!(t.lo_len(), 601);
        assert_eq!(t.end(), 601);
        check(&t, &[3, 40, 512, 518, 530, 600]);
    }

    #[test]
    fn low_internal_numbers_stay_dense() {
        let mut t = FdTable::default();
        t.cover(5);
        t.cover_internal(9, 3);
        assert_eq!(t.lo_len(), 13);
        assert_eq!(t.end(), 13);
        mark(&mut t, 9);
        // Close below an existing sparse part: merged.
        let mut u = FdTable::default();
        u.cover_internal(500, 2);
        mark(&mut u, 500);
        u.cover_internal(30, 2);
        mark(&mut u, 30);
        assert_eq!(u.lo_len(), 503);
        check(&u, &[30, 500]);
    }
}
