//! C-callable functions the library installs itself: the signal handler and the callbacks
//! of its internal watchers (wakeup fd, child reaper, `ev_once`). They only forward to core.

use super::abi::*;
use crate::core::event_loop::LoopHandle;
use crate::core::signals;
use crate::core::watcher::WatcherPtr;
use core::ffi::{c_int, c_void};
use core::mem::offset_of;

/// The handler installed with sigaction for every watched signal. Async-signal-safe: it
/// only sets flags and writes to the owning loop's wakeup fd (preserving errno).
pub extern "C" fn sighandler(signum: c_int) {
    signals::feed_signal(signum);
}

/// Internal wakeup watchers (signals and asyncs; two per loop, on two numbers of one object,
/// or one, edge-triggered, for an eventfd on an epoll set: see `core::loopfds` and
/// `Loop::obj_start`). `revents` carries `EV_ERROR` when a number was closed under us.
pub unsafe extern "C-unwind" fn pipe_cb(lp: *mut ev_loop, _w: *mut ev_watcher, revents: c_int) {
    // SAFETY: called by our loop with its own pointer; no other borrow is alive.
    let h = unsafe { LoopHandle::from_ptr(lp) };
    // SAFETY: as above; `pipe_cb` runs no user code.
    unsafe { (*h.core()).pipe_cb(h, revents) };
}

/// Internal SIGCHLD watcher of the default loop.
pub unsafe extern "C-unwind" fn child_cb(lp: *mut ev_loop, _w: *mut ev_watcher, _revents: c_int) {
    // SAFETY: as for `pipe_cb`.
    let h = unsafe { LoopHandle::from_ptr(lp) };
    // SAFETY: as above; `child_cb` runs no user code.
    unsafe { (*h.core()).child_cb() };
}

/// Internal signalfd watcher (`EVFLAG_SIGNALFD`).
pub unsafe extern "C-unwind" fn sigfd_cb(lp: *mut ev_loop, _w: *mut ev_watcher, revents: c_int) {
    // SAFETY: as for `pipe_cb`.
    let h = unsafe { LoopHandle::from_ptr(lp) };
    // SAFETY: as above; `sigfd_cb` runs no user code.
    unsafe { (*h.core()).sigfd_cb(h, revents) };
}

/// Internal wall-clock timerfd watcher.
pub unsafe extern "C-unwind" fn timerfd_cb(lp: *mut ev_loop, _w: *mut ev_watcher, revents: c_int) {
    // SAFETY: as for `pipe_cb`.
    let h = unsafe { LoopHandle::from_ptr(lp) };
    // SAFETY: as above; `timerfd_cb` only calls periodic reschedule callbacks, which get no
    // loop pointer.
    unsafe { (*h.core()).timerfd_cb(revents) };
}

pub type OnceCb = Option<unsafe extern "C-unwind" fn(c_int, *mut c_void)>;

/// The hidden io + timer pair behind `ev_once`.
#[repr(C)]
pub struct Once {
    pub io: ev_io,
    pub to: ev_timer,
    pub cb: OnceCb,
    pub arg: *mut c_void,
}

/// Stop both watchers, free the pair, then call the user's function.
unsafe fn once_finish(lp: *mut ev_loop, once: *mut Once, revents: c_int) {
    // SAFETY: `once` was created by `ev_once` and is freed exactly once, here.
    let (cb, arg) = unsafe { ((*once).cb, (*once).arg) };
    {
        // SAFETY: our loop; no user code runs in this scope.
        let l = unsafe { &mut *LoopHandle::from_ptr(lp).core() };
        // SAFETY: the two watchers live inside `once`.
        let (io, to) = unsafe {
            (
                WatcherPtr::from_raw(core::ptr::addr_of_mut!((*once).io)).unwrap(),
                WatcherPtr::from_raw(core::ptr::addr_of_mut!((*once).to)).unwrap(),
            )
        };
        l.io_stop(io);
        l.timer_stop(to);
    }
    // SAFETY: allocated with Box in `ev_once`; both watchers are stopped and not pending.
    drop(unsafe { Box::from_raw(once) });
    if let Some(cb) = cb {
        // SAFETY: the user's callback with the user's argument; no borrow alive.
        unsafe { cb(revents, arg) };
    }
}

pub unsafe extern "C-unwind" fn once_cb_io(lp: *mut ev_loop, w: *mut ev_watcher, revents: c_int) {
    let once = w as *mut Once; // `io` is the first field
                               // SAFETY: `once` is live; the timer lives inside it.
    let extra = unsafe {
        let l = &mut *LoopHandle::from_ptr(lp).core();
        l.clear_pending(WatcherPtr::from_raw(core::ptr::addr_of_mut!((*once).to)).unwrap())
    };
    // SAFETY: as above.
    unsafe { once_finish(lp, once, revents | extra) };
}

pub unsafe extern "C-unwind" fn once_cb_to(lp: *mut ev_loop, w: *mut ev_watcher, revents: c_int) {
    let once = (w as *mut u8).wrapping_sub(offset_of!(Once, to)) as *mut Once;
    // SAFETY: `once` is live; the io watcher lives inside it.
    let extra = unsafe {
        let l = &mut *LoopHandle::from_ptr(lp).core();
        l.clear_pending(WatcherPtr::from_raw(core::ptr::addr_of_mut!((*once).io)).unwrap())
    };
    // SAFETY: as above.
    unsafe { once_finish(lp, once, revents | extra) };
}
