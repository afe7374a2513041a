//! Exported symbols that are not implemented yet: `ev_stat_*`, `ev_embed_*` and libev's
//! libevent emulation (`event_*`). They exist so that programs linked against libev.so.4
//! load, and each one aborts with its name instead of silently doing nothing. Written out one
//! by one so that the prototype check (cbindgen) sees them.

use super::abi::{ev_embed, ev_loop, ev_stat};
use super::{core_mut, watcher};
use core::ffi::c_void;

fn not_implemented(name: &str) -> ! {
    crate::sys::fatal(&format!(
        "{name} is not implemented in this version of evring"
    ))
}

#[no_mangle]
pub extern "C" fn ev_stat_start(_loop: *mut ev_loop, _w: *mut ev_stat) {
    not_implemented("ev_stat_start")
}

/// Stopping is defined even for watchers that were never started: it clears a pending
/// event (e.g. one fed with `ev_feed_event`). Such a watcher can never be active here,
/// because starting one aborts.
///
/// # Safety
/// `lp` is a live loop, `w` an `ev_stat`.
#[no_mangle]
pub unsafe extern "C" fn ev_stat_stop(lp: *mut ev_loop, w: *mut ev_stat) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_stat_stop").clear_pending(watcher(w, "ev_stat_stop")) };
}

#[no_mangle]
pub extern "C" fn ev_stat_stat(_loop: *mut ev_loop, _w: *mut ev_stat) {
    not_implemented("ev_stat_stat")
}

#[no_mangle]
pub extern "C" fn ev_embed_start(_loop: *mut ev_loop, _w: *mut ev_embed) {
    not_implemented("ev_embed_start")
}

/// Stopping is defined even for watchers that were never started: it clears a pending
/// event (e.g. one fed with `ev_feed_event`). Such a watcher can never be active here,
/// because starting one aborts.
///
/// # Safety
/// `lp` is a live loop, `w` an `ev_embed`.
#[no_mangle]
pub unsafe extern "C" fn ev_embed_stop(lp: *mut ev_loop, w: *mut ev_embed) {
    // SAFETY: caller contract.
    unsafe { core_mut(lp, "ev_embed_stop").clear_pending(watcher(w, "ev_embed_stop")) };
}

#[no_mangle]
pub extern "C" fn ev_embed_sweep(_loop: *mut ev_loop, _w: *mut ev_embed) {
    not_implemented("ev_embed_sweep")
}

// libevent emulation: no header of ours declares these; their real argument lists differ,
// but they abort before looking at any argument.
#[no_mangle]
pub extern "C" fn event_active(_a: *mut c_void) {
    not_implemented("event_active")
}

#[no_mangle]
pub extern "C" fn event_add(_a: *mut c_void) {
    not_implemented("event_add")
}

#[no_mangle]
pub extern "C" fn event_base_dispatch(_a: *mut c_void) {
    not_implemented("event_base_dispatch")
}

#[no_mangle]
pub extern "C" fn event_base_free(_a: *mut c_void) {
    not_implemented("event_base_free")
}

#[no_mangle]
pub extern "C" fn event_base_get_method(_a: *mut c_void) {
    not_implemented("event_base_get_method")
}

#[no_mangle]
pub extern "C" fn event_base_loop(_a: *mut c_void) {
    not_implemented("event_base_loop")
}

#[no_mangle]
pub extern "C" fn event_base_loopexit(_a: *mut c_void) {
    not_implemented("event_base_loopexit")
}

#[no_mangle]
pub extern "C" fn event_base_new(_a: *mut c_void) {
    not_implemented("event_base_new")
}

#[no_mangle]
pub extern "C" fn event_base_once(_a: *mut c_void) {
    not_implemented("event_base_once")
}

#[no_mangle]
pub extern "C" fn event_base_priority_init(_a: *mut c_void) {
    not_implemented("event_base_priority_init")
}

#[no_mangle]
pub extern "C" fn event_base_set(_a: *mut c_void) {
    not_implemented("event_base_set")
}

#[no_mangle]
pub extern "C" fn event_del(_a: *mut c_void) {
    not_implemented("event_del")
}

#[no_mangle]
pub extern "C" fn event_dispatch(_a: *mut c_void) {
    not_implemented("event_dispatch")
}

#[no_mangle]
pub extern "C" fn event_get_callback(_a: *mut c_void) {
    not_implemented("event_get_callback")
}

#[no_mangle]
pub extern "C" fn event_get_method(_a: *mut c_void) {
    not_implemented("event_get_method")
}

#[no_mangle]
pub extern "C" fn event_get_version(_a: *mut c_void) {
    not_implemented("event_get_version")
}

#[no_mangle]
pub extern "C" fn event_init(_a: *mut c_void) {
    not_implemented("event_init")
}

#[no_mangle]
pub extern "C" fn event_loop(_a: *mut c_void) {
    not_implemented("event_loop")
}

#[no_mangle]
pub extern "C" fn event_loopexit(_a: *mut c_void) {
    not_implemented("event_loopexit")
}

#[no_mangle]
pub extern "C" fn event_once(_a: *mut c_void) {
    not_implemented("event_once")
}

#[no_mangle]
pub extern "C" fn event_pending(_a: *mut c_void) {
    not_implemented("event_pending")
}

#[no_mangle]
pub extern "C" fn event_priority_init(_a: *mut c_void) {
    not_implemented("event_priority_init")
}

#[no_mangle]
pub extern "C" fn event_priority_set(_a: *mut c_void) {
    not_implemented("event_priority_set")
}

#[no_mangle]
pub extern "C" fn event_set(_a: *mut c_void) {
    not_implemented("event_set")
}
