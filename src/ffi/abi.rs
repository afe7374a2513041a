//! `#[repr(C)]` mirrors of the structures and constants of `include/ev.h`.
//!
//! Watchers live in the C caller's memory and C code reads and writes their fields through
//! header macros, so these layouts *are* the ABI. Every type has compile-time size and offset
//! checks below; `c-tests/abi/` checks the C side against Debian's libev 4.33 header.
#![allow(non_camel_case_types)]

use core::ffi::{c_int, c_void};

/// `ev_tstamp`: seconds as a double.
pub type ev_tstamp = f64;

/// The opaque `struct ev_loop` as C sees it. The pointer really points at a
/// [`crate::core::event_loop::LoopHandle`].
#[repr(C)]
pub struct ev_loop {
    _private: [u8; 0],
}

/// Generic watcher callback type as stored in every watcher (`cb` at offset 24).
pub type WatcherCb = Option<unsafe extern "C-unwind" fn(*mut ev_loop, *mut ev_watcher, c_int)>;

/// Common head of every watcher type.
#[repr(C)]
pub struct ev_watcher {
    pub active: c_int,
    pub pending: c_int,
    pub priority: c_int,
    pub data: *mut c_void,
    pub cb: WatcherCb,
}

/// Watchers kept in singly linked lists (io, signal, child, stat).
#[repr(C)]
pub struct ev_watcher_list {
    pub active: c_int,
    pub pending: c_int,
    pub priority: c_int,
    pub data: *mut c_void,
    pub cb: WatcherCb,
    pub next: *mut ev_watcher_list,
}

/// Watchers kept in a heap ordered by `at` (timer, periodic).
#[repr(C)]
pub struct ev_watcher_time {
    pub active: c_int,
    pub pending: c_int,
    pub priority: c_int,
    pub data: *mut c_void,
    pub cb: WatcherCb,
    pub at: ev_tstamp,
}

#[repr(C)]
pub struct ev_io {
    pub active: c_int,
    pub pending: c_int,
    pub priority: c_int,
    pub data: *mut c_void,
    pub cb: WatcherCb,
    pub next: *mut ev_watcher_list,
    pub fd: c_int,
    pub events: c_int,
}

#[repr(C)]
pub struct ev_timer {
    pub active: c_int,
    pub pending: c_int,
    pub priority: c_int,
    pub data: *mut c_void,
    pub cb: WatcherCb,
    pub at: ev_tstamp,
    pub repeat: ev_tstamp,
}

/// `reschedule_cb` of a periodic watcher.
pub type RescheduleCb =
    Option<unsafe extern "C-unwind" fn(*mut ev_periodic, ev_tstamp) -> ev_tstamp>;

#[repr(C)]
pub struct ev_periodic {
    pub active: c_int,
    pub pending: c_int,
    pub priority: c_int,
    pub data: *mut c_void,
    pub cb: WatcherCb,
    pub at: ev_tstamp,
    pub offset: ev_tstamp,
    pub interval: ev_tstamp,
    pub reschedule_cb: RescheduleCb,
}

#[repr(C)]
pub struct ev_signal {
    pub active: c_int,
    pub pending: c_int,
    pub priority: c_int,
    pub data: *mut c_void,
    pub cb: WatcherCb,
    pub next: *mut ev_watcher_list,
    pub signum: c_int,
}

#[repr(C)]
pub struct ev_child {
    pub active: c_int,
    pub pending: c_int,
    pub priority: c_int,
    pub data: *mut c_void,
    pub cb: WatcherCb,
    pub next: *mut ev_watcher_list,
    pub flags: c_int,
    pub pid: c_int,
    pub rpid: c_int,
    pub rstatus: c_int,
}

/// Idle, prepare, check, fork and cleanup watchers have no fields of their own.
pub type ev_idle = ev_watcher;
pub type ev_prepare = ev_watcher;
pub type ev_check = ev_watcher;
pub type ev_fork = ev_watcher;
pub type ev_cleanup = ev_watcher;

#[repr(C)]
pub struct ev_async {
    pub active: c_int,
    pub pending: c_int,
    pub priority: c_int,
    pub data: *mut c_void,
    pub cb: WatcherCb,
    /// `EV_ATOMIC_T` (`sig_atomic_t volatile`): written from other threads and signal handlers.
    pub sent: c_int,
}

/// `ev_stat` is 400 bytes on x86_64 glibc (two `struct stat`). Not implemented yet: only the
/// size matters to us for now.
#[repr(C)]
pub struct ev_stat {
    pub head: ev_watcher_list,
    pub timer: ev_timer,
    pub interval: ev_tstamp,
    pub path: *const core::ffi::c_char,
    pub prev: libc::stat,
    pub attr: libc::stat,
    pub wd: c_int,
}

/// `ev_embed`: 360 bytes (embeds eight complete watchers). Not implemented yet.
#[repr(C)]
pub struct ev_embed {
    pub head: ev_watcher,
    pub other: *mut ev_loop,
    pub io: ev_io,
    pub prepare: ev_prepare,
    pub check: ev_check,
    pub timer: ev_timer,
    pub periodic: ev_periodic,
    pub idle: ev_idle,
    pub fork: ev_fork,
    pub cleanup: ev_cleanup,
}

// ---- constants (values of libev 4.33's header) ----
pub const EV_UNDEF: c_int = -1;
pub const EV_NONE: c_int = 0x00;
pub const EV_READ: c_int = 0x01;
pub const EV_WRITE: c_int = 0x02;
pub const EV__IOFDSET: c_int = 0x80;
pub const EV_TIMER: c_int = 0x100;
pub const EV_PERIODIC: c_int = 0x200;
pub const EV_SIGNAL: c_int = 0x400;
pub const EV_CHILD: c_int = 0x800;
pub const EV_STAT: c_int = 0x1000;
pub const EV_IDLE: c_int = 0x2000;
pub const EV_PREPARE: c_int = 0x4000;
pub const EV_CHECK: c_int = 0x8000;
pub const EV_EMBED: c_int = 0x10000;
pub const EV_FORK: c_int = 0x20000;
pub const EV_CLEANUP: c_int = 0x40000;
pub const EV_ASYNC: c_int = 0x80000;
pub const EV_CUSTOM: c_int = 0x0100_0000;
pub const EV_ERROR: c_int = 0x8000_0000_u32 as c_int;

pub const EVFLAG_AUTO: u32 = 0;
pub const EVFLAG_NOENV: u32 = 0x0100_0000;
pub const EVFLAG_FORKCHECK: u32 = 0x0200_0000;
pub const EVFLAG_NOINOTIFY: u32 = 0x0010_0000;
pub const EVFLAG_SIGNALFD: u32 = 0x0020_0000;
pub const EVFLAG_NOSIGMASK: u32 = 0x0040_0000;
pub const EVFLAG_NOTIMERFD: u32 = 0x0080_0000;

pub const EVBACKEND_SELECT: u32 = 0x01;
pub const EVBACKEND_POLL: u32 = 0x02;
pub const EVBACKEND_EPOLL: u32 = 0x04;
pub const EVBACKEND_KQUEUE: u32 = 0x08;
pub const EVBACKEND_DEVPOLL: u32 = 0x10;
pub const EVBACKEND_PORT: u32 = 0x20;
pub const EVBACKEND_LINUXAIO: u32 = 0x40;
pub const EVBACKEND_IOURING: u32 = 0x80;
pub const EVBACKEND_ALL: u32 = 0xff;
pub const EVBACKEND_MASK: u32 = 0xffff;

pub const EVRUN_NOWAIT: c_int = 1;
pub const EVRUN_ONCE: c_int = 2;
pub const EVBREAK_CANCEL: c_int = 0;
pub const EVBREAK_ONE: c_int = 1;
pub const EVBREAK_ALL: c_int = 2;

pub const EV_MINPRI: c_int = -2;
pub const EV_MAXPRI: c_int = 2;

// ---- layout checks (values measured from Debian's libev 4.33 header, x86_64) ----
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
const _LAYOUT: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<ev_watcher>() == 32);
    assert!(offset_of!(ev_watcher, active) == 0);
    assert!(offset_of!(ev_watcher, pending) == 4);
    assert!(offset_of!(ev_watcher, priority) == 8);
    assert!(offset_of!(ev_watcher, data) == 16);
    assert!(offset_of!(ev_watcher, cb) == 24);
    assert!(size_of::<ev_watcher_list>() == 40);
    assert!(offset_of!(ev_watcher_list, next) == 32);
    assert!(size_of::<ev_watcher_time>() == 40);
    assert!(offset_of!(ev_watcher_time, at) == 32);
    assert!(size_of::<ev_io>() == 48);
    assert!(offset_of!(ev_io, next) == 32);
    assert!(offset_of!(ev_io, fd) == 40);
    assert!(offset_of!(ev_io, events) == 44);
    assert!(size_of::<ev_timer>() == 48);
    assert!(offset_of!(ev_timer, at) == 32);
    assert!(offset_of!(ev_timer, repeat) == 40);
    assert!(size_of::<ev_periodic>() == 64);
    assert!(offset_of!(ev_periodic, at) == 32);
    assert!(offset_of!(ev_periodic, offset) == 40);
    assert!(offset_of!(ev_periodic, interval) == 48);
    assert!(offset_of!(ev_periodic, reschedule_cb) == 56);
    assert!(size_of::<ev_signal>() == 48);
    assert!(offset_of!(ev_signal, signum) == 40);
    assert!(size_of::<ev_child>() == 56);
    assert!(offset_of!(ev_child, flags) == 40);
    assert!(offset_of!(ev_child, pid) == 44);
    assert!(offset_of!(ev_child, rpid) == 48);
    assert!(offset_of!(ev_child, rstatus) == 52);
    assert!(size_of::<ev_async>() == 40);
    assert!(offset_of!(ev_async, sent) == 32);
    assert!(size_of::<ev_stat>() == 400);
    assert!(offset_of!(ev_stat, timer) == 40);
    assert!(offset_of!(ev_stat, interval) == 88);
    assert!(offset_of!(ev_stat, path) == 96);
    assert!(offset_of!(ev_stat, prev) == 104);
    assert!(offset_of!(ev_stat, attr) == 248);
    assert!(offset_of!(ev_stat, wd) == 392);
    assert!(size_of::<ev_embed>() == 360);
    assert!(offset_of!(ev_embed, other) == 32);
    assert!(offset_of!(ev_embed, io) == 40);
    assert!(offset_of!(ev_embed, prepare) == 88);
    assert!(offset_of!(ev_embed, check) == 120);
    assert!(offset_of!(ev_embed, timer) == 152);
    assert!(offset_of!(ev_embed, periodic) == 200);
    assert!(offset_of!(ev_embed, idle) == 264);
    assert!(offset_of!(ev_embed, fork) == 296);
    assert!(offset_of!(ev_embed, cleanup) == 328);
};
