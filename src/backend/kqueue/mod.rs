//! kqueue(2) backend (FreeBSD, DragonFly, NetBSD, OpenBSD, macOS).
//!
//! Split in three so that the logic is built and tested on Linux, where no kqueue exists:
//! * this module, the **pure part**: building the change list from `modify` calls,
//!   interpreting returned events and `EV_ERROR` entries, generation tags, fork state. It
//!   talks to the kernel only through the [`Kernel`] trait, in our own portable [`KEvent`]
//!   format, and is unit-tested (`tests.rs`) against a fake kernel that models kqueue;
//! * `sys.rs` (BSD only): [`Kernel`] for the real `kqueue()`/`kevent()` calls;
//! * `os.rs` (BSD only): the one place that knows each BSD's `struct kevent` field types.
//!
//! Semantics follow libev's `ev_kqueue.c`, plus the lazy delete and the generation guard of
//! our epoll backend (`epoll.rs`):
//! * level-triggered `EVFILT_READ`/`EVFILT_WRITE` (no `EV_CLEAR`), added with
//!   `EV_ADD | EV_ENABLE` and libev's `NOTE_EOF` fflag (0 where the OS has none);
//! * changes are only queued by `modify`; the whole list goes to the kernel with the wait,
//!   in the next `kevent()` call, with a nanosecond `timespec` timeout. No `EV_RECEIPT`: with
//!   it FreeBSD returns at once without waiting whenever the change list is not empty;
//! * every re-registration re-adds all wanted filters (libev: "to detect close/reopen
//!   reliably"), with a new generation number in `udata`. An event whose `udata` is not the
//!   fd's current generation (or whose fd we never had) is stale: it is not delivered and the
//!   loop rebuilds its queue, as with epoll. `udata` holds only the 32-bit generation, so it
//!   fits the pointer-sized `udata` of 32-bit BSDs; `ident` is the fd;
//! * a change to an empty mask sends nothing: the fd is usually about to be closed, and
//!   closing drops its filters (an `EV_DELETE` of a closed fd would fail, and on FreeBSD any
//!   error entry makes `kevent()` return at once instead of waiting). An event for a filter
//!   no watcher wants is not delivered; its `EV_DELETE` goes with the next `kevent()` call.
//!   Narrowing to a smaller non-empty mask deletes the dropped filter at once (batched);
//! * readiness maps by filter, as in libev: `EVFILT_READ` → `EV_READ`, `EVFILT_WRITE` →
//!   `EV_WRITE`; `EV_EOF` does not widen it (each registered filter fires on its own);
//! * `EV_ERROR` entries (`data` = errno), for changes of fds that still have watchers and
//!   carry the current generation (older ones answer superseded changes and are ignored):
//!   `ENOENT` (delete of a filter that is gone) is harmless, or re-adds the failed filter if
//!   it is wanted (libev resubmits); `EBADF` re-checks the fd with `fcntl(F_GETFD)`: still
//!   valid (closed and reopened) → re-add the failed filter if wanted, else the fd's watchers
//!   are stopped with `EV_ERROR`. A re-add is made once per registration (`eflags` marks the
//!   retried filters until the next `modify`): a second refusal stops the watchers with
//!   `EV_ERROR`, instead of resubmitting (and returning at once) forever (libev resubmits
//!   every wanted filter per error entry, without limit); any other error (`EPERM`, `ENODEV`,
//!   `EINVAL`, ... for fds the kernel cannot watch) on a wanted filter stops the watchers with
//!   `EV_ERROR` (libev built without assertions). The event array always has room for one
//!   error per change: without it the kernel stops at the first failing change and fails the
//!   whole call;
//! * `EINTR` from `kevent()`: the changes were applied before the wait (kevent(2)), so they
//!   are not resubmitted;
//! * a kqueue is not inherited across `fork()`. `fork()` (called by the core, inside
//!   `ev_run`, after `ev_loop_fork` or a stale event) makes a new queue and returns true so
//!   the core re-registers every fd. As in libev, the old descriptor is closed only in the
//!   process that created it: some BSDs close it in the child, and its number may be reused
//!   there. The same rule applies on drop. A child that runs the loop without
//!   `ev_loop_fork` gets a failing `kevent()`; that is answered with a rebuild instead of
//!   libev's abort;
//! * the queue lives at a high, protected number (`sys::protect_fd`), as epoll's does: some
//!   applications (pgagroal's workers) close numbers they do not own. If `kevent()` still
//!   finds no queue at its number (EBADF), a new queue is built (libev aborts), and the old
//!   number, which may now hold the application's file, is never closed.

use super::{Anfd, FdTable, Fds, Hooks, PollOut};
use crate::ffi::abi::{EV_READ, EV_WRITE};
use core::ffi::{c_int, CStr};
use core::time::Duration;
use std::io;

#[cfg(evring_kqueue)]
mod os;
#[cfg(evring_kqueue)]
pub mod sys;
#[cfg(test)]
mod tests;

/// The kqueue backend on the real kernel.
#[cfg(evring_kqueue)]
pub type RealKqueue = Kqueue<sys::RealKernel>;

/// True where this build has the kqueue backend.
pub fn available() -> bool {
    cfg!(evring_kqueue)
}

/// Smallest wait the backend honours (libev: kqueue takes a `timespec`).
pub const MINTIME: f64 = 1e-9;

/// Initial size of the result array (libev's `kqueue_eventmax`).
const INITIAL_EVENTS: usize = 64;

/// Waits this long or longer are passed as "no timeout" (fits a 32-bit `time_t`).
const MAX_WAIT_SECS: f64 = i32::MAX as f64;

/// Portable flag bits of [`KEvent::flags`]. `os.rs` maps them bit by bit to the OS's `EV_*`.
pub mod kflags {
    pub const ADD: u16 = 0x0001;
    pub const DELETE: u16 = 0x0002;
    pub const ENABLE: u16 = 0x0004;
    pub const ERROR: u16 = 0x4000;
    pub const EOF: u16 = 0x8000;
}

/// The filters this backend uses; anything else is reported as `Other(raw value)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Filter {
    #[default]
    Read,
    Write,
    Other(i64),
}

/// Our portable `struct kevent`; `os.rs` converts it to and from the OS's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KEvent {
    pub ident: u64,
    pub filter: Filter,
    /// [`kflags`] bits.
    pub flags: u16,
    pub fflags: u32,
    /// errno for `EV_ERROR` entries.
    pub data: i64,
    /// For our registrations: the fd's generation (`Anfd::egen`).
    pub udata: u64,
}

/// What the backend needs from the system. `sys::RealKernel` makes the real calls; the tests
/// use a fake that models a kqueue.
pub trait Kernel {
    /// fflags for `EV_ADD` changes (libev passes `NOTE_EOF` where it exists).
    const ADD_FFLAGS: u32;
    /// `sizeof (struct kevent)`: libev sizes its result array by it (`array_nextsize`), which
    /// decides how many events one wait returns.
    const EVENT_SIZE: usize;
    /// `kqueue()`, close-on-exec.
    fn kqueue(&mut self) -> io::Result<c_int>;
    /// `kevent(kq, changes, events, timeout)`; `None` waits without limit. Returns how many
    /// entries of `events` were filled.
    fn kevent(
        &mut self,
        kq: c_int,
        changes: &[KEvent],
        events: &mut [KEvent],
        timeout: Option<Duration>,
    ) -> io::Result<usize>;
    fn close(&mut self, fd: c_int);
    fn getpid(&mut self) -> i32;
    /// libev's `fd_valid`: `fcntl(fd, F_GETFD) != -1`.
    fn fd_valid(&mut self, fd: c_int) -> bool;
    /// Report a failed system call (libev's `ev_syserr`: user callback, or perror + abort).
    fn syserr(&mut self, msg: &CStr);
}

/// The wait timeout for `kevent()`: nanosecond precision, rounded **up** so that a wait never
/// ends before the deadline; `<= 0` (or NaN) polls, very long or infinite waits have no limit.
pub fn wait_timeout(t: f64) -> Option<Duration> {
    if t.is_nan() || t <= 0.0 {
        return Some(Duration::ZERO);
    }
    if t >= MAX_WAIT_SECS {
        return None;
    }
    let secs = t.trunc();
    // Up to the next nanosecond, ignoring floating-point noise far below one (so that 0.3
    // stays 300 ms). `nanos` is at most 1e9; Duration::new carries a full second over.
    let nanos = ((t - secs) * 1e9 - 1e-3).ceil().max(0.0);
    Some(Duration::new(secs as u64, nanos as u32))
}

fn filter_bit(f: Filter) -> u8 {
    match f {
        Filter::Read => EV_READ as u8,
        Filter::Write => EV_WRITE as u8,
        Filter::Other(_) => 0,
    }
}

/// The fd an `ident` names and its table entry, if it is one of the loop's (an fd without an
/// entry is not a registration of ours, like a stale one).
fn fd_of(ident: u64, anfds: &mut FdTable) -> Option<(usize, &mut Anfd)> {
    let fd = usize::try_from(ident).ok()?;
    if fd > i32::MAX as usize {
        return None;
    }
    Some((fd, anfds.get_mut(fd)?))
}

pub struct Kqueue<K: Kernel> {
    kernel: K,
    /// The queue's descriptor.
    fd: c_int,
    /// The process that created `fd` (only it may close it; see the module comment).
    pid: i32,
    /// `kevent()` said `fd` is no kqueue any more (EBADF: the application closed the number,
    /// maybe reused it): never close that number, it may be the application's file now.
    lost: bool,
    /// Changes for the next `kevent()` call.
    changes: Vec<KEvent>,
    /// Result array; its length is what the kernel may fill.
    events: Vec<KEvent>,
}

impl<K: Kernel + Default> Kqueue<K> {
    pub fn new() -> Option<Self> {
        Self::with_kernel(K::default())
    }
}

impl<K: Kernel> Kqueue<K> {
    pub fn with_kernel(mut kernel: K) -> Option<Self> {
        let pid = kernel.getpid();
        let fd = kernel.kqueue().ok()?;
        Some(Kqueue {
            kernel,
            fd,
            pid,
            lost: false,
            changes: Vec::new(),
            events: vec![KEvent::default(); INITIAL_EVENTS],
        })
    }

    pub fn fd(&self) -> c_int {
        self.fd
    }

    pub fn mintime(&self) -> f64 {
        MINTIME
    }

    /// New kernel state in a new process, or after a stale event. Always true: the core must
    /// re-register every fd with watchers.
    pub fn fork(&mut self) -> bool {
        self.recreate();
        true
    }

    /// Replace the queue. Queued changes belonged to the old one and are dropped (the core
    /// re-registers everything).
    pub fn recreate(&mut self) {
        let pid = self.kernel.getpid();
        if pid == self.pid && !self.lost {
            self.kernel.close(self.fd);
        }
        self.pid = pid;
        self.lost = false;
        self.fd = loop {
            match self.kernel.kqueue() {
                Ok(fd) => break fd,
                Err(_) => self.kernel.syserr(c"(libev) kqueue"),
            }
        };
        self.changes.clear();
    }

    /// Queue `flags` changes for the filters of `mask` (read first, as libev).
    fn change(&mut self, fd: usize, mask: u8, flags: u16, gen: u32) {
        for filter in [Filter::Read, Filter::Write] {
            if mask & filter_bit(filter) != 0 {
                let fflags = if flags & kflags::ADD != 0 {
                    K::ADD_FFLAGS
                } else {
                    0
                };
                self.changes.push(KEvent {
                    ident: fd as u64,
                    filter,
                    flags,
                    fflags,
                    data: 0,
                    udata: u64::from(gen),
                });
            }
        }
    }

    /// Register the wanted filter `bit` of `fd` again, with its current generation, once per
    /// registration: false if it was already retried (the kernel keeps refusing it). One
    /// change per failed filter, not all wanted filters per error entry (that doubled the
    /// change list on every call while the refusal lasted).
    fn retry(&mut self, a: &mut Anfd, fd: usize, bit: u8) -> bool {
        if a.eflags & bit != 0 {
            return false;
        }
        a.eflags |= bit;
        a.emask |= bit;
        self.change(fd, bit, kflags::ADD | kflags::ENABLE, a.egen);
        true
    }

    /// `fd`'s wanted events changed from `oev` to `nev`. Only queues changes: errors come back
    /// from the next `kevent()` call, in `poll`.
    pub fn modify(
        &mut self,
        anfds: &mut FdTable,
        fd: c_int,
        _oev: u8,
        nev: u8,
        _out: &mut PollOut,
    ) {
        let nev = nev & (EV_READ | EV_WRITE) as u8;
        if nev == 0 {
            // Lazy: keep the filters; see the module comment.
            return;
        }
        let fd = fd as usize;
        let a = &mut anfds[fd];
        a.egen = a.egen.wrapping_add(1);
        let gen = a.egen;
        // A new registration: failed filters may be retried once again (`retry`).
        a.eflags = 0;
        // `emask` holds every filter the queue may have for this fd (maybe more).
        let dropped = a.emask & !nev;
        a.emask = nev;
        self.change(fd, dropped, kflags::DELETE, gen);
        self.change(fd, nev, kflags::ADD | kflags::ENABLE, gen);
    }

    /// Submit the queued changes and wait up to `timeout` seconds, in one `kevent()` call.
    pub fn poll(&mut self, fds: Fds, timeout: f64, out: &mut PollOut, hooks: &Hooks) {
        if self.changes.len() > self.events.len() {
            // Room for an EV_ERROR entry per change (see the module comment).
            let cap = super::array_nextsize(K::EVENT_SIZE, self.events.len(), self.changes.len());
            self.events.resize(cap, KEvent::default());
        }
        hooks.release();
        // (The result carries errno: read before `acquire`, which may change it.)
        let res = self.kernel.kevent(
            self.fd,
            &self.changes,
            &mut self.events,
            wait_timeout(timeout),
        );
        hooks.acquire();
        // SAFETY: after `acquire`: this thread owns the loop again (`Fds::get`).
        let anfds = unsafe { fds.get() };
        // Applied (also on EINTR) or answered in the result list: never resubmitted.
        self.changes.clear();
        let n = match res {
            Ok(n) => n.min(self.events.len()),
            Err(e) => {
                if e.raw_os_error() != Some(libc::EINTR) {
                    if self.kernel.getpid() != self.pid {
                        // Run in a forked child without ev_loop_fork: our queue is not there.
                        out.rebuild = true;
                    } else if e.raw_os_error() == Some(libc::EBADF) {
                        // Our number was closed, or holds another kind of file now (changes
                        // never fail the call: the event array has room for their errors).
                        // Build a new queue, as epoll does, instead of aborting.
                        self.lost = true;
                        out.rebuild = true;
                    } else {
                        self.kernel.syserr(c"(libev) kqueue kevent");
                    }
                }
                return;
            }
        };
        for i in 0..n {
            let ev = self.events[i];
            if ev.flags & kflags::ERROR != 0 {
                self.error(anfds, &ev, out);
                continue;
            }
            let bit = filter_bit(ev.filter);
            if bit == 0 {
                // Not a filter we register (libev ignores these too).
                continue;
            }
            let Some((fd, a)) = fd_of(ev.ident, anfds) else {
                out.rebuild = true;
                continue;
            };
            if ev.udata != u64::from(a.egen) {
                // Stale: not a registration we made for this fd's current watchers.
                out.rebuild = true;
                continue;
            }
            if a.events & bit == 0 {
                // Left registered by a lazy change: delete it with the next kevent() call.
                a.emask &= !bit;
                self.change(fd, bit, kflags::DELETE, a.egen);
                continue;
            }
            out.ready.push((fd as i32, bit as i32));
        }
        if n == self.events.len() {
            // Full: more may be ready; grow for the next wait (as libev: 64 -> 255 with a
            // 32-byte kevent, 64 -> 191 with FreeBSD 12's 64-byte one).
            let cap = super::next_event_cap(K::EVENT_SIZE, n);
            self.events.resize(cap, KEvent::default());
        }
    }

    /// An `EV_ERROR` entry: the kernel's answer to one of our changes (see the module comment).
    fn error(&mut self, anfds: &mut FdTable, ev: &KEvent, out: &mut PollOut) {
        if ev.data == 0 {
            // A receipt (EV_RECEIPT), not an error; we never ask for them.
            return;
        }
        let Some((fd, a)) = fd_of(ev.ident, anfds) else {
            return;
        };
        if ev.udata != u64::from(a.egen) {
            // Answer to a change that a newer one already superseded.
            return;
        }
        let bit = filter_bit(ev.filter);
        // Whatever failed, the queue does not have this filter now.
        a.emask &= !bit;
        if a.events == 0 {
            // No watchers: only interested in errors for fds we are interested in (libev).
            return;
        }
        let wanted = a.events & bit != 0;
        let kill = match i32::try_from(ev.data).unwrap_or(-1) {
            libc::ENOENT => wanted && !self.retry(a, fd, bit),
            libc::EBADF => {
                if self.kernel.fd_valid(fd as c_int) {
                    // Closed and reopened since: register the new file (once; a valid fd
                    // that keeps failing, e.g. FreeBSD's O_PATH, is killed).
                    wanted && !self.retry(a, fd, bit)
                } else {
                    true
                }
            }
            _ => wanted,
        };
        if kill && !out.kill.contains(&(fd as i32)) {
            out.kill.push(fd as i32);
        }
    }
}

impl<K: Kernel> Drop for Kqueue<K> {
    fn drop(&mut self) {
        if self.kernel.getpid() == self.pid && !self.lost {
            self.kernel.close(self.fd);
        }
    }
}
