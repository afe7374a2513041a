//! select(2) backend: the most portable one, kept because libev offers it (`LIBEV_FLAGS=1`,
//! pgagroal's `libev = select`).
//!
//! The interest sets are our own growable bit vectors, not `fd_set`, so fds above
//! `FD_SETSIZE` work on Linux (the kernel reads `nfds` bits), as with libev.

use super::{Fds, Hooks, PollOut};
use crate::ffi::abi::{EV_READ, EV_WRITE};
use crate::sys;
use core::ffi::c_int;

type Word = libc::c_ulong;
const BITS: usize = Word::BITS as usize;

#[derive(Default)]
pub struct Select {
    ri: Vec<Word>,
    wi: Vec<Word>,
    ro: Vec<Word>,
    wo: Vec<Word>,
    /// Highest fd with interest + 1.
    maxfd: usize,
}

impl Select {
    pub fn new() -> Select {
        Select::default()
    }

    pub fn modify(&mut self, fd: c_int, oev: u8, nev: u8) {
        if oev == nev {
            return;
        }
        let fd = fd as usize;
        let (word, bit) = (fd / BITS, (fd % BITS) as u32);
        if self.ri.len() <= word {
            self.ri.resize(word + 1, 0);
            self.wi.resize(word + 1, 0);
        }
        let mask: Word = 1 << bit;
        let n = nev as i32;
        if n & EV_READ != 0 {
            self.ri[word] |= mask;
        } else {
            self.ri[word] &= !mask;
        }
        if n & EV_WRITE != 0 {
            self.wi[word] |= mask;
        } else {
            self.wi[word] &= !mask;
        }
        if nev != 0 && fd + 1 > self.maxfd {
            self.maxfd = fd + 1;
        }
    }

    pub fn poll(&mut self, fds: Fds, timeout: f64, out: &mut PollOut, hooks: &Hooks) {
        let words = self.maxfd.div_ceil(BITS);
        self.ro.clear();
        self.ro
            .extend_from_slice(&self.ri[..words.min(self.ri.len())]);
        self.wo.clear();
        self.wo
            .extend_from_slice(&self.wi[..words.min(self.wi.len())]);
        let t = timeout.max(0.0);
        let mut tv = libc::timeval {
            tv_sec: t as libc::time_t,
            tv_usec: ((t - t.floor()) * 1e6) as libc::suseconds_t,
        };
        let (rp, wp) = if words == 0 {
            (core::ptr::null_mut(), core::ptr::null_mut())
        } else {
            (
                self.ro.as_mut_ptr() as *mut libc::fd_set,
                self.wo.as_mut_ptr() as *mut libc::fd_set,
            )
        };
        hooks.release();
        // SAFETY: the vectors hold at least `maxfd` bits, which is all the kernel reads.
        let res =
            unsafe { libc::select(self.maxfd as c_int, rp, wp, core::ptr::null_mut(), &mut tv) };
        let err = if res < 0 { sys::errno() } else { 0 };
        hooks.acquire();
        if res < 0 {
            // SAFETY: after `acquire`: this thread owns the loop again (`Fds::get`).
            let anfds = unsafe { fds.get() };
            match err {
                libc::EINTR => {}
                libc::EBADF => {
                    // Queued highest fd first: the EV_ERROR callbacks then run in libev's
                    // order (found by review with a differential probe).
                    for (fd, a) in anfds.iter().rev() {
                        // SAFETY: F_GETFD on any int is harmless.
                        if a.events != 0
                            && unsafe { libc::fcntl(fd as c_int, libc::F_GETFD) } < 0
                            && sys::errno() == libc::EBADF
                        {
                            out.kill.push(fd as i32);
                        }
                    }
                }
                libc::ENOMEM if !crate::ffi::globals::has_syserr_cb() => {
                    if let Some((fd, _)) = anfds.iter().rev().find(|(_, a)| a.events != 0) {
                        out.kill.push(fd as i32);
                    }
                }
                _ => crate::ffi::globals::syserr(c"(libev) select"),
            }
            return;
        }
        if res == 0 {
            return;
        }
        // From the highest fd down, as libev's select backend scans (words and bits
        // descending): with the LIFO pending queue, the lowest fd's callbacks then run first,
        // as with libev (found by a differential test: two readable pipes ran in the opposite
        // order).
        for word in (0..words).rev() {
            let r = self.ro[word];
            let w = self.wo[word];
            let mut any = r | w;
            while any != 0 {
                let bit = (Word::BITS - 1 - any.leading_zeros()) as usize;
                let m: Word = 1 << bit;
                any &= !m;
                let mut ev = 0;
                if r & m != 0 {
                    ev |= EV_READ;
                }
                if w & m != 0 {
                    ev |= EV_WRITE;
                }
                out.ready.push(((word * BITS + bit) as i32, ev));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::FdTable;

    #[test]
    fn reports_ready_pipe_and_clears_interest() {
        let mut fds = [0; 2];
        // SAFETY: valid out-array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let mut s = Select::new();
        let mut anfds = FdTable::with_len(fds[1] as usize + 1);
        s.modify(fds[0], 0, EV_READ as u8);
        s.modify(fds[1], 0, EV_WRITE as u8);
        anfds[fds[0] as usize].events = EV_READ as u8;
        anfds[fds[1] as usize].events = EV_WRITE as u8;
        let mut out = PollOut::default();
        s.poll(Fds::new(&mut anfds), 0.0, &mut out, &Hooks::NONE);
        assert_eq!(out.ready, vec![(fds[1], EV_WRITE)]);
        // SAFETY: writing one byte from a valid buffer.
        assert_eq!(
            unsafe { libc::write(fds[1], b"x".as_ptr() as *const libc::c_void, 1) },
            1
        );
        out.ready.clear();
        s.poll(Fds::new(&mut anfds), 0.0, &mut out, &Hooks::NONE);
        // Highest fd first, as libev's select backend scans.
        assert_eq!(out.ready, vec![(fds[1], EV_WRITE), (fds[0], EV_READ)]);
        s.modify(fds[1], EV_WRITE as u8, 0);
        out.ready.clear();
        s.poll(Fds::new(&mut anfds), 0.0, &mut out, &Hooks::NONE);
        assert_eq!(out.ready, vec![(fds[0], EV_READ)]);
        sys::close(fds[0]);
        sys::close(fds[1]);
    }
}
