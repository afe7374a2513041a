//! The C ABI: the only module with `extern "C"` functions and `#[no_mangle]` items.
//!
//! Every entry point checks its pointers, converts them and calls the core in a few lines.
//! Pointer contract (libev's): a loop pointer comes from `ev_default_loop`/`ev_loop_new` and
//! is not destroyed; a watcher pointer points to a watcher of the named type that stays valid
//! and unmoved while it is active or pending. NULL, which libev would dereference, is caught
//! here and reported with the function's name before aborting.
//!
//! Functions that can run user callbacks (`ev_run`, `ev_invoke_pending`, `ev_invoke`,
//! `ev_loop_destroy`, and those that call periodic reschedule callbacks) are
//! `extern "C-unwind"`, so a C++ exception thrown by a callback may pass through them as it
//! does through libev. They never keep a borrow of the loop across the callback.

pub mod abi;
pub mod api;
pub mod atfork;
pub mod callbacks;
pub mod globals;
pub mod unimplemented;

use crate::core::event_loop::{Loop, LoopHandle};
use crate::core::watcher::WatcherPtr;
use abi::ev_loop;

/// Abort: `func` was called with a NULL `what`. Out of line and cold, so that the checks
/// in every entry point stay a test and a never-taken branch.
#[cold]
#[inline(never)]
fn null_arg(func: &str, what: &str) -> ! {
    crate::sys::fatal(&format!("{func} called with a NULL {what}"))
}

/// Check a loop pointer; abort with the function name on NULL.
///
/// # Safety
/// A non-null `lp` must be a live loop (pointer contract above).
#[inline]
pub(crate) unsafe fn handle<'a>(lp: *mut ev_loop, func: &str) -> &'a LoopHandle {
    if lp.is_null() {
        null_arg(func, "loop");
    }
    // SAFETY: non-null and, by the caller's contract, live.
    unsafe { LoopHandle::from_ptr(lp) }
}

/// Exclusive access to the loop state for a call that runs no user callbacks.
///
/// # Safety
/// As for [`handle`]; the caller must not run user callbacks while the reference lives.
#[inline]
pub(crate) unsafe fn core_mut<'a>(lp: *mut ev_loop, func: &str) -> &'a mut Loop {
    // SAFETY: caller contract.
    let h = unsafe { handle(lp, func) };
    // SAFETY: one loop is used by one thread at a time (libev's rule), and no other
    // reference to the state is alive outside callback-running code.
    unsafe { &mut *h.core() }
}

/// Check a watcher pointer; abort with the function name on NULL.
///
/// # Safety
/// A non-null `w` must satisfy the watcher pointer contract above.
#[inline]
pub(crate) unsafe fn watcher<T>(w: *mut T, func: &str) -> WatcherPtr {
    // SAFETY: caller contract.
    match unsafe { WatcherPtr::from_raw(w) } {
        Some(w) => w,
        None => null_arg(func, "watcher"),
    }
}
