//! The one place that reads and writes C-owned watcher memory.
//!
//! Watchers live in the caller's memory (often embedded in the caller's own structs) and C
//! code reads and writes their fields through `ev.h` macros between our calls. We therefore
//! never keep Rust references to a watcher: every access goes through a raw pointer, field by
//! field, right when it is needed. `cb` and `priority` are re-read at each use because the
//! caller may change them with `ev_set_cb`/`ev_set_priority` while the watcher is stopped.
//!
//! # Validity contract
//! A [`WatcherPtr`] is created only from a pointer the C caller passed to a libev entry point
//! (`ev_TYPE_start`, `ev_feed_event`, ...) or from our own internal watchers. libev's contract
//! (manual, "ANATOMY OF A WATCHER") is that the memory of a watcher stays valid and unmoved
//! while it is active or pending; the loop only keeps `WatcherPtr`s to such watchers, and drops
//! them (stop, clear pending, invoke) before the caller may free the memory. Under that
//! contract every method below is sound, which is why they are safe to call.

use crate::ffi::abi::*;
use core::ffi::c_int;
use core::ptr::NonNull;
use core::sync::atomic::AtomicI32;

/// A pointer to a watcher of any type (all start with the `ev_watcher` head).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WatcherPtr(NonNull<ev_watcher>);

impl WatcherPtr {
    /// # Safety
    /// `p` must point to a live watcher whose memory starts with the `ev_watcher` head and
    /// stays valid as described in the module documentation.
    #[inline]
    pub unsafe fn from_raw<T>(p: *mut T) -> Option<WatcherPtr> {
        NonNull::new(p as *mut ev_watcher).map(WatcherPtr)
    }

    #[inline]
    pub fn raw(self) -> *mut ev_watcher {
        self.0.as_ptr()
    }

    #[inline]
    fn w(self) -> *mut ev_watcher {
        self.0.as_ptr()
    }

    #[inline]
    pub fn active(self) -> c_int {
        // SAFETY: module contract: the watcher memory is valid.
        unsafe { (*self.w()).active }
    }
    #[inline]
    pub fn set_active(self, v: c_int) {
        // SAFETY: module contract.
        unsafe { (*self.w()).active = v }
    }
    #[inline]
    pub fn pending(self) -> c_int {
        // SAFETY: module contract.
        unsafe { (*self.w()).pending }
    }
    #[inline]
    pub fn set_pending(self, v: c_int) {
        // SAFETY: module contract.
        unsafe { (*self.w()).pending = v }
    }
    #[inline]
    pub fn priority(self) -> c_int {
        // SAFETY: module contract.
        unsafe { (*self.w()).priority }
    }
    #[inline]
    pub fn set_priority(self, v: c_int) {
        // SAFETY: module contract.
        unsafe { (*self.w()).priority = v }
    }
    /// Index (0..NUMPRI) of the watcher's priority; out-of-range values are clamped so a
    /// corrupted priority can never index outside our arrays.
    #[inline]
    pub fn abspri(self) -> usize {
        (self.priority().clamp(EV_MINPRI, EV_MAXPRI) - EV_MINPRI) as usize
    }
    #[inline]
    pub fn cb(self) -> WatcherCb {
        // SAFETY: module contract.
        unsafe { (*self.w()).cb }
    }

    // ---- list watchers (io, signal, child) ----
    #[inline]
    fn l(self) -> *mut ev_watcher_list {
        self.w() as *mut ev_watcher_list
    }
    #[inline]
    pub fn next(self) -> *mut ev_watcher_list {
        // SAFETY: only called on list watchers (io/signal/child), which have `next` at 32.
        unsafe { (*self.l()).next }
    }
    #[inline]
    pub fn set_next(self, n: *mut ev_watcher_list) {
        // SAFETY: as for `next`.
        unsafe { (*self.l()).next = n }
    }

    // ---- time watchers (timer, periodic) ----
    #[inline]
    fn t(self) -> *mut ev_watcher_time {
        self.w() as *mut ev_watcher_time
    }
    #[inline]
    pub fn at(self) -> f64 {
        // SAFETY: only called on timers and periodics (`at` at 32).
        unsafe { (*self.t()).at }
    }
    #[inline]
    pub fn set_at(self, v: f64) {
        // SAFETY: as for `at`.
        unsafe { (*self.t()).at = v }
    }
    #[inline]
    pub fn repeat(self) -> f64 {
        // SAFETY: only called on `ev_timer`s.
        unsafe { (*(self.w() as *mut ev_timer)).repeat }
    }
    #[inline]
    pub fn periodic_offset(self) -> f64 {
        // SAFETY: only called on `ev_periodic`s.
        unsafe { (*(self.w() as *mut ev_periodic)).offset }
    }
    #[inline]
    pub fn periodic_interval(self) -> f64 {
        // SAFETY: only called on `ev_periodic`s.
        unsafe { (*(self.w() as *mut ev_periodic)).interval }
    }
    #[inline]
    pub fn reschedule_cb(self) -> RescheduleCb {
        // SAFETY: only called on `ev_periodic`s.
        unsafe { (*(self.w() as *mut ev_periodic)).reschedule_cb }
    }
    /// Call the periodic's reschedule callback. It receives no loop pointer and, as libev
    /// documents, must not modify the loop.
    #[inline]
    pub fn call_reschedule(
        self,
        cb: unsafe extern "C-unwind" fn(*mut ev_periodic, f64) -> f64,
        now: f64,
    ) -> f64 {
        // SAFETY: calling the user's callback with the pointer it registered.
        unsafe { cb(self.w() as *mut ev_periodic, now) }
    }

    // ---- io ----
    #[inline]
    pub fn io_fd(self) -> c_int {
        // SAFETY: only called on `ev_io`s.
        unsafe { (*(self.w() as *mut ev_io)).fd }
    }
    #[inline]
    pub fn io_events(self) -> c_int {
        // SAFETY: only called on `ev_io`s.
        unsafe { (*(self.w() as *mut ev_io)).events }
    }
    #[inline]
    pub fn set_io_events(self, v: c_int) {
        // SAFETY: only called on `ev_io`s.
        unsafe { (*(self.w() as *mut ev_io)).events = v }
    }
    /// Initialise an internal io watcher (what `ev_io_init` does in C).
    pub fn init_io(self, cb: WatcherCb, fd: c_int, events: c_int) {
        let p = self.w() as *mut ev_io;
        // SAFETY: `self` points at an `ev_io` we own.
        unsafe {
            (*p).active = 0;
            (*p).pending = 0;
            (*p).priority = 0;
            (*p).cb = cb;
            (*p).fd = fd;
            (*p).events = events | EV__IOFDSET;
        }
    }

    // ---- signal / child ----
    #[inline]
    pub fn signum(self) -> c_int {
        // SAFETY: only called on `ev_signal`s.
        unsafe { (*(self.w() as *mut ev_signal)).signum }
    }
    #[inline]
    pub fn child_pid(self) -> c_int {
        // SAFETY: only called on `ev_child`ren.
        unsafe { (*(self.w() as *mut ev_child)).pid }
    }
    #[inline]
    pub fn child_flags(self) -> c_int {
        // SAFETY: only called on `ev_child`ren.
        unsafe { (*(self.w() as *mut ev_child)).flags }
    }
    #[inline]
    pub fn set_child_status(self, rpid: c_int, rstatus: c_int) {
        let p = self.w() as *mut ev_child;
        // SAFETY: only called on `ev_child`ren.
        unsafe {
            (*p).rpid = rpid;
            (*p).rstatus = rstatus;
        }
    }

    // ---- async ----
    /// The `sent` flag, written by other threads and signal handlers: accessed atomically.
    #[inline]
    pub fn async_sent(self) -> &'static AtomicI32 {
        // SAFETY: `sent` is an aligned `sig_atomic_t` (i32) inside a valid `ev_async`; every
        // concurrent access to it (ours and `ev_async_send`) is atomic. The 'static lifetime is
        // a white lie bounded by the module contract: callers use it immediately.
        unsafe { AtomicI32::from_ptr(core::ptr::addr_of_mut!((*(self.w() as *mut ev_async)).sent)) }
    }

    /// Invoke the watcher's callback. The callback is read now, not at start time: C code
    /// may have changed it with `ev_set_cb`.
    ///
    /// # Safety
    /// No Rust reference to loop state may be alive: the callback may re-enter the library
    /// with `lp`, stop or free this watcher, and run nested loops.
    #[inline]
    pub unsafe fn invoke(self, lp: *mut ev_loop, revents: c_int) {
        if let Some(cb) = self.cb() {
            // SAFETY: the caller guarantees no borrow of the loop is alive; `cb` is the C
            // callback the user installed for this watcher.
            unsafe { cb(lp, self.w(), revents) }
        }
    }
}
