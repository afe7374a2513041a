//! Exported libev 4.33 functions (all of `Symbols.ev` except the not-yet-implemented
//! `ev_stat_*`/`ev_embed_*`, which live in [`super::unimplemented`]).

use super::abi::*;
use super::callbacks::{once_cb_io, once_cb_to, Once, OnceCb};
use super::globals::{self, AllocFn, SyserrFn};
use super::{core_mut, handle, watcher};
use crate::backend;
use crate::core::event_loop::{self, HookCb, LoopCb, LoopHandle};
use crate::sys;
use core::ffi::{c_int, c_uint, c_void};
use core::mem::MaybeUninit;
use core::ptr::{addr_of_mut, null_mut};

/// The default loop, or NULL. Read directly by the inline `ev_default_loop_uc_()` of ev.h, so
/// it must be a real data symbol (C executables get a copy relocation for it).
#[no_mangle]
pub static mut ev_default_loop_ptr: *mut ev_loop = null_mut();

/// Static storage of the default loop: recreating it after destroy reuses the address.
static mut DEFAULT_STORAGE: MaybeUninit<LoopHandle> = MaybeUninit::uninit();

fn default_ptr() -> *mut ev_loop {
    // SAFETY: plain read of a pointer-sized static; the default loop is, as in libev, not
    // thread-safe to create or destroy.
    unsafe { addr_of_mut!(ev_default_loop_ptr).read() }
}

fn set_default_ptr(p: *mut ev_loop) {
    // SAFETY: see `default_ptr`.
    unsafe { addr_of_mut!(ev_default_loop_ptr).write(p) }
}

// ------------------------------------------------------------------------ global functions

#[no_mangle]
pub extern "C" fn ev_version_major() -> c_int {
    4
}

#[no_mangle]
pub extern "C" fn ev_version_minor() -> c_int {
    33
}

#[no_mangle]
pub extern "C" fn ev_supported_backends() -> c_uint {
    backend::supported()
}

#[no_mangle]
pub extern "C" fn ev_recommended_backends() -> c_uint {
    backend::recommended()
}

#[no_mangle]
pub extern "C" fn ev_embeddable_backends() -> c_uint {
    backend::embeddable()
}

#[no_mangle]
pub extern "C" fn ev_time() -> ev_tstamp {
    sys::realtime()
}

#[no_mangle]
pub extern "C" fn ev_sleep(delay: ev_tstamp) {
    sys::sleep(delay)
}

#[no_mangle]
pub extern "C" fn ev_set_allocator(cb: AllocFn) {
    globals::set_allocator(cb)
}

#[no_mangle]
pub extern "C" fn ev_set_syserr_cb(cb: SyserrFn) {
    globals::set_syserr_cb(cb)
}

#[no_mangle]
pub extern "C" fn ev_feed_signal(signum: c_int) {
    crate::core::signals::feed_signal(signum)
}

// ------------------------------------------------------------------------ loop lifecycle

#[no_mangle]
pub extern "C" fn ev_default_loop(flags: c_uint) -> *mut ev_loop {
    if default_ptr().is_null() {
        if let Some(h) = LoopHandle::new(flags, true) {
            // SAFETY: the storage is unused while ev_default_loop_ptr is NULL.
            let p = unsafe { (*addr_of_mut!(DEFAULT_STORAGE)).write(h) as *mut LoopHandle };
            // SAFETY: `p` is the handle's final address.
            unsafe { (*p).post_init() };
            set_default_ptr(p as *mut ev_loop);
        }
    }
    default_ptr()
}

#[no_mangle]
pub extern "C" fn ev_loop_new(flags: c_uint) -> *mut ev_loop {
    match LoopHandle::new(flags, false) {
        Some(h) => {
            let p = Box::into_raw(Box::new(h));
            // SAFETY: `p` is the handle's final address.
            unsafe { (*p).post_init() };
            p as *mut ev_loop
        }
        None => null_mut(),
    }
}

/// # Safety
/// `lp` is NULL or a live loop.
#[no_mangle]
pub unsafe extern "C-unwind" fn ev_loop_destroy(lp: *mut ev_loop) {
    if lp.is_null() {
        return;
    }
    // SAFETY: live loop, no borrow held.
    unsafe { event_loop::destroy(lp) };
    if lp == default_ptr() {
        set_default_ptr(null_mut());
        // SAFETY: the default loop lives in DEFAULT_STORAGE and is dropped exactly once here.
        unsafe { core::ptr::drop_in_place(lp as *mut LoopHandle) };
    } else {
        // SAFETY: created by Box::into_raw in ev_loop_new.
        drop(unsafe { Box::from_raw(lp as *mut LoopHandle) });
    }
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_loop_fork(lp: *mut ev_loop) {
    // SAFETY: caller contract. Only a flag: all kernel work happens in the next ev_run.
    unsafe { core_mut(lp, "ev_loop_fork") }.postfork = true;
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_backend(lp: *mut ev_loop) -> c_uint {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_backend") }.backend_kind()
}

// ------------------------------------------------------------------------ running

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C-unwind" fn ev_run(lp: *mut ev_loop, flags: c_int) -> c_int {
    // SAFETY: caller contract (checked for NULL).
    unsafe {
        handle(lp, "ev_run");
        event_loop::run(lp, flags)
    }
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_break(lp: *mut ev_loop, how: c_int) {
    // SAFETY: caller contract.
    event_loop::set_break(unsafe { core_mut(lp, "ev_break") }, how)
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_ref(lp: *mut ev_loop) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_ref") }.activecnt += 1;
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_unref(lp: *mut ev_loop) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_unref") }.activecnt -= 1;
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_iteration(lp: *mut ev_loop) -> c_uint {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_iteration") }.loop_count
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_depth(lp: *mut ev_loop) -> c_uint {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_depth") }.loop_depth
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_verify(lp: *mut ev_loop) {
    // SAFETY: caller contract.
    if let Err(e) = unsafe { core_mut(lp, "ev_verify") }.verify() {
        sys::fatal(&format!("ev_verify: loop state is inconsistent: {e}"));
    }
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C-unwind" fn ev_invoke_pending(lp: *mut ev_loop) {
    // SAFETY: caller contract; no borrow held.
    unsafe {
        handle(lp, "ev_invoke_pending");
        event_loop::invoke_pending(lp)
    }
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_pending_count(lp: *mut ev_loop) -> c_uint {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_pending_count") }.pending_count()
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_set_invoke_pending_cb(lp: *mut ev_loop, cb: LoopCb) {
    // Setting it back to ev_invoke_pending selects the built-in path.
    let ours = ev_invoke_pending as unsafe extern "C-unwind" fn(*mut ev_loop) as usize;
    let cb = cb.filter(|f| *f as usize != ours);
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_set_invoke_pending_cb") }.invoke_cb = cb;
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_set_loop_release_cb(
    lp: *mut ev_loop,
    release: HookCb,
    acquire: HookCb,
) {
    // SAFETY: caller contract.
    let l = unsafe { core_mut(lp, "ev_set_loop_release_cb") };
    l.release_cb = release;
    l.acquire_cb = acquire;
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_set_userdata(lp: *mut ev_loop, data: *mut c_void) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_set_userdata") }.userdata = data;
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_userdata(lp: *mut ev_loop) -> *mut c_void {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_userdata") }.userdata
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_set_io_collect_interval(lp: *mut ev_loop, interval: ev_tstamp) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_set_io_collect_interval") }.io_blocktime = interval;
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_set_timeout_collect_interval(lp: *mut ev_loop, interval: ev_tstamp) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_set_timeout_collect_interval") }.timeout_blocktime = interval;
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C-unwind" fn ev_suspend(lp: *mut ev_loop) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_suspend") }.suspend();
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C-unwind" fn ev_resume(lp: *mut ev_loop) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_resume") }.resume();
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_now(lp: *mut ev_loop) -> ev_tstamp {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_now") }.rt_now
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C-unwind" fn ev_now_update(lp: *mut ev_loop) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_now_update") }.time_update();
}

// ------------------------------------------------------------------------ generic watchers

/// # Safety
/// `lp` is a live loop, `w` a watcher.
#[no_mangle]
pub unsafe extern "C" fn ev_feed_event(lp: *mut ev_loop, w: *mut c_void, revents: c_int) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_feed_event").feed(watcher(w, "ev_feed_event"), revents) }
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_feed_fd_event(lp: *mut ev_loop, fd: c_int, revents: c_int) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_feed_fd_event") }.feed_fd_event(fd, revents)
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_feed_signal_event(lp: *mut ev_loop, signum: c_int) {
    // SAFETY: caller contract.
    let h = unsafe { handle(lp, "ev_feed_signal_event") };
    // SAFETY: no user code runs while the borrow lives.
    unsafe { (*h.core()).feed_signal_event(h, signum) }
}

/// # Safety
/// `lp` is a live loop, `w` a watcher.
#[no_mangle]
pub unsafe extern "C-unwind" fn ev_invoke(lp: *mut ev_loop, w: *mut c_void, revents: c_int) {
    // SAFETY: caller contract; no borrow held while the callback runs.
    unsafe {
        handle(lp, "ev_invoke");
        watcher(w, "ev_invoke").invoke(lp, revents)
    }
}

/// # Safety
/// `lp` is a live loop, `w` a watcher.
#[no_mangle]
pub unsafe extern "C" fn ev_clear_pending(lp: *mut ev_loop, w: *mut c_void) -> c_int {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_clear_pending").clear_pending(watcher(w, "ev_clear_pending")) }
}

/// # Safety
/// `lp` is a live loop.
#[no_mangle]
pub unsafe extern "C" fn ev_once(
    lp: *mut ev_loop,
    fd: c_int,
    events: c_int,
    timeout: ev_tstamp,
    cb: OnceCb,
    arg: *mut c_void,
) {
    // SAFETY: caller contract.
    let l = unsafe { core_mut(lp, "ev_once") };
    // (`timeout` may be NaN, which counts as "no timeout", as in libev.)
    let has_timeout = timeout >= 0.0;
    if fd < 0 && !has_timeout {
        // Nothing would ever fire (libev leaks the allocation here; we make none).
        return;
    }
    // SAFETY: all-zero is a valid initial state for both watchers.
    let once = Box::into_raw(Box::new(Once {
        io: unsafe { core::mem::zeroed() },
        to: unsafe { core::mem::zeroed() },
        cb,
        arg,
    }));
    // SAFETY: `once` is live until one of its callbacks frees it.
    unsafe {
        (*once).io.cb = Some(once_cb_io);
        (*once).to.cb = Some(once_cb_to);
        if fd >= 0 {
            (*once).io.fd = fd;
            (*once).io.events = events | EV__IOFDSET;
            l.io_start(watcher(addr_of_mut!((*once).io), "ev_once"));
        }
        if has_timeout {
            (*once).to.at = timeout;
            (*once).to.repeat = 0.0;
            l.timer_start(watcher(addr_of_mut!((*once).to), "ev_once"));
        }
    }
}

// ------------------------------------------------------------------------ per-type start/stop

// Per-type start/stop functions. Written out (not generated by a macro) so that the
// prototype check (cbindgen) sees every one of them.

/// # Safety
/// `lp` is a live loop, `w` an `ev_io`.
#[no_mangle]
pub unsafe extern "C" fn ev_io_start(lp: *mut ev_loop, w: *mut ev_io) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_io_start").io_start(watcher(w, "ev_io_start")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_io`.
#[no_mangle]
pub unsafe extern "C" fn ev_io_stop(lp: *mut ev_loop, w: *mut ev_io) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_io_stop").io_stop(watcher(w, "ev_io_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_timer`.
#[no_mangle]
pub unsafe extern "C" fn ev_timer_start(lp: *mut ev_loop, w: *mut ev_timer) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_timer_start").timer_start(watcher(w, "ev_timer_start")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_timer`.
#[no_mangle]
pub unsafe extern "C" fn ev_timer_stop(lp: *mut ev_loop, w: *mut ev_timer) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_timer_stop").timer_stop(watcher(w, "ev_timer_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_timer`.
#[no_mangle]
pub unsafe extern "C" fn ev_timer_again(lp: *mut ev_loop, w: *mut ev_timer) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_timer_again").timer_again(watcher(w, "ev_timer_again")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_periodic`.
#[no_mangle]
pub unsafe extern "C" fn ev_periodic_stop(lp: *mut ev_loop, w: *mut ev_periodic) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_periodic_stop").periodic_stop(watcher(w, "ev_periodic_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_signal`.
#[no_mangle]
pub unsafe extern "C" fn ev_signal_stop(lp: *mut ev_loop, w: *mut ev_signal) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_signal_stop").signal_stop(watcher(w, "ev_signal_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_child`.
#[no_mangle]
pub unsafe extern "C" fn ev_child_start(lp: *mut ev_loop, w: *mut ev_child) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_child_start").child_start(watcher(w, "ev_child_start")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_child`.
#[no_mangle]
pub unsafe extern "C" fn ev_child_stop(lp: *mut ev_loop, w: *mut ev_child) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_child_stop").child_stop(watcher(w, "ev_child_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_idle`.
#[no_mangle]
pub unsafe extern "C" fn ev_idle_start(lp: *mut ev_loop, w: *mut ev_idle) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_idle_start").idle_start(watcher(w, "ev_idle_start")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_idle`.
#[no_mangle]
pub unsafe extern "C" fn ev_idle_stop(lp: *mut ev_loop, w: *mut ev_idle) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_idle_stop").idle_stop(watcher(w, "ev_idle_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_prepare`.
#[no_mangle]
pub unsafe extern "C" fn ev_prepare_start(lp: *mut ev_loop, w: *mut ev_prepare) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_prepare_start").prepare_start(watcher(w, "ev_prepare_start")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_prepare`.
#[no_mangle]
pub unsafe extern "C" fn ev_prepare_stop(lp: *mut ev_loop, w: *mut ev_prepare) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_prepare_stop").prepare_stop(watcher(w, "ev_prepare_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_check`.
#[no_mangle]
pub unsafe extern "C" fn ev_check_start(lp: *mut ev_loop, w: *mut ev_check) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_check_start").check_start(watcher(w, "ev_check_start")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_check`.
#[no_mangle]
pub unsafe extern "C" fn ev_check_stop(lp: *mut ev_loop, w: *mut ev_check) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_check_stop").check_stop(watcher(w, "ev_check_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_fork`.
#[no_mangle]
pub unsafe extern "C" fn ev_fork_start(lp: *mut ev_loop, w: *mut ev_fork) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_fork_start").fork_start(watcher(w, "ev_fork_start")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_fork`.
#[no_mangle]
pub unsafe extern "C" fn ev_fork_stop(lp: *mut ev_loop, w: *mut ev_fork) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_fork_stop").fork_stop(watcher(w, "ev_fork_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_cleanup`.
#[no_mangle]
pub unsafe extern "C" fn ev_cleanup_start(lp: *mut ev_loop, w: *mut ev_cleanup) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_cleanup_start").cleanup_start(watcher(w, "ev_cleanup_start")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_cleanup`.
#[no_mangle]
pub unsafe extern "C" fn ev_cleanup_stop(lp: *mut ev_loop, w: *mut ev_cleanup) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_cleanup_stop").cleanup_stop(watcher(w, "ev_cleanup_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_async`.
#[no_mangle]
pub unsafe extern "C" fn ev_async_stop(lp: *mut ev_loop, w: *mut ev_async) {
    // SAFETY: caller contract; this method runs no user code.
    unsafe { core_mut(lp, "ev_async_stop").async_stop(watcher(w, "ev_async_stop")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_timer`.
#[no_mangle]
pub unsafe extern "C" fn ev_timer_remaining(lp: *mut ev_loop, w: *mut ev_timer) -> ev_tstamp {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_timer_remaining").timer_remaining(watcher(w, "ev_timer_remaining")) }
}

/// May call the periodic's reschedule callback.
///
/// # Safety
/// `lp` is a live loop, `w` an `ev_periodic`.
#[no_mangle]
pub unsafe extern "C-unwind" fn ev_periodic_start(lp: *mut ev_loop, w: *mut ev_periodic) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_periodic_start").periodic_start(watcher(w, "ev_periodic_start")) }
}

/// May call the periodic's reschedule callback.
///
/// # Safety
/// `lp` is a live loop, `w` an `ev_periodic`.
#[no_mangle]
pub unsafe extern "C-unwind" fn ev_periodic_again(lp: *mut ev_loop, w: *mut ev_periodic) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_periodic_again").periodic_again(watcher(w, "ev_periodic_again")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_signal`.
#[no_mangle]
pub unsafe extern "C" fn ev_signal_start(lp: *mut ev_loop, w: *mut ev_signal) {
    // SAFETY: caller contract.
    let h = unsafe { handle(lp, "ev_signal_start") };
    // SAFETY: no user code runs while the borrow lives.
    unsafe { (*h.core()).signal_start(h, watcher(w, "ev_signal_start")) }
}

/// # Safety
/// `lp` is a live loop, `w` an `ev_async`.
#[no_mangle]
pub unsafe extern "C" fn ev_async_start(lp: *mut ev_loop, w: *mut ev_async) {
    // SAFETY: caller contract.
    let h = unsafe { handle(lp, "ev_async_start") };
    // SAFETY: no user code runs while the borrow lives.
    unsafe { (*h.core()).async_start(h, watcher(w, "ev_async_start")) }
}

/// Thread-safe and async-signal-safe: touches only atomics and the wakeup fd.
///
/// # Safety
/// `lp` is a live loop, `w` an `ev_async` started on it (or about to be).
#[no_mangle]
pub unsafe extern "C" fn ev_async_send(lp: *mut ev_loop, w: *mut ev_async) {
    // SAFETY: caller contract. Only `wake` (atomics) is used: the loop state may be in use
    // by the loop's own thread right now.
    let h = unsafe { handle(lp, "ev_async_send") };
    // SAFETY: caller contract.
    let w = unsafe { watcher(w, "ev_async_send") };
    w.async_sent()
        .store(1, core::sync::atomic::Ordering::Release);
    h.wake.write(&h.wake.async_pending);
}
