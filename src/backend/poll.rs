//! poll(2) backend: portable, no kernel object, so nothing to rebuild after fork.
//!
//! A dense `pollfd` array; each polled fd's index in it is kept in its fd-table entry. `POLLNVAL` (fd not open) stops the fd's
//! watchers with `EV_ERROR` (libev asserts first; we deliver the error like libev built
//! without assertions). EBADF from poll itself makes the loop probe every fd with fcntl and
//! kill the bad ones; ENOMEM kills the highest fd (libev's "fd_enomem").

use super::fdtable::FdTable;
use super::{Fds, Hooks, PollOut};
use crate::ffi::abi::{EV_READ, EV_WRITE};
use crate::sys;
use core::ffi::c_int;

/// The index of a polled fd's `pollfd` lives in its fd-table entry, in [`super::Anfd::egen`]
/// (index + 1; 0 = not polled): the generation field of the backends that register with a
/// kernel object, unused by poll, and never reset while poll is the backend (poll is never
/// rebuilt). A map of its own, indexed by fd, reached the loop's own fds at protected high
/// numbers (~512, see `fdtable`) in every loop: 2-4 KiB per loop, which took a new poll loop
/// past t_loop_footprint's 6 KiB.
#[derive(Default)]
pub struct Poll {
    polls: Vec<libc::pollfd>,
}

impl Poll {
    pub fn new() -> Poll {
        Poll::default()
    }

    pub fn modify(&mut self, anfds: &mut FdTable, fd: c_int, oev: u8, nev: u8) {
        if oev == nev {
            return;
        }
        let slot = anfds[fd as usize].egen;
        let i = if slot == 0 {
            if nev == 0 {
                return;
            }
            self.polls.push(libc::pollfd {
                fd,
                events: 0,
                revents: 0,
            });
            let i = self.polls.len() - 1;
            anfds[fd as usize].egen = i as u32 + 1;
            i
        } else {
            slot as usize - 1
        };
        if nev != 0 {
            let n = nev as i32;
            self.polls[i].events = (if n & EV_READ != 0 { libc::POLLIN } else { 0 })
                | (if n & EV_WRITE != 0 { libc::POLLOUT } else { 0 });
        } else {
            anfds[fd as usize].egen = 0;
            self.polls.swap_remove(i);
            if i < self.polls.len() {
                let moved = self.polls[i].fd as usize;
                anfds[moved].egen = i as u32 + 1;
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
        let mut t = FdTable::with_len(16);
        for fd in [5, 9, 2, 7] {
            p.modify(&mut t, fd, 0, 1);
        }
        p.modify(&mut t, 9, 1, 0);
        p.modify(&mut t, 5, 1, 3);
        for (i, pfd) in p.polls.iter().enumerate() {
            assert_eq!(t[pfd.fd as usize].egen, i as u32 + 1);
        }
        assert_eq!(t[9].egen, 0);
        assert_eq!(p.polls.len(), 3);
        let five = &p.polls[t[5].egen as usize - 1];
        assert_eq!(five.events, libc::POLLIN | libc::POLLOUT);
        // Removing the last one moves nothing; re-adding appends.
        p.modify(&mut t, 7, 1, 0);
        p.modify(&mut t, 9, 0, 2);
        assert_eq!(p.polls[t[9].egen as usize - 1].fd, 9);
        assert_eq!(p.polls[t[9].egen as usize - 1].events, libc::POLLOUT);
    }
}
