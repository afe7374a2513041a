//! Kernel readiness backends behind libev's backend interface.
//!
//! The loop core owns the per-fd table ([`Anfd`]) and calls a backend only from `ev_run`:
//! `modify` while applying the fd changes collected since the last iteration ("fd reify"),
//! `poll` to wait, `fork` to rebuild kernel state in a new process. Nothing here is ever
//! called from `ev_io_start`/`ev_io_stop`, which is what makes a forked child that stops
//! watchers on an inherited loop harmless to its parent -- except `fd_released`, which only
//! the io_uring poll strategy implements, and which does nothing in a forked child.
//!
//! Backends report results through [`PollOut`]: readiness `(fd, revents)` pairs, fds whose
//! registration the kernel rejected (the loop stops their watchers and feeds `EV_ERROR`, the
//! behaviour of libev built without assertions), and a request to rebuild the kernel object
//! (epoll saw a stale event, i.e. somebody else changed our interest set).

#[cfg(target_os = "linux")]
pub mod epoll;
pub mod fdtable;
pub mod kqueue;
pub mod poll;
pub mod select;
#[cfg(target_os = "linux")]
pub mod uring;

use crate::core::event_loop::HookCb;
use crate::ffi::abi::*;
pub use fdtable::FdTable;

/// The loop's fd table as a backend reaches it during [`Backend::poll`]: a pointer, borrowed
/// afresh for each use. Between the loop's release and acquire hooks (which the backends call
/// right around their blocking system call, as libev does) another thread may change
/// watchers under the application's lock -- libev's documented pattern: start a watcher,
/// then `ev_async_send` -- and starting one may grow, i.e. move, the table. So no reference
/// into the table may be held across [`Hooks::release`]..[`Hooks::acquire`].
#[derive(Clone, Copy)]
pub struct Fds(*mut FdTable);

impl Fds {
    /// Tests and backends' own helpers: a table the caller owns.
    pub fn new(v: &mut FdTable) -> Fds {
        Fds(v)
    }

    /// The loop's table, reached through a field pointer (`ev_run`).
    pub fn from_raw(p: *mut FdTable) -> Fds {
        Fds(p)
    }

    /// The table, borrowed for the caller's current step.
    ///
    /// # Safety
    /// The table is alive, and the calling thread owns the loop right now: not between
    /// [`Hooks::release`] and [`Hooks::acquire`], and no other borrow from [`Fds::get`] is
    /// still in use.
    #[inline]
    pub unsafe fn get<'a>(self) -> &'a mut FdTable {
        // SAFETY: the caller's contract above.
        unsafe { &mut *self.0 }
    }
}

/// The loop's release/acquire hooks (`ev_set_loop_release_cb`), called by each backend right
/// around the system call that may block, as libev does.
#[derive(Clone, Copy)]
pub struct Hooks {
    lp: *mut ev_loop,
    release: HookCb,
    acquire: HookCb,
}

impl Hooks {
    pub const NONE: Hooks = Hooks {
        lp: core::ptr::null_mut(),
        release: None,
        acquire: None,
    };

    pub fn new(lp: *mut ev_loop, release: HookCb, acquire: HookCb) -> Hooks {
        Hooks {
            lp,
            release,
            acquire,
        }
    }

    /// Just before the blocking system call. From here until [`Hooks::acquire`] the backend
    /// touches nothing but its own buffers and the kernel (see [`Fds`]); errno of the call
    /// must be read before `acquire` (the hook may change it).
    #[inline]
    pub fn release(&self) {
        if let Some(cb) = self.release {
            // SAFETY: the application's hook, called with its own loop as libev calls it;
            // no borrow of the loop's state is alive across it.
            unsafe { cb(self.lp) };
        }
    }

    /// Right after the blocking system call returned.
    #[inline]
    pub fn acquire(&self) {
        if let Some(cb) = self.acquire {
            // SAFETY: as for `release`.
            unsafe { cb(self.lp) };
        }
    }
}

/// Per-fd state shared by the core and the backends.
#[derive(Clone, Copy)]
pub struct Anfd {
    /// io watchers on this fd (newest first), linked through their `next` field.
    pub head: *mut ev_watcher_list,
    /// Union of the watchers' event masks as last told to the backend.
    pub events: u8,
    /// Pending change flags (`EV__IOFDSET` and [`REIFY`]); non-zero while the fd is in the
    /// loop's change list.
    pub reify: u8,
    /// Mask the kernel currently has (epoll: registered mask, kept lazily).
    pub emask: u8,
    /// Backend flags (epoll: fd is on the "always ready" list).
    pub eflags: u8,
    /// Registration generation, carried in the kernel's event data to spot stale events.
    pub egen: u32,
}

impl Default for Anfd {
    fn default() -> Self {
        Anfd {
            head: core::ptr::null_mut(),
            events: 0,
            reify: 0,
            emask: 0,
            eflags: 0,
            egen: 0,
        }
    }
}

/// Upper bound of every backend's [`Backend::mintime`] (the loop skips asking for longer waits).
pub const MAX_MINTIME: f64 = 1e-3;

/// Marks an fd as changed (the other flag is `EV__IOFDSET`: "re-register even if unchanged").
pub const REIFY: u8 = 1;

/// A private bit of an io watcher's event mask, set only by the loop on its own internal
/// wakeup watcher (`ev_io_start` rejects it from applications as an illegal mask): register
/// the fd edge-triggered (`EPOLLET`). Only backends for which [`Backend::edge_ok`] holds
/// ever see it. It travels with the mask through the fd table (`Anfd::events`/`emask`), so
/// every re-registration (rebuild, fork, fallback from io_uring to epoll) keeps it.
pub const EDGE: u8 = 0x40;

/// What a backend hands back to the loop.
pub struct PollOut {
    pub ready: Vec<(i32, i32)>,
    pub kill: Vec<i32>,
    pub rebuild: bool,
    /// Readiness may have been taken from the kernel without being reported (an io_uring
    /// `EPOLL_WAIT` harvest discarded or abandoned, a probing `epoll_wait`). Harmless for
    /// level-triggered registrations, which report again; the loop's edge-triggered wakeup
    /// eventfd ([`EDGE`]) does not, so the loop rescans its wake-up flags (as does
    /// [`PollOut::rebuild`], which follows a dropped stale event).
    pub rescan: bool,
    /// Input: the fork generation `ev_run` read for this iteration, after making the loop's
    /// objects this process's own if it had changed ([`crate::ffi::atfork::generation`];
    /// [`PollOut::GEN_UNKNOWN`] = not known). The io_uring backend's common path compares
    /// its own generation with it instead of reading the marker page again (callgrind,
    /// bench_loop: 16 instructions less per `ev_run` entry/exit and per empty iteration);
    /// any other value sends it through its full check.
    pub gen: u64,
    /// Input: the monotonic time (the loop's `mn_now`) from which the poll's timeout counts,
    /// or `-inf` when the caller does not know it. The io_uring backend resumes a wait that a
    /// ring close interrupted until `since + timeout` without reading the clock before every
    /// wait (`uring::resume_deadline`).
    pub since: f64,
}

impl PollOut {
    /// [`PollOut::gen`] when the caller did not read the generation (0 is a real one: the
    /// first process's).
    pub const GEN_UNKNOWN: u64 = u64::MAX;
}

impl Default for PollOut {
    fn default() -> Self {
        PollOut {
            ready: Vec::new(),
            kill: Vec::new(),
            rebuild: false,
            rescan: false,
            gen: PollOut::GEN_UNKNOWN,
            since: f64::NEG_INFINITY,
        }
    }
}

/// An explicit tag (`repr(u8)`): without it the variant is encoded in a niche of the
/// payloads and every `match` on the hot paths (poll, modify) first decodes it.
#[repr(u8)]
pub enum Backend {
    #[cfg(target_os = "linux")]
    Uring(Box<uring::Uring>),
    #[cfg(evring_kqueue)]
    Kqueue(kqueue::RealKqueue),
    #[cfg(target_os = "linux")]
    Epoll(epoll::Epoll),
    Poll(poll::Poll),
    Select(select::Select),
}

/// Backends this build can ever provide (before run-time probing).
pub fn supported() -> u32 {
    let mut s = EVBACKEND_POLL | EVBACKEND_SELECT;
    #[cfg(target_os = "linux")]
    if epoll::Epoll::available() {
        s |= EVBACKEND_EPOLL;
    }
    #[cfg(target_os = "linux")]
    if uring::available() {
        s |= EVBACKEND_IOURING;
    }
    if kqueue::available() {
        s |= EVBACKEND_KQUEUE;
    }
    s
}

/// Backends chosen when the flags name none (`EVFLAG_AUTO`).
///
/// kqueue: libev 4.33 recommends it only on NetBSD; evring also recommends it on FreeBSD,
/// DragonFly and macOS (pgagroal's `libev` option has no `kqueue` value, so `auto` is the only
/// way to reach it). On macOS kqueue rejects ttys and some devices (they get `EV_ERROR`),
/// which is why libev avoids it there; programs that watch such fds can ask for poll.
/// poll is dropped on FreeBSD and macOS as libev does (kqueue or select serve there).
pub fn recommended() -> u32 {
    #[allow(unused_mut)]
    let mut r = supported();
    if cfg!(any(target_os = "freebsd", target_os = "macos")) {
        r &= !EVBACKEND_POLL;
    }
    if cfg!(target_os = "openbsd") {
        r &= !EVBACKEND_KQUEUE;
    }
    r
}

/// Backends whose fd could be embedded in another loop (libev's constant set).
pub fn embeddable() -> u32 {
    EVBACKEND_EPOLL | EVBACKEND_KQUEUE | EVBACKEND_PORT | EVBACKEND_IOURING
}

impl Backend {
    /// Create the first backend of `flags` that works, in libev's preference order.
    pub fn init(flags: u32) -> Option<Backend> {
        #[cfg(target_os = "linux")]
        if flags & EVBACKEND_IOURING != 0 {
            if let Some(b) = uring::Uring::new() {
                return Some(Backend::Uring(Box::new(b)));
            }
            // io_uring unusable here (seccomp, sysctl, old kernel, ...): the other requested
            // backends, and epoll when io_uring was the only one (silent fallback).
            if flags & (EVBACKEND_EPOLL | EVBACKEND_POLL | EVBACKEND_SELECT) == 0 {
                return epoll::Epoll::new().map(Backend::Epoll);
            }
        }
        #[cfg(evring_kqueue)]
        if flags & EVBACKEND_KQUEUE != 0 {
            if let Some(b) = kqueue::RealKqueue::new() {
                return Some(Backend::Kqueue(b));
            }
        }
        #[cfg(target_os = "linux")]
        if flags & EVBACKEND_EPOLL != 0 {
            if let Some(b) = epoll::Epoll::new() {
                return Some(Backend::Epoll(b));
            }
        }
        if flags & EVBACKEND_POLL != 0 {
            return Some(Backend::Poll(poll::Poll::new()));
        }
        if flags & EVBACKEND_SELECT != 0 {
            return Some(Backend::Select(select::Select::new()));
        }
        None
    }

    /// The `EVBACKEND_*` bit of this backend.
    pub fn kind(&self) -> u32 {
        match self {
            #[cfg(target_os = "linux")]
            Backend::Uring(_) => EVBACKEND_IOURING,
            #[cfg(evring_kqueue)]
            Backend::Kqueue(_) => EVBACKEND_KQUEUE,
            #[cfg(target_os = "linux")]
            Backend::Epoll(_) => EVBACKEND_EPOLL,
            Backend::Poll(_) => EVBACKEND_POLL,
            Backend::Select(_) => EVBACKEND_SELECT,
        }
    }

    /// Does this backend honour [`EDGE`]? The epoll backend and the io_uring backend's epoll
    /// strategies do (an epoll set underneath); poll, select, kqueue and io_uring's `poll`
    /// strategy do not. The only switch between backends a loop makes, io_uring to epoll (in
    /// [`Backend::fork`]), never takes an [`EDGE`] watcher to a backend that ignores it.
    pub fn edge_ok(&self) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            Backend::Uring(b) => b.mode() != uring::Mode::Poll,
            #[cfg(target_os = "linux")]
            Backend::Epoll(_) => true,
            _ => false,
        }
    }

    /// Smallest timeout the backend can wait for; shorter waits are rounded up to it. Never
    /// more than [`MAX_MINTIME`].
    #[inline]
    pub fn mintime(&self) -> f64 {
        match self {
            #[cfg(evring_kqueue)]
            Backend::Kqueue(_) => kqueue::MINTIME,
            Backend::Select(_) => 1e-6,
            _ => 1e-3,
        }
    }

    /// Free a descriptor the backend can do without for now (EMFILE elsewhere in the loop);
    /// whether one was freed.
    pub fn shed_fd(&mut self) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            Backend::Uring(b) => b.shed_ring(),
            _ => false,
        }
    }

    /// The kernel object's fd, or -1.
    pub fn fd(&self) -> i32 {
        match self {
            #[cfg(target_os = "linux")]
            Backend::Uring(b) => b.fd(),
            #[cfg(evring_kqueue)]
            Backend::Kqueue(b) => b.fd(),
            #[cfg(target_os = "linux")]
            Backend::Epoll(b) => b.fd(),
            Backend::Poll(_) | Backend::Select(_) => -1,
        }
    }

    /// `fd_reify` is about to apply the changes of `n` fds (at most `n` `modify` calls).
    #[inline]
    pub fn reify_begin(&mut self, n: usize) {
        #[cfg(target_os = "linux")]
        if let Backend::Uring(b) = self {
            b.reify_begin(n);
        }
        let _ = n;
    }

    /// Tell the kernel that `fd`'s wanted events changed from `oev` to `nev`.
    pub fn modify(&mut self, anfds: &mut FdTable, fd: i32, oev: u8, nev: u8, out: &mut PollOut) {
        match self {
            #[cfg(target_os = "linux")]
            Backend::Uring(b) => b.modify(anfds, fd, oev, nev, out),
            #[cfg(evring_kqueue)]
            Backend::Kqueue(b) => b.modify(anfds, fd, oev, nev, out),
            #[cfg(target_os = "linux")]
            Backend::Epoll(b) => b.modify(anfds, fd, oev, nev, out),
            Backend::Poll(b) => b.modify(anfds, fd, oev, nev),
            Backend::Select(b) => b.modify(fd, oev, nev),
        }
    }

    /// The last io watcher of `fd` was stopped (called from `ev_io_stop`, unlike the other
    /// methods). Only a backend whose kernel object holds a reference to the file (io_uring
    /// poll requests) acts on it, and never in a forked child.
    #[inline]
    pub fn fd_released(&self, anfds: &mut FdTable, fd: i32) {
        #[cfg(target_os = "linux")]
        if let Backend::Uring(b) = self {
            b.fd_released(anfds, fd);
        }
        let _ = (anfds, fd);
    }

    /// Wait up to `timeout` seconds and report readiness into `out`, calling `hooks` right
    /// around the blocking system call (see [`Fds`]).
    #[inline]
    pub fn poll(&mut self, fds: Fds, timeout: f64, out: &mut PollOut, hooks: &Hooks) {
        // The default backends first, each behind one compare (a `match` compiled to a
        // jump table: five instructions on every iteration).
        #[cfg(target_os = "linux")]
        if let Backend::Uring(b) = self {
            return b.poll(fds, timeout, out, hooks);
        }
        #[cfg(target_os = "linux")]
        if let Backend::Epoll(b) = self {
            return b.poll(fds, timeout, out, hooks);
        }
        match self {
            #[cfg(target_os = "linux")]
            Backend::Uring(b) => b.poll(fds, timeout, out, hooks),
            #[cfg(evring_kqueue)]
            Backend::Kqueue(b) => b.poll(fds, timeout, out, hooks),
            #[cfg(target_os = "linux")]
            Backend::Epoll(b) => b.poll(fds, timeout, out, hooks),
            Backend::Poll(b) => b.poll(fds, timeout, out, hooks),
            Backend::Select(b) => b.poll(fds, timeout, out, hooks),
        }
    }

    /// Rebuild kernel state in a new process (or after interference). Returns true when the
    /// loop must re-register every fd with interest.
    pub fn fork(&mut self) -> bool {
        #[cfg(target_os = "linux")]
        if let Backend::Uring(b) = self {
            if !b.recreate() {
                // No new ring (or the old one failed at run time): continue on epoll.
                match epoll::Epoll::new() {
                    Some(e) => *self = Backend::Epoll(e),
                    None => crate::ffi::globals::syserr(c"(libev) epoll_create"),
                }
            }
            return true;
        }
        match self {
            #[cfg(evring_kqueue)]
            Backend::Kqueue(b) => b.fork(),
            #[cfg(target_os = "linux")]
            Backend::Epoll(b) => {
                b.recreate();
                true
            }
            Backend::Poll(_) | Backend::Select(_) => false,
            #[cfg(target_os = "linux")]
            Backend::Uring(_) => unreachable!(),
        }
    }
}

/// The next size of a full event buffer, as libev grows its arrays: at least double plus
/// two, and a buffer beyond one 4 KiB allocation is rounded to fill whole 4 KiB pages minus
/// 32 bytes of malloc overhead (epoll, `elem` 12 bytes: 64 -> 130 -> 262 -> 680 -> 1704).
/// How many events one wait returns decides how many callbacks an iteration runs, so the
/// batching is libev's, not just the totals (found by a differential hunt: 400 ready pipes
/// gave 64/128/208 callbacks per iteration, libev 64/130/206).
pub fn next_event_cap(elem: usize, cur: usize) -> usize {
    array_nextsize(elem, cur, cur + 1)
}

/// libev's `array_nextsize`: the size after `cur` that holds at least `cnt` elements of
/// `elem` bytes (doubling plus two, repeated; then the same 4 KiB page rounding).
pub fn array_nextsize(elem: usize, cur: usize, cnt: usize) -> usize {
    const PAGE: usize = 4096;
    const OVERHEAD: usize = 4 * core::mem::size_of::<usize>();
    let mut n = cur + 1;
    loop {
        n <<= 1;
        if cnt <= n {
            break;
        }
    }
    if elem * n > PAGE - OVERHEAD {
        let bytes = (elem * n + elem + (PAGE - 1) + OVERHEAD) & !(PAGE - 1);
        n = (bytes - OVERHEAD) / elem;
    }
    n
}

#[cfg(test)]
mod grow_tests {
    #[test]
    fn event_buffer_grows_as_libev() {
        // epoll_event is 12 bytes on x86_64; libev's measured sequence.
        let mut c = 64;
        let mut seen = vec![c];
        for _ in 0..4 {
            c = super::next_event_cap(12, c);
            seen.push(c);
        }
        assert_eq!(seen, [64, 130, 262, 680, 1704]);
    }
}
