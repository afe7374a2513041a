//! The process-global signal table.
//!
//! Signal dispositions are process-wide, so, as in libev, each signal number is bound to at
//! most one loop at a time (the loop of its first started watcher). The handler only marks
//! the signal pending and wakes the owning loop through its wakeup fd; callbacks then run
//! synchronously from that loop's `ev_run`.

use super::event_loop::LoopHandle;
use crate::ffi::abi::ev_watcher_list;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

/// One more than the highest signal number (Linux: 64 signals).
pub const NSIG: usize = 65;

pub struct SigSlot {
    /// Set by the handler (any thread, async-signal context), cleared by the owning loop.
    pub pending: AtomicI32,
    /// The loop this signal is bound to, or null.
    pub owner: AtomicPtr<LoopHandle>,
    /// Watchers for this signal (newest first). Touched only by the owning loop's thread.
    head: UnsafeCell<*mut ev_watcher_list>,
}

// SAFETY: `pending` and `owner` are atomics; `head` is only accessed by the thread that runs
// the owning loop (libev's threading rule: one loop, one thread at a time).
unsafe impl Sync for SigSlot {}

impl SigSlot {
    const fn new() -> SigSlot {
        SigSlot {
            pending: AtomicI32::new(0),
            owner: AtomicPtr::new(core::ptr::null_mut()),
            head: UnsafeCell::new(core::ptr::null_mut()),
        }
    }

    /// Pointer to the list head, for the owning loop.
    pub fn head(&self) -> *mut *mut ev_watcher_list {
        self.head.get()
    }
}

pub static SIGNALS: [SigSlot; NSIG - 1] = [const { SigSlot::new() }; NSIG - 1];

/// The slot of `signum`, if it is a valid signal number.
#[inline]
pub fn slot(signum: i32) -> Option<&'static SigSlot> {
    if signum > 0 && (signum as usize) < NSIG {
        Some(&SIGNALS[signum as usize - 1])
    } else {
        None
    }
}

static PARK: u8 = 0;

/// The owner of a signal whose watchers belonged to the default loop when it was destroyed
/// while they were active. libev keeps such a binding (its default loop is static memory)
/// and the next `ev_default_loop` takes the watchers over; a signal arriving meanwhile is
/// remembered. evring does the same with this marker, which is never dereferenced
/// ([`adopt_parked`]).
pub fn parked() -> *mut LoopHandle {
    core::ptr::addr_of!(PARK) as *mut LoopHandle
}

/// Bind every parked signal to `me` (a new default loop). Returns whether one of them arrived
/// while parked (the caller wakes its loop to process it).
pub fn adopt_parked(me: *mut LoopHandle) -> bool {
    let mut any = false;
    for s in SIGNALS.iter() {
        if s.owner.load(Ordering::Acquire) == parked() {
            s.owner.store(me, Ordering::Release);
            any |= s.pending.load(Ordering::Acquire) != 0;
        }
    }
    any
}

/// Act as if `signum` arrived: async-signal-safe and thread-safe (no locks, no allocation).
/// Used by our signal handler and by `ev_feed_signal`.
pub fn feed_signal(signum: i32) {
    let Some(s) = slot(signum) else { return };
    let owner = s.owner.load(Ordering::Acquire);
    if owner.is_null() {
        return;
    }
    if owner == parked() {
        // No loop yet: remembered for the next default loop.
        s.pending.store(1, Ordering::Release);
        return;
    }
    s.pending.store(1, Ordering::Release);
    // SAFETY: a loop clears its slots (owner = null) before it is freed, so a non-null owner
    // points to a live LoopHandle; `wake` only contains atomics.
    let wake = unsafe { &(*owner).wake };
    wake.write(&wake.sig_pending);
}
