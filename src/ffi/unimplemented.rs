//! Exported symbols that are not implemented yet: `ev_stat_*`, `ev_embed_*` and libev's
//! libevent emulation (`event_*`). They exist so that programs linked against libev.so.4
//! load, and each one aborts with its name instead of silently doing nothing.

use core::ffi::c_void;

macro_rules! not_implemented {
    ($($name:ident),* $(,)?) => {$(
        #[no_mangle]
        pub extern "C" fn $name(_a: *mut c_void, _b: *mut c_void, _c: *mut c_void, _d: *mut c_void, _e: *mut c_void, _f: *mut c_void) {
            crate::sys::fatal(concat!(stringify!($name), " is not implemented in this version of evring"));
        }
    )*};
}

not_implemented! {
    ev_stat_start, ev_stat_stop, ev_stat_stat,
    ev_embed_start, ev_embed_stop, ev_embed_sweep,
    event_active, event_add, event_base_dispatch, event_base_free, event_base_get_method,
    event_base_loop, event_base_loopexit, event_base_new, event_base_once,
    event_base_priority_init, event_base_set, event_del, event_dispatch, event_get_callback,
    event_get_method, event_get_version, event_init, event_loop, event_loopexit, event_once,
    event_pending, event_priority_init, event_priority_set, event_set,
}
