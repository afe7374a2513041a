//! epoll(7) backend.
//!
//! Semantics follow libev's epoll backend, because programs depend on them:
//! * changes are applied lazily, once per iteration; a change to an empty mask is *not*
//!   sent (no `EPOLL_CTL_DEL`): the fd is usually about to be closed, and closing removes it
//!   from the set for free. An unwanted event later prunes the registration with MOD/DEL.
//! * every registration carries a generation number in the upper 32 bits of the event data;
//!   an event whose generation is not the fd's current one is stale (an old registration of
//!   a reused fd number, or one made by another process sharing this epoll set after fork)
//!   and is never delivered. Seeing one makes the loop rebuild its epoll set.
//! * `EPERM` (regular files and some devices cannot be polled) puts the fd on an "always
//!   ready" list that reports its wanted events every iteration, as libev does.
//! * ADD/MOD errors follow epoll_ctl(2): ENOENT on MOD means the fd was closed and reopened
//!   (retry as ADD), EEXIST on ADD means it is still registered (MOD, or nothing if the mask
//!   is already right); EBADF and other errors stop the fd's watchers with `EV_ERROR`.

use super::{Anfd, FdTable, Fds, Hooks, PollOut};
use crate::core::loopfds::Members;
use crate::ffi::abi::{EV_READ, EV_WRITE};
use crate::sys;
use core::ffi::c_int;

/// `eflags` bit: the fd is on the always-ready list.
pub(super) const EPERM_LISTED: u8 = 1;
/// `emask` value used for always-ready fds (never a real kernel mask).
pub(super) const EMASK_EPERM: u8 = 0x80;

const EV_ZERO: libc::epoll_event = libc::epoll_event { events: 0, u64: 0 };

/// `epoll_ctl(epfd, op, fd, {mask, data})`; true on success (errno holds the error).
pub(super) fn ctl(epfd: c_int, op: c_int, fd: c_int, mask: u8, data: u64) -> bool {
    let mut ev = libc::epoll_event {
        events: epoll_mask(mask),
        u64: data,
    };
    // SAFETY: `ev` is a valid epoll_event; the kernel validates the fds.
    unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) == 0 }
}

/// Start a change of `fd`'s registration from `oev` to `nev` (non-zero) in its table entry:
/// the kernel mask becomes `nev` and the generation moves on. Returns the `epoll_ctl` op (MOD
/// for a mask change of a registered fd, else ADD: a re-registration whose EEXIST keeps the
/// old one, see [`recover`]) and the kernel mask before the change. Shared by the epoll
/// backend and io_uring's epoll strategies.
#[inline(always)]
pub(super) fn next_registration(a: &mut Anfd, oev: u8, nev: u8) -> (c_int, u8) {
    let oldmask = a.emask;
    a.emask = nev;
    a.egen = a.egen.wrapping_add(1);
    let op = if oev != 0 && oldmask != nev {
        libc::EPOLL_CTL_MOD
    } else {
        libc::EPOLL_CTL_ADD
    };
    (op, oldmask)
}

/// Change `fd`'s registration from `oev` to `nev` (non-zero) at once: [`next_registration`],
/// then `epoll_ctl`. The common failure, EEXIST of a re-registration with the mask the kernel
/// already has (a watcher stopped and restarted: the lazy stop left the registration in
/// place), is handled here as [`recover`] would: the old registration and its generation
/// stay valid. Any other failure is the caller's to handle: `Err((errno, kernel mask before
/// the change))`; the fd's entry then holds the new mask and generation (the event data
/// sent is [`registration_data`]).
#[inline(always)]
pub(super) fn apply(
    epfd: c_int,
    anfds: &mut FdTable,
    fd: c_int,
    oev: u8,
    nev: u8,
) -> Result<(), (c_int, u8)> {
    let a = &mut anfds[fd as usize];
    let (op, oldmask) = next_registration(a, oev, nev);
    if ctl(epfd, op, fd, nev, registration_data(a, fd)) {
        return Ok(());
    }
    let err = sys::errno();
    if err == libc::EEXIST && oldmask == nev {
        let a = &mut anfds[fd as usize];
        a.egen = a.egen.wrapping_sub(1);
        return Ok(());
    }
    Err((err, oldmask))
}

/// The event data of `fd`'s registration: `gen << 32 | fd`.
#[inline(always)]
pub(super) fn registration_data(a: &Anfd, fd: c_int) -> u64 {
    fd as u32 as u64 | ((a.egen as u64) << 32)
}

/// [`recover`] for the change [`apply`] could not make (the fd's entry holds its mask and
/// generation): a bad fd goes on `out.kill`, for its watchers to get `EV_ERROR`.
#[allow(clippy::too_many_arguments)]
pub(super) fn recover_applied(
    epfd: c_int,
    anfds: &mut FdTable,
    eperms: &mut Vec<c_int>,
    err: c_int,
    fd: c_int,
    oldmask: u8,
    nev: u8,
    out: &mut PollOut,
) {
    let data = registration_data(&anfds[fd as usize], fd);
    if let Recovery::Kill = recover(epfd, anfds, eperms, err, fd, oldmask, nev, data) {
        out.kill.push(fd);
    }
}

/// Outcome of [`recover`].
pub(super) enum Recovery {
    /// Nothing more to do (the kernel already had the right registration, or the fd went
    /// on the always-ready list).
    Done,
    /// A follow-up `epoll_ctl` registered the fd.
    Fixed,
    /// The fd is bad: stop its watchers with `EV_ERROR`.
    Kill,
}

/// The epoll error rules after an ADD/MOD of `fd` failed with `err` (epoll_ctl(2)), shared by
/// the epoll backend and io_uring's batched `EPOLL_CTL`: ENOENT on MOD means the fd was closed
/// and reopened (retry as ADD), EEXIST on ADD means it is still registered (MOD, or nothing if
/// the mask is already right — then the old generation stays valid), EPERM means the fd cannot
/// be polled (always-ready list); anything else is a bad fd.
#[allow(clippy::too_many_arguments)]
pub(super) fn recover(
    epfd: c_int,
    anfds: &mut FdTable,
    eperms: &mut Vec<c_int>,
    err: c_int,
    fd: c_int,
    oldmask: u8,
    mask: u8,
    data: u64,
) -> Recovery {
    match err {
        libc::ENOENT if ctl(epfd, libc::EPOLL_CTL_ADD, fd, mask, data) => return Recovery::Fixed,
        libc::EEXIST => {
            if oldmask == mask {
                let a = &mut anfds[fd as usize];
                a.egen = a.egen.wrapping_sub(1);
                return Recovery::Done;
            }
            if ctl(epfd, libc::EPOLL_CTL_MOD, fd, mask, data) {
                return Recovery::Fixed;
            }
        }
        libc::EPERM => {
            let a = &mut anfds[fd as usize];
            a.emask = EMASK_EPERM;
            if a.eflags & EPERM_LISTED == 0 {
                a.eflags |= EPERM_LISTED;
                eperms.push(fd);
            }
            return Recovery::Done;
        }
        _ => {}
    }
    // EBADF, ELOOP, EINVAL, ...: the application gave us a bad fd.
    anfds[fd as usize].emask = 0;
    Recovery::Kill
}

pub struct Epoll {
    /// The first of `m`'s numbers: the one waited on.
    fd: c_int,
    /// The instance's numbers (see `core::loopfds`). If the application closes the waited-on
    /// number or puts another file there, `epoll_wait` fails (EBADF/EINVAL) and a new
    /// instance is built; only numbers that still hold our instance are ever closed.
    m: Members,
    events: Vec<libc::epoll_event>,
    eperms: Vec<c_int>,
}

fn create() -> Option<Members> {
    // SAFETY: no pointers involved.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    Members::new(fd)
}

impl Epoll {
    pub fn available() -> bool {
        cfg!(target_os = "linux")
    }

    pub fn new() -> Option<Epoll> {
        let m = create()?;
        Some(Epoll {
            fd: m.fds[0],
            m,
            events: vec![EV_ZERO; 64],
            eperms: Vec::new(),
        })
    }

    pub fn fd(&self) -> c_int {
        self.fd
    }

    /// Replace the epoll instance (after fork, or after a stale event showed that our set
    /// was changed by someone else). Only this process's descriptor is closed: a parent
    /// sharing the old instance keeps it untouched.
    pub fn recreate(&mut self) {
        self.m.release();
        loop {
            if let Some(m) = create() {
                self.m = m;
                self.fd = m.fds[0];
                break;
            }
            crate::ffi::globals::syserr(c"(libev) epoll_create");
        }
        self.eperms.clear();
    }

    pub fn modify(&mut self, anfds: &mut FdTable, fd: c_int, oev: u8, nev: u8, out: &mut PollOut) {
        if nev == 0 {
            // Lazy: keep the registration; see the module comment.
            return;
        }
        let Err((err, oldmask)) = apply(self.fd, anfds, fd, oev, nev) else {
            return;
        };
        if (err == libc::EBADF || err == libc::EINVAL) && !self.m.intact() {
            // Our own epoll fd is gone, not the application's fd: rebuild the set (which
            // re-registers every fd) instead of failing the fd's watchers.
            out.rebuild = true;
            return;
        }
        recover_applied(self.fd, anfds, &mut self.eperms, err, fd, oldmask, nev, out);
    }

    pub fn poll(&mut self, fds: Fds, mut timeout: f64, out: &mut PollOut, hooks: &Hooks) {
        if !self.eperms.is_empty() {
            timeout = 0.0;
        }
        // (`events` is kept initialised over its whole length: no length bookkeeping.)
        let cap = self.events.len();
        hooks.release();
        // SAFETY: the kernel writes at most `cap` entries into the buffer.
        let n = unsafe {
            libc::epoll_wait(
                self.fd,
                self.events.as_mut_ptr(),
                cap as c_int,
                wait_ms(timeout),
            )
        };
        if n < 0 {
            let err = sys::errno();
            hooks.acquire();
            self.wait_failed(err, out);
            return;
        }
        hooks.acquire();
        // SAFETY: after `acquire`: this thread owns the loop again (`Fds::get`).
        let anfds = unsafe { fds.get() };
        let n = n as usize;
        if n != 0 {
            // Room for every event up front: the loop then writes without capacity checks.
            out.ready.reserve(n);
            let base = out.ready.as_mut_ptr();
            let mut k = out.ready.len();
            for ev in &self.events[..n] {
                let data = ev.u64;
                let fd = data as u32 as usize;
                let got = event_mask(ev.events);
                let Some(a) = anfds.get_mut(fd) else {
                    out.rebuild = true;
                    continue;
                };
                if (data >> 32) as u32 != a.egen {
                    // Stale: an old registration (see module comment).
                    out.rebuild = true;
                    continue;
                }
                if got & !a.events != 0 && !prune(self.fd, a, fd as c_int, data) {
                    out.rebuild = true;
                    continue;
                }
                // SAFETY: at most `n` writes into the `n` slots reserved past the length;
                // nothing else touches `out.ready` in this loop.
                unsafe { base.add(k).write((fd as i32, got as i32)) };
                k += 1;
            }
            // SAFETY: the slots up to `k` were initialised (before the loop or by it).
            unsafe { out.ready.set_len(k) };
        }
        if n == cap {
            // Full buffer: more may be ready; grow for the next wait.
            let next = super::next_event_cap(core::mem::size_of::<libc::epoll_event>(), cap);
            self.events.resize(next, EV_ZERO);
        }
        if !self.eperms.is_empty() {
            report_eperms(&mut self.eperms, anfds, out);
        }
    }

    /// `epoll_wait` failed (errno set).
    #[cold]
    #[inline(never)]
    fn wait_failed(&mut self, err: c_int, out: &mut PollOut) {
        match err {
            libc::EINTR => {}
            // Our epoll fd was closed behind our back (EBADF) or its number now names
            // another kind of file (EINVAL): build a new instance and re-register
            // every fd at the next iteration. Nothing was lost: readiness is level-
            // triggered and will be reported by the new instance.
            libc::EBADF | libc::EINVAL => out.rebuild = true,
            _ => crate::ffi::globals::syserr(c"(libev) epoll_wait"),
        }
    }
}

/// Always-ready fds (EPERM) report what their watchers want; the ones no longer refused or
/// watched leave the list. Shared with io_uring's epoll strategies.
#[cold]
#[inline(never)]
pub(super) fn report_eperms(eperms: &mut Vec<c_int>, anfds: &mut FdTable, out: &mut PollOut) {
    // From the end, as libev walks its list (the callbacks then run in libev's order;
    // found by review with a differential probe); a removed entry takes the last one,
    // which was already visited.
    let mut i = eperms.len();
    while i > 0 {
        i -= 1;
        let fd = eperms[i];
        let a = &mut anfds[fd as usize];
        if a.emask == EMASK_EPERM && a.events != 0 {
            out.ready.push((fd, a.events as i32));
        } else {
            a.eflags &= !EPERM_LISTED;
            eperms.swap_remove(i);
        }
    }
}

/// The kernel mask of `fd` is wider than its watchers want (a lazy change): narrow it now.
/// False if the kernel refused. Out of line: rare, and inline it costs the per-event loop
/// register spills.
#[cold]
#[inline(never)]
fn prune(epfd: c_int, a: &mut Anfd, fd: c_int, data: u64) -> bool {
    let want = a.events;
    a.emask = want;
    let op = if want != 0 {
        libc::EPOLL_CTL_MOD
    } else {
        libc::EPOLL_CTL_DEL
    };
    ctl(epfd, op, fd, want, data)
}

impl Drop for Epoll {
    fn drop(&mut self) {
        self.m.release();
    }
}

/// [`sys::timeout_ms`] (same value: libev's rounding), computed with a clamp and an
/// unchecked conversion: the saturating cast's range and NaN tests cost five instructions
/// on every wait.
#[inline]
pub(super) fn wait_ms(t: f64) -> c_int {
    if t > 0.0 {
        let ms = t * 1e3 + 0.9999;
        // (Written as a select so that it compiles to one `minsd`.)
        let ms = if ms < i32::MAX as f64 {
            ms
        } else {
            i32::MAX as f64
        };
        // SAFETY: `0.9999 < ms <= i32::MAX` (a NaN `t` fails `t > 0.0`, and an infinite one
        // is clamped), so the truncated value is representable.
        return unsafe { ms.to_int_unchecked::<c_int>() };
    }
    0
}

/// `EV_READ`/`EV_WRITE` (and the loop's private [`super::EDGE`]) → epoll event bits (shared
/// with the io_uring backend).
/// A table lookup: it runs for every interest change, and the three bit tests it replaces
/// cost four more instructions per change (callgrind, bench_churn -k 10).
#[inline]
pub(super) fn epoll_mask(m: u8) -> u32 {
    EPOLL_MASKS[(m & 0x7f) as usize]
}

/// [`epoll_mask`] for every value of the low seven bits of a mask (`EV__IOFDSET`, 0x80, is
/// never part of one).
static EPOLL_MASKS: [u32; 128] = {
    let mut t = [0u32; 128];
    let mut m = 0;
    while m < 128 {
        let mut e = 0u32;
        if m & EV_READ != 0 {
            e |= libc::EPOLLIN as u32;
        }
        if m & EV_WRITE != 0 {
            e |= libc::EPOLLOUT as u32;
        }
        if m & super::EDGE as i32 != 0 {
            e |= libc::EPOLLET as u32;
        }
        t[m as usize] = e;
        m += 1;
    }
    t
};

/// Errors and hang-ups wake both readers and writers, as in libev.
const fn event_mask_of(e: u32) -> u8 {
    let e = e as i32;
    let mut m = 0;
    if e & (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) != 0 {
        m |= EV_WRITE;
    }
    if e & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) != 0 {
        m |= EV_READ;
    }
    m as u8
}

/// The epoll bits [`event_mask_of`] looks at (all below 32).
const MASK_BITS: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// [`event_mask_of`] for every combination of [`MASK_BITS`]: one table load per event.
const EVENT_MASKS: [u8; 32] = {
    let mut t = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        t[i] = event_mask_of(i as u32 & MASK_BITS);
        i += 1;
    }
    t
};

/// Errors and hang-ups wake both readers and writers, as in libev.
#[inline]
pub(super) fn event_mask(e: u32) -> u8 {
    EVENT_MASKS[(e & MASK_BITS) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_ms_matches_timeout_ms() {
        for t in [
            -1.0,
            0.0,
            1e-9,
            1e-4,
            0.001,
            0.0015,
            0.5,
            1.0,
            59.743,
            1e6,
            2.1e6,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            assert_eq!(wait_ms(t), sys::timeout_ms(t), "{t}");
        }
    }

    #[test]
    fn event_mask_table_matches_the_rule() {
        for e in 0..=u16::MAX as u32 {
            let e = e | (e << 16);
            assert_eq!(event_mask(e), event_mask_of(e), "{e:#x}");
        }
    }
}
