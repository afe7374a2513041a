//! poll(2) backend: portable, no kernel object, so nothing to rebuild after fork.
//!
//! A dense `pollfd` array plus an fd → index map. `POLLNVAL` (fd not open) stops the fd's
//! watchers with `EV_ERROR` (libev asserts first; we deliver the error like libev built
//! without assertions). EBADF from poll itself makes the loop probe every fd with fcntl and
//! kill the bad ones; ENOMEM kills the highest fd (libev's "fd_enomem").

use super::{Fds, Hooks, PollOut};
use crate::ffi::abi::{EV_READ, EV_WRITE};
use crate::sys;
use core::ffi::c_int;

#[derive(Default)]
pub struct Poll {
    polls: Vec<libc::pollfd>,
    /// fd → index in `polls`, or -1.
    idx: Vec<i32>,
}

impl Poll {
    pub fn new() -> Poll {
        Poll::default()
    }

    pub fn modify(&mut self, fd: c_int, oev: u8, nev: u8) {
        if oev == nev {
            return;
        }
        let fdu = fd as usize;
        if self.idx.len() <= fdu {
            self.idx.resize(fdu + 1, -1);
        }
        let mut i = self.idx[fdu];
        if i < 0 {
            if nev == 0 {
                return;
            }
            i = self.polls.len() as i32;
            self.idx[fdu] = i;
            self.polls.push(libc::pollfd {
                fd,
                events: 0,
                revents: 0,
            });
        }
        let i = i as usize;
        if nev != 0 {
            let n = nev as i32;
            self.polls[i].events = (if n & EV_READ != 0 { libc::POLLIN } else { 0 })
                | (if n & EV_WRITE != 0 { libc::POLLOUT } else { 0 });
        } else {
            self.idx[fdu] = -1;
            self.polls.swap_remove(i);
            if i < self.polls.len() {
                let moved = self.polls[i].fd as usize;
                self.idx[moved] = i as i32;
            }
        }
    }

    pub fn poll(&mut self, fds: Fds, timeout: f64, out: &mut PollOut, hooks: &Hooks) {
        hooks.release();
        // SAFETY: `polls` is a valid array of `len` pollfds.
        let mut res = unsafe {
            libc::poll(
                self.polls.as_mut_ptr(),
                self.polls.len() as libc::nfds_t,
                sys::timeout_ms(timeout),
            )
        };
        let err = if res < 0 { sys::errno() } else { 0 };
        hooks.acquire();
        if res < 0 {
            // SAFETY: after `acquire`: this thread owns the loop again (`Fds::get`).
            let anfds = unsafe { fds.get() };
            match err {
                libc::EINTR => {}
                libc::EBADF => {
                    for p in &self.polls {
                        // SAFETY: F_GETFD on any int is harmless.
                        if unsafe { libc::fcntl(p.fd, libc::F_GETFD) } < 0
                            && sys::errno() == libc::EBADF
                        {
                            out.kill.push(p.fd);
                        }
                    }
                }
                libc::ENOMEM if !crate::ffi::globals::has_syserr_cb() => {
                    // Free some memory the only way we can: drop the highest fd.
                    if let Some((fd, _)) = anfds.iter().rev().find(|(_, a)| a.events != 0) {
                        out.kill.push(fd as i32);
                    }
                }
                _ => crate::ffi::globals::syserr(c"(libev) poll"),
            }
            return;
        }
        for p in &self.polls {
            if res <= 0 {
                break;
            }
            if p.revents == 0 {
                continue;
            }
            res -= 1;
            let r = p.revents;
            if r & libc::POLLNVAL != 0 {
                // SAFETY: after `acquire`: this thread owns the loop again (`Fds::get`).
                let changed = unsafe { fds.get() }
                    .get(p.fd as usize)
                    .is_some_and(|a| a.reify != 0)
                    // SAFETY: F_GETFD on any int is harmless.
                    && unsafe { libc::fcntl(p.fd, libc::F_GETFD) } != -1;
                if !changed {
                    out.kill.push(p.fd);
                }
                // Else the fd's watchers changed between the release and acquire hooks (another
                // thread stopped them, closed the fd, opened another file on its number and
                // started watchers on it): this POLLNVAL may be the closed file's, and killing
                // would give the new file's watchers a stale EV_ERROR (libev asserts here, or
                // kills them). Only when the number is open again (libev's own EBADF test): a
                // closed fd whose watchers change in every wait would otherwise never be
                // killed, and the loop would spin (review). The fd is polled again after its
                // change is applied (t_hooks_window).
                continue;
            }
            let mut m = 0;
            if r & (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) != 0 {
                m |= EV_WRITE;
            }
            if r & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0 {
                m |= EV_READ;
            }
            out.ready.push((p.fd, m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_map_stays_consistent() {
        let mut p = Poll::new();
        for fd in [5, 9, 2, 7] {
            p.modify(fd, 0, 1);
        }
        p.modify(9, 1, 0);
        p.modify(5, 1, 3);
        for (i, pfd) in p.polls.iter().enumerate() {
            assert_eq!(p.idx[pfd.fd as usize], i as i32);
        }
        assert_eq!(p.idx[9], -1);
        assert_eq!(p.polls.len(), 3);
        let five = &p.polls[p.idx[5] as usize];
        assert_eq!(five.events, libc::POLLIN | libc::POLLOUT);
    }
}
