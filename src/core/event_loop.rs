//! The event loop: state, watcher bookkeeping and one `ev_run` iteration.
//!
//! # Re-entrancy rule (read before changing anything here)
//! User callbacks re-enter the library with the same loop pointer: they stop, start, re-init
//! and free watchers, feed events, and run nested `ev_run`s on this loop or others. So no
//! `&mut Loop` (nor any reference into its arrays) may be alive while a user callback runs.
//! Functions that invoke callbacks ([`run`], [`invoke_pending`], [`destroy`], [`invoke_hook`])
//! take the raw loop pointer and open short `&mut` scopes between callbacks; everything else
//! is a `&mut self` method that never calls user code (the periodic reschedule callback is the
//! documented exception: it gets no loop pointer and, as in libev, must not touch the loop).
//!
//! State shared with other threads and signal handlers (`ev_async_send`, `ev_feed_signal`)
//! lives in [`Wake`], outside the `UnsafeCell` that holds [`Loop`], and is only atomics.

use super::heap::{Heap, HEAP0};
use super::loopfds::{self, Members, WakeFds};
use super::signals::{self, NSIG};
use super::watcher::WatcherPtr;
use crate::backend::{self, Anfd, Backend, FdTable, Fds, Hooks, PollOut, EDGE, REIFY};
use crate::ffi::abi::*;
use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};
use core::sync::atomic::{fence, AtomicI32, AtomicPtr, Ordering};

/// Number of priorities (`EV_MINPRI..=EV_MAXPRI`).
pub const NUMPRI: usize = (EV_MAXPRI - EV_MINPRI + 1) as usize;
/// Longest wait without timers (libev's value: an idle loop wakes about once a minute).
const MAX_BLOCKTIME: f64 = 59.743;

/// libev's expiry test, `at < now`: a NaN deadline (an `at`, `repeat`, interval or offset the
/// application made NaN) never expires, as in libev.
#[inline(always)]
fn expired(at: f64, now: f64) -> bool {
    at < now
}
/// Longest wait once a timerfd reports wall-clock changes (libev's value): the periodic
/// wake-up is then only needed to keep `ev_now` from drifting too far.
const MAX_BLOCKTIME2: f64 = 1500001.07;
/// A wall-clock change of at least this much is a time jump (periodics get rescheduled).
const MIN_TIMEJUMP: f64 = 1.0;
/// Smallest interval periodic_recalc divides by (libev: 1/8192 s).
const MIN_INTERVAL: f64 = 0.0001220703125;
/// How often (seconds of loop activity) the loop-owned objects' numbers are checked even if
/// the objects stay silent (see `fds_health`). Each check is two `kcmp`s and an `fstat` per
/// object; at four checks a second they were the only system calls evring added to
/// pgagroal's transaction pipeline (0.06 per transaction over libev's 20.19, `e2e.sh
/// --compare evring-static libev --syscalls`, strace -c per call); once a second they are
/// 0.016.
const FDS_CHECK_INTERVAL: f64 = 1.0;
/// Size of the pid hash for child watchers.
const PID_HASHSIZE: usize = 16;

/// `ev_loop_callback` (may run user callbacks, so unwinding is allowed through it).
pub type LoopCb = Option<unsafe extern "C-unwind" fn(*mut ev_loop)>;
/// Release/acquire hooks (`EV_NOEXCEPT` in ev.h).
pub type HookCb = Option<unsafe extern "C" fn(*mut ev_loop)>;

/// A loop-owned kernel object behind internal watchers (see `loopfds`).
#[derive(Clone, Copy)]
enum Obj {
    Pipe,
    Sig,
    Timer,
}

/// Wake-up state shared with other threads and signal handlers.
pub struct Wake {
    /// The object written to wake the loop (eventfd, or a pipe's write end), through numbers
    /// that are checked before every write (see `loopfds`).
    pub fds: WakeFds,
    /// Set while the loop is (about to be) blocked in the backend: only then is a write needed.
    pub write_wanted: AtomicI32,
    /// A wake-up was requested while no write was wanted: the next wait must not block.
    pub write_skipped: AtomicI32,
    pub async_pending: AtomicI32,
    pub sig_pending: AtomicI32,
}

impl Wake {
    fn new() -> Wake {
        Wake {
            fds: WakeFds::default(),
            write_wanted: AtomicI32::new(0),
            write_skipped: AtomicI32::new(0),
            async_pending: AtomicI32::new(0),
            sig_pending: AtomicI32::new(0),
        }
    }

    /// Raise `flag` and wake the loop if it sleeps. Async-signal-safe: atomics and, only when
    /// the loop sleeps, one write(2) after checking that the number still holds our object
    /// (`WakeFds::write_if_present`); errno is preserved.
    pub fn write(&self, flag: &AtomicI32) {
        fence(Ordering::SeqCst);
        if flag.load(Ordering::Relaxed) != 0 {
            return;
        }
        flag.store(1, Ordering::Relaxed);
        fence(Ordering::Release);
        self.write_skipped.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // Without a wakeup object (an EVFLAG_SIGNALFD loop without asyncs, fed with
        // ev_feed_signal while it waits) nothing can wake the loop: `write_skipped` stays set,
        // so the flags are scanned when the wait ends for another reason. (Clearing it lost
        // this feed and, the flag staying raised, every later one: differential hunt; libev
        // loses them too.)
        if self.write_wanted.load(Ordering::Relaxed) != 0 {
            let saved = sys::errno();
            self.fds.write_if_present(|| {
                self.write_skipped.store(0, Ordering::Relaxed);
                fence(Ordering::Release);
            });
            sys::set_errno(saved);
        }
    }
}

/// Watchers the loop itself uses. Allocated separately and accessed only through raw
/// pointers, because their fields are written through [`WatcherPtr`]s while `&mut Loop` is
/// alive.
struct Internal {
    /// Reads the wakeup fd; runs at `EV_MAXPRI`. Each loop-owned object is watched through
    /// two of its numbers (`*_w` and `*_w2`, see `loopfds`), except the wakeup eventfd on an
    /// epoll set: `pipe_w` alone, edge-triggered (`Loop::obj_start`).
    pipe_w: ev_io,
    pipe_w2: ev_io,
    /// The default loop's SIGCHLD watcher (reaps every child).
    childev: ev_signal,
    /// Reads the signalfd (only with `EVFLAG_SIGNALFD`); runs at `EV_MAXPRI`.
    sigfd_w: ev_io,
    sigfd_w2: ev_io,
    /// Watches the wall-clock timerfd (created with the first periodic); runs at `EV_MINPRI`.
    timerfd_w: ev_io,
    timerfd_w2: ev_io,
    /// Stands in for a watcher whose pending event `ev_clear_pending` withdrew (libev's
    /// dummy watcher): it has no callback, so dispatch skips it without testing every slot
    /// for emptiness. Written (its `pending` field) but never read.
    dummy: ev_watcher,
}

/// What C's `struct ev_loop *` points at.
pub struct LoopHandle {
    pub wake: Wake,
    core: UnsafeCell<Loop>,
}

#[derive(Clone, Copy)]
struct Anpending {
    /// The loop's dummy watcher once `ev_clear_pending` emptied the slot ([`Internal`]).
    w: WatcherPtr,
    events: c_int,
}

/// The pending queues, one per priority (a struct of its own so that io dispatch can borrow
/// it next to the fd table and the backend's output).
#[derive(Default)]
struct Pending {
    q: [Vec<Anpending>; NUMPRI],
    /// Every queue above this priority is empty. libev restarts its dispatch scan at the
    /// top priority on every feed; starting it at the highest priority actually fed reaches
    /// the same queues in the same order without probing the empty ones above.
    pri: usize,
    /// Entries in all queues (cleared slots included): when the queue at `pri` runs empty
    /// and this is 0, dispatch ends without probing lower queues.
    n: usize,
}

impl Pending {
    /// Queue `revents` for `w` (or merge them into its queued entry).
    #[inline]
    fn feed(&mut self, w: WatcherPtr, revents: c_int) {
        // In range unless C code wrote the field directly: then clamp, as everywhere.
        let mut pri = w.priority().wrapping_sub(EV_MINPRI) as u32 as usize;
        if pri >= NUMPRI {
            pri = clamped_pri(w);
        }
        let p = w.pending();
        if p != 0 {
            match self.q[pri].get_mut(p as usize - 1) {
                Some(slot) => slot.events |= revents,
                None => misuse("libev: pending watcher not on its pending queue (watcher memory corrupted, or priority changed while pending)"),
            }
        } else {
            self.q[pri].push(Anpending { w, events: revents });
            w.set_pending(self.q[pri].len() as c_int);
            self.n += 1;
            if pri > self.pri {
                self.pri = pri;
            }
        }
    }

    /// The queue at `pri` is empty: move `pri` down to the next queue, or return false when
    /// no entry is left anywhere. `n` is read with a volatile load so that the dispatch
    /// loop's only other use of it stays a decrement in memory (with a plain load the
    /// compiler kept the count in a register, reloaded and stored back around every
    /// callback: three instructions per event instead of one).
    #[inline]
    fn step_down(&mut self) -> bool {
        // SAFETY: an aligned, initialised field of `self`.
        if unsafe { core::ptr::read_volatile(&self.n) } == 0 || self.pri == 0 {
            return false;
        }
        self.pri -= 1;
        true
    }
}

/// [`WatcherPtr::abspri`] for a priority C code put out of range. Out of line: inline, the
/// clamp's constants were loaded into registers before every dispatch loop.
#[cold]
#[inline(never)]
fn clamped_pri(w: WatcherPtr) -> usize {
    w.abspri()
}

/// Deliver kernel readiness for `fd`, unless the fd has unapplied changes (then the event may
/// belong to an old registration).
#[inline]
fn fd_event(anfds: &FdTable, pq: &mut Pending, fd: c_int, revents: c_int) {
    if let Some(a) = anfds.get(fd as usize) {
        if a.reify != 0 {
            return fd_event_skipped(a, pq);
        }
        feed_fd_watchers(a, pq, revents);
    }
}

/// Feed `revents` to every io watcher of the fd entry `a` that wants some of it.
#[inline(always)]
fn feed_fd_watchers(a: &Anfd, pq: &mut Pending, revents: c_int) {
    let mut p = a.head;
    while !p.is_null() {
        // SAFETY: the fd list links only active io watchers.
        let w = unsafe { WatcherPtr::from_raw(p) }.unwrap();
        p = w.next();
        let ev = w.io_events() & revents;
        if ev != 0 {
            pq.feed(w, ev);
        }
    }
}

/// The fd `a` carries the edge-triggered wakeup watcher: is another watcher on it too? Then the
/// application put its own file at our watched number (or left a watcher on a number it
/// closed and the library reused). Its watcher must not inherit `EPOLLET` (a byte left
/// unread would never be reported again), so ours goes back to the level-triggered form,
/// whose wake-ups check the object's numbers and move it away (`pipe_cb`); the exact
/// check is also made due at once, i.e. after the next wait (an application file at the
/// number would otherwise keep the slower form until the periodic check). The
/// eventfd's own registration at this number then looks stale to the backend, which
/// drops its events and asks for a rescan of the wake-up flags (`PollOut::rebuild`,
/// `PollOut::rescan`). If the number does hold our object (a watcher the application left
/// on a number it closed, which the library then reused), the level-triggered form stays:
/// correct, three `fcntl` and a `read` per wake-up. (`fd_reify` makes the check due.)
#[cold]
#[inline(never)]
fn edge_shared(a: &Anfd) -> bool {
    let head = a.head;
    // SAFETY: the fd list links only active io watchers.
    if head.is_null() || unsafe { (*head).next }.is_null() {
        return false;
    }
    let mut p = head;
    while !p.is_null() {
        // SAFETY: as above; only the wakeup watcher carries the private bit.
        unsafe {
            (*(p as *mut ev_io)).events &= !(EDGE as c_int);
            p = (*p).next;
        }
    }
    true
}

/// [`fd_event`] ignores an event of an fd with unapplied changes (another thread changed its
/// watchers during the wait, under the release/acquire hooks). A level-triggered fd reports
/// again; the edge-triggered wakeup watcher's edge would be lost, so it gets `EV_CUSTOM`
/// instead: its callback rescans the wake-up flags (review).
#[cold]
#[inline(never)]
fn fd_event_skipped(a: &Anfd, pq: &mut Pending) {
    let mut p = a.head;
    while !p.is_null() {
        // SAFETY: the fd list links only active io watchers.
        let w = unsafe { WatcherPtr::from_raw(p) }.unwrap();
        p = w.next();
        if w.io_events() & EDGE as c_int != 0 {
            pq.feed(w, EV_CUSTOM);
        }
    }
}

pub struct Loop {
    pub rt_now: f64,
    pub mn_now: f64,
    now_floor: f64,
    rtmn_diff: f64,

    pq: Pending,

    pub activecnt: c_int,
    pub loop_done: c_int,
    pub loop_depth: u32,
    pub loop_count: u32,

    backend: Backend,
    backend_rebuild: bool,
    /// Applying fd changes stopped watchers with `EV_ERROR`: do not block before delivering.
    killed_in_reify: bool,
    out: PollOut,

    anfds: FdTable,
    fdchanges: Vec<c_int>,

    timers: Heap,
    periodics: Heap,
    rfeeds: Vec<WatcherPtr>,

    idles: [Vec<WatcherPtr>; NUMPRI],
    /// Bit `pri` is set while `idles[pri]` is not empty.
    idle_mask: u32,
    idleall: c_int,
    prepares: Vec<WatcherPtr>,
    checks: Vec<WatcherPtr>,
    forks: Vec<WatcherPtr>,
    cleanups: Vec<WatcherPtr>,
    asyncs: Vec<WatcherPtr>,
    childs: [*mut ev_watcher_list; PID_HASHSIZE],

    pub postfork: bool,
    curpid: c_int,
    origflags: u32,
    is_default: bool,

    internal: *mut Internal,
    /// The wakeup object's numbers: the eventfd, or the pipe's read end (`evpipe_w` holds
    /// its write end; `Members::NONE` for an eventfd).
    evpipe_r: Members,
    evpipe_w: Members,
    /// The wakeup object is an eventfd watched edge-triggered through one number (see
    /// `obj_start`): nothing is read from it and nothing checked when it fires.
    pipe_edge: bool,
    /// signalfd: -2 = wanted (`EVFLAG_SIGNALFD`) but not created yet, -1 = not used, else
    /// the first of `sigfd_m`.
    sigfd: c_int,
    sigfd_m: Members,
    sigfd_set: libc::sigset_t,
    /// timerfd for wall-clock changes: -2 = never (`EVFLAG_NOTIMERFD`), -1 = not created yet,
    /// else the first of `timerfd_m`.
    timerfd: c_int,
    timerfd_m: Members,
    /// Fork generation (`ffi::atfork`) the objects above were made in.
    fds_gen: u64,
    /// `mn_now` after which `fds_health` checks the objects' numbers again.
    fds_check_at: f64,

    pub invoke_cb: LoopCb,
    pub release_cb: HookCb,
    pub acquire_cb: HookCb,
    pub userdata: *mut c_void,
    pub io_blocktime: f64,
    pub timeout_blocktime: f64,
}

/// Abort on API misuse that libev asserts on. Out of line and cold, so the checks in hot
/// entry points cost a compare and a never-taken branch.
#[cold]
#[inline(never)]
fn misuse(msg: &str) -> ! {
    sys::fatal(msg)
}

/// The flags a loop is created with, after `LIBEV_FLAGS` (which replaces them, as in libev,
/// unless `EVFLAG_NOENV` is given or the process is set-id).
fn effective_flags(flags: u32) -> u32 {
    if flags & EVFLAG_NOENV == 0 && !sys::is_setid() {
        if let Some(v) = sys::env_with(c"LIBEV_FLAGS", atoi) {
            // libev: `flags = atoi(getenv("LIBEV_FLAGS"))` into an unsigned int.
            return v as u32;
        }
    }
    flags
}

/// glibc's atoi, `(int) strtol(s, NULL, 10)`: leading blanks, optional sign, digits; garbage
/// → 0; out of `long` range → LONG_MAX/LONG_MIN, then truncated to `int` as gcc does.
fn atoi(s: &[u8]) -> i32 {
    // C's isspace: ' ' and \t \n \v \f \r.
    let blanks = s
        .iter()
        .take_while(|&&b| b == b' ' || (b'\t'..=b'\r').contains(&b));
    let s = &s[blanks.count()..];
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    // The magnitude, saturated just past the `long` range.
    let cap = i64::MAX as i128 + 1;
    let mut v: i128 = 0;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        v = (v * 10 + i128::from(b - b'0')).min(cap);
    }
    let l = if neg { -v } else { v.min(i64::MAX as i128) } as i64;
    l as i32
}

impl LoopHandle {
    /// Create a loop (not yet at its final address: see [`LoopHandle::post_init`]).
    pub fn new(flags: u32, is_default: bool) -> Option<LoopHandle> {
        let origflags = flags;
        let curpid = if flags & EVFLAG_FORKCHECK != 0 {
            sys::getpid()
        } else {
            0
        };
        let mut flags = effective_flags(flags);
        if flags & EVBACKEND_MASK == 0 {
            flags |= backend::recommended();
        }
        // The fork generation tells a forked child's writers and identity checks that the
        // loop's objects are its parent's (see `loopfds`), and resets the pid cached for
        // their `kcmp` checks ([`crate::ffi::atfork::pid`]). Before any loop-owned fd exists.
        crate::ffi::atfork::ensure_registered();
        let backend = Backend::init(flags & EVBACKEND_MASK)?;
        let rt_now = sys::realtime();
        let mn_now = sys::monotonic();
        let internal = Box::into_raw(Box::new(Internal {
            // SAFETY: all-zero is a valid (inactive, no callback) watcher.
            pipe_w: unsafe { core::mem::zeroed() },
            // SAFETY: as above.
            childev: unsafe { core::mem::zeroed() },
            // SAFETY: as above.
            sigfd_w: unsafe { core::mem::zeroed() },
            // SAFETY: as above.
            timerfd_w: unsafe { core::mem::zeroed() },
            // SAFETY: as above.
            pipe_w2: unsafe { core::mem::zeroed() },
            // SAFETY: as above.
            sigfd_w2: unsafe { core::mem::zeroed() },
            // SAFETY: as above.
            timerfd_w2: unsafe { core::mem::zeroed() },
            // SAFETY: as above.
            dummy: unsafe { core::mem::zeroed() },
        }));
        let l = Loop {
            rt_now,
            mn_now,
            now_floor: mn_now,
            rtmn_diff: rt_now - mn_now,
            pq: Pending::default(),
            activecnt: 0,
            loop_done: EVBREAK_CANCEL,
            loop_depth: 0,
            loop_count: 0,
            backend,
            backend_rebuild: false,
            killed_in_reify: false,
            out: PollOut::default(),
            anfds: FdTable::default(),
            fdchanges: Vec::new(),
            timers: Heap::default(),
            periodics: Heap::default(),
            rfeeds: Vec::new(),
            idles: Default::default(),
            idle_mask: 0,
            idleall: 0,
            prepares: Vec::new(),
            checks: Vec::new(),
            forks: Vec::new(),
            cleanups: Vec::new(),
            asyncs: Vec::new(),
            childs: [core::ptr::null_mut(); PID_HASHSIZE],
            postfork: false,
            curpid,
            origflags,
            is_default,
            internal,
            evpipe_r: Members::NONE,
            evpipe_w: Members::NONE,
            pipe_edge: false,
            sigfd_m: Members::NONE,
            timerfd_m: Members::NONE,
            fds_gen: crate::ffi::atfork::generation(),
            // The objects are made (and checked) from now on: the first periodic check is
            // due a full interval later (a short-lived loop -- pgagroal's per-connection
            // worker -- never pays for it).
            fds_check_at: mn_now + FDS_CHECK_INTERVAL,
            sigfd: if flags & EVFLAG_SIGNALFD != 0 { -2 } else { -1 },
            // SAFETY: an all-zero sigset_t is a valid (empty) set on Linux.
            sigfd_set: unsafe { core::mem::zeroed() },
            timerfd: if flags & EVFLAG_NOTIMERFD != 0 {
                -2
            } else {
                -1
            },
            invoke_cb: None,
            release_cb: None,
            acquire_cb: None,
            userdata: core::ptr::null_mut(),
            io_blocktime: 0.0,
            timeout_blocktime: 0.0,
        };
        Some(LoopHandle {
            wake: Wake::new(),
            core: UnsafeCell::new(l),
        })
    }

    /// Finish initialisation once the handle is at its final address: the default loop
    /// takes over SIGCHLD and reaps every child (programs such as pgagroal rely on it).
    pub fn post_init(&self) {
        // SAFETY: no other reference to the loop exists yet.
        let l = unsafe { &mut *self.core.get() };
        if l.is_default {
            // Take over what a destroyed default loop left active (see `destroy`). They count
            // as active watchers of this loop, as in libev (whose count survives the destroy):
            // they keep ev_run going, and stopping them must not take the count below zero.
            let mut adopted = 0;
            for (k, head) in l.childs.iter_mut().enumerate() {
                *head = PARKED_CHILDS[k].swap(core::ptr::null_mut(), Ordering::AcqRel);
                adopted += list_len(*head);
            }
            let me = self as *const LoopHandle as *mut LoopHandle;
            if signals::adopt_parked(me) {
                self.wake.write(&self.wake.sig_pending);
            }
            for signum in 1..NSIG as c_int {
                let s = signals::slot(signum).unwrap();
                if s.owner.load(Ordering::Acquire) == me {
                    // SAFETY: adopted just above; this thread creates the loop.
                    adopted += list_len(unsafe { *s.head() });
                }
            }
            // Not more than the destroyed loop's own count, which is what libev keeps: a
            // watcher the application ev_unref'ed (the usual SIGINT watcher) must not keep
            // ev_run going (review: it never returned). Orphaned io and timer watchers, also
            // in libev's count, do not count here ("starts fresh", README).
            let saved = PARKED_ACTIVECNT.swap(0, Ordering::AcqRel);
            l.activecnt += adopted.min(saved).max(0);
            let cw = l.childev_ptr();
            // SAFETY: `cw` points at our internal ev_signal.
            unsafe {
                (*cw).cb = Some(crate::ffi::callbacks::child_cb);
                (*cw).signum = libc::SIGCHLD;
                (*cw).priority = EV_MAXPRI;
            }
            // SAFETY: internal watcher, valid for the loop's lifetime.
            let w = unsafe { WatcherPtr::from_raw(cw) }.unwrap();
            l.signal_start(self, w);
            l.activecnt -= 1; // the reaper must not keep the loop alive
        }
    }

    /// # Safety
    /// `lp` must be a loop pointer returned by `ev_default_loop`/`ev_loop_new` and not yet
    /// destroyed.
    #[inline]
    pub unsafe fn from_ptr<'a>(lp: *mut ev_loop) -> &'a LoopHandle {
        // SAFETY: guaranteed by the caller.
        unsafe { &*(lp as *const LoopHandle) }
    }

    /// The loop state. Callers keep the resulting `&mut` only for calls that do not run
    /// user callbacks (see the module documentation).
    #[inline]
    pub fn core(&self) -> *mut Loop {
        self.core.get()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        // Only numbers that still hold our objects are closed (see `loopfds`).
        self.evpipe_r.release();
        self.evpipe_w.release();
        self.sigfd_m.release();
        self.timerfd_m.release();
        // SAFETY: allocated by Box::into_raw in LoopHandle::new and freed only here.
        drop(unsafe { Box::from_raw(self.internal) });
    }
}

impl Loop {
    /// The stand-in for cleared pending slots (see [`Internal::dummy`]).
    #[inline]
    fn dummy(&self) -> WatcherPtr {
        // SAFETY: `internal` is valid for the loop's lifetime; no reference is created.
        let p = unsafe { core::ptr::addr_of_mut!((*self.internal).dummy) };
        // SAFETY: our own zeroed watcher, valid for the loop's lifetime.
        unsafe { WatcherPtr::from_raw(p) }.unwrap()
    }

    fn pipe_w_ptr(&self) -> *mut ev_io {
        // SAFETY: `internal` is valid for the loop's lifetime; no reference is created.
        unsafe { core::ptr::addr_of_mut!((*self.internal).pipe_w) }
    }

    /// The two internal watchers of a loop-owned object.
    fn obj_watchers(&self, o: Obj) -> [WatcherPtr; 2] {
        let i = self.internal;
        // SAFETY: internal watchers, valid for the loop's lifetime; no reference is created.
        let (a, b) = unsafe {
            match o {
                Obj::Pipe => (
                    core::ptr::addr_of_mut!((*i).pipe_w),
                    core::ptr::addr_of_mut!((*i).pipe_w2),
                ),
                Obj::Sig => (
                    core::ptr::addr_of_mut!((*i).sigfd_w),
                    core::ptr::addr_of_mut!((*i).sigfd_w2),
                ),
                Obj::Timer => (
                    core::ptr::addr_of_mut!((*i).timerfd_w),
                    core::ptr::addr_of_mut!((*i).timerfd_w2),
                ),
            }
        };
        // SAFETY: as above.
        unsafe {
            [
                WatcherPtr::from_raw(a).unwrap(),
                WatcherPtr::from_raw(b).unwrap(),
            ]
        }
    }

    fn childev_ptr(&self) -> *mut ev_signal {
        // SAFETY: as above.
        unsafe { core::ptr::addr_of_mut!((*self.internal).childev) }
    }

    fn pipe_w(&self) -> WatcherPtr {
        // SAFETY: internal watcher, valid for the loop's lifetime.
        unsafe { WatcherPtr::from_raw(self.pipe_w_ptr()) }.unwrap()
    }

    pub fn backend_kind(&self) -> u32 {
        self.backend.kind()
    }

    pub fn backend_fd(&self) -> c_int {
        self.backend.fd()
    }

    pub fn is_default(&self) -> bool {
        self.is_default
    }

    // ------------------------------------------------------------------ pending queues

    /// Queue `revents` for `w` (or merge them into its queued entry).
    #[inline]
    pub fn feed(&mut self, w: WatcherPtr, revents: c_int) {
        self.pq.feed(w, revents);
    }

    /// Remove `w` from the pending queue; returns the events it had pending (0 if none).
    /// The queue slot stays (and counts in `ev_pending_count`) until the next invoke pass.
    #[inline]
    pub fn clear_pending(&mut self, w: WatcherPtr) -> c_int {
        let p = w.pending();
        if p == 0 {
            return 0;
        }
        let pri = w.abspri();
        w.set_pending(0);
        let dummy = self.dummy();
        match self.pq.q[pri].get_mut(p as usize - 1) {
            Some(slot) if slot.w == w => {
                slot.w = dummy;
                slot.events
            }
            _ => misuse("libev: pending watcher not on its pending queue (watcher memory corrupted, or priority changed while pending)"),
        }
    }

    /// Take `w` off its pending queue altogether (not a dummy slot, as `clear_pending`
    /// leaves, which `ev_pending_count` still counts, as libev's does): the queue keeps its
    /// order, the entries above move down one slot. For the loop's second watcher on an
    /// object it watches through two numbers: libev has one watcher there, so nothing of
    /// that sibling may show in the count (found by a differential hunt: `ev_pending_count`
    /// one too high in async, signal and child callbacks). Returns its events (0 if it was
    /// not pending).
    fn unqueue_pending(&mut self, w: WatcherPtr) -> c_int {
        let p = w.pending();
        if p == 0 {
            return 0;
        }
        let pri = w.abspri();
        w.set_pending(0);
        let q = &mut self.pq.q[pri];
        let i = p as usize - 1;
        if q.get(i).is_none_or(|slot| slot.w != w) {
            misuse("libev: pending watcher not on its pending queue (watcher memory corrupted, or priority changed while pending)");
        }
        let e = q.remove(i);
        for (k, slot) in q.iter().enumerate().skip(i) {
            slot.w.set_pending(k as c_int + 1);
        }
        self.pq.n -= 1;
        e.events
    }

    pub fn pending_count(&self) -> u32 {
        self.pq.n as u32
    }

    /// Take the next pending event in libev's order: highest priority first, newest first
    /// within a priority.
    #[inline]
    fn pop_pending(&mut self) -> Option<(WatcherPtr, c_int)> {
        loop {
            let pri = self.pq.pri;
            debug_assert!(pri < NUMPRI);
            // SAFETY: `pq.pri` is only ever set to a clamped priority index (`Pending::feed`)
            // or lowered towards 0 below, so it is always `< NUMPRI`. (Unchecked: the bounds
            // check cost two instructions per dispatched event.)
            let q = unsafe { self.pq.q.get_unchecked_mut(pri) };
            match q.pop() {
                Some(e) => {
                    self.pq.n -= 1;
                    // (A slot emptied by `ev_clear_pending` holds the dummy watcher, which
                    // has no callback: `invoke` skips it.)
                    e.w.set_pending(0);
                    return Some((e.w, e.events));
                }
                None => {
                    if !self.pq.step_down() {
                        return None;
                    }
                }
            }
        }
    }

    /// Is anything pending at priority index `pri` or above?
    fn pending_at_or_above(&self, pri: usize) -> bool {
        // Queues above `pq.pri` are empty.
        self.pq.n != 0 && (pri..=self.pq.pri).any(|q| !self.pq.q[q].is_empty())
    }

    fn queue_events(&mut self, which: fn(&Loop) -> &Vec<WatcherPtr>, revents: c_int) {
        let n = which(self).len();
        for i in 0..n {
            let w = which(self)[i];
            self.feed(w, revents);
        }
    }

    // ------------------------------------------------------------------ generic start/stop

    /// Clamp the priority into range and write it back (visible to C, as in libev).
    #[inline]
    fn pri_adjust(w: WatcherPtr) {
        let p = w.priority();
        // One unsigned compare for the range test (the clamp itself cost eight
        // instructions on every start).
        if p.wrapping_sub(EV_MINPRI) as u32 > (EV_MAXPRI - EV_MINPRI) as u32 {
            w.set_priority(p.clamp(EV_MINPRI, EV_MAXPRI));
        }
    }

    fn start_w(&mut self, w: WatcherPtr, active: c_int) {
        Self::pri_adjust(w);
        w.set_active(active);
        self.activecnt += 1;
    }

    fn stop_w(&mut self, w: WatcherPtr) {
        self.activecnt -= 1;
        w.set_active(0);
    }

    /// Add to one of the plain watcher arrays; `active` is the 1-based index.
    fn array_start(&mut self, which: fn(&mut Loop) -> &mut Vec<WatcherPtr>, w: WatcherPtr) {
        if w.active() != 0 {
            return;
        }
        let idx = which(self).len() as c_int + 1;
        self.start_w(w, idx);
        which(self).push(w);
    }

    fn array_stop(&mut self, which: fn(&mut Loop) -> &mut Vec<WatcherPtr>, w: WatcherPtr) {
        self.clear_pending(w);
        if w.active() == 0 {
            return;
        }
        let idx = w.active() as usize - 1;
        let arr = which(self);
        if idx >= arr.len() || arr[idx] != w {
            sys::fatal("libev: stopping a watcher that is not active in this loop (memory corrupted or wrong loop)");
        }
        arr.swap_remove(idx);
        if idx < arr.len() {
            arr[idx].set_active(idx as c_int + 1);
        }
        self.stop_w(w);
    }

    pub fn prepare_start(&mut self, w: WatcherPtr) {
        self.array_start(|l| &mut l.prepares, w);
    }
    pub fn prepare_stop(&mut self, w: WatcherPtr) {
        self.array_stop(|l| &mut l.prepares, w);
    }
    pub fn check_start(&mut self, w: WatcherPtr) {
        self.array_start(|l| &mut l.checks, w);
    }
    pub fn check_stop(&mut self, w: WatcherPtr) {
        self.array_stop(|l| &mut l.checks, w);
    }
    pub fn fork_start(&mut self, w: WatcherPtr) {
        self.array_start(|l| &mut l.forks, w);
    }
    pub fn fork_stop(&mut self, w: WatcherPtr) {
        self.array_stop(|l| &mut l.forks, w);
    }
    /// Cleanup watchers never keep the loop alive.
    pub fn cleanup_start(&mut self, w: WatcherPtr) {
        if w.active() != 0 {
            return;
        }
        self.array_start(|l| &mut l.cleanups, w);
        self.activecnt -= 1;
    }
    pub fn cleanup_stop(&mut self, w: WatcherPtr) {
        self.clear_pending(w);
        if w.active() == 0 {
            return;
        }
        self.activecnt += 1;
        self.array_stop(|l| &mut l.cleanups, w);
    }

    pub fn idle_start(&mut self, w: WatcherPtr) {
        if w.active() != 0 {
            return;
        }
        Self::pri_adjust(w);
        let pri = w.abspri();
        let idx = self.idles[pri].len() as c_int + 1;
        self.idleall += 1;
        self.start_w(w, idx);
        self.idles[pri].push(w);
        self.idle_mask |= 1 << pri;
    }
    pub fn idle_stop(&mut self, w: WatcherPtr) {
        self.clear_pending(w);
        if w.active() == 0 {
            return;
        }
        let pri = w.abspri();
        let idx = w.active() as usize - 1;
        let arr = &mut self.idles[pri];
        if idx >= arr.len() || arr[idx] != w {
            sys::fatal("libev: stopping an idle watcher that is not active in this loop (priority changed while active?)");
        }
        arr.swap_remove(idx);
        if idx < arr.len() {
            arr[idx].set_active(idx as c_int + 1);
        } else if arr.is_empty() {
            self.idle_mask &= !(1 << pri);
        }
        self.idleall -= 1;
        self.stop_w(w);
    }

    // ------------------------------------------------------------------ io watchers

    fn wlist_add(head: *mut *mut ev_watcher_list, w: WatcherPtr) {
        // SAFETY: `head` points at a list head we own.
        unsafe {
            w.set_next(*head);
            *head = w.raw() as *mut ev_watcher_list;
        }
    }

    /// Unlink `w`; a watcher that is not on the list is misuse (its fd, signal number or pid
    /// was changed while it was active): abort with `what` (libev silently leaves it linked
    /// to the old list, and the application then frees memory the loop still reads: found by
    /// a differential hunt with ev_io_set on an active watcher).
    fn wlist_del(head: *mut *mut ev_watcher_list, w: WatcherPtr, what: &str) {
        let target = w.raw() as *mut ev_watcher_list;
        let mut link = head;
        // SAFETY: the list links only watchers that are active (valid by contract).
        unsafe {
            while !(*link).is_null() {
                if *link == target {
                    *link = (*target).next;
                    return;
                }
                link = core::ptr::addr_of_mut!((**link).next);
            }
        }
        misuse(what);
    }

    /// Append `fd` to the change list. An fd is on the list at most once (only while its
    /// `reify` is non-zero), and the list's capacity is kept at least the number of fds the
    /// table held for the application, plus the loop's internal numbers
    /// ([`Loop::anfds_grow`], [`Loop::anfds_fit`]), so the growth branch is rarely taken.
    /// With the growth call out of line and last, `ev_io_start`/`ev_io_stop` need no saved
    /// registers.
    #[inline]
    fn push_fdchange(&mut self, fd: c_int) {
        let len = self.fdchanges.len();
        if len < self.fdchanges.capacity() {
            // SAFETY: `len < capacity`: the slot is allocated and unused.
            unsafe {
                self.fdchanges.as_mut_ptr().add(len).write(fd);
                self.fdchanges.set_len(len + 1);
            }
        } else {
            self.push_fdchange_slow(fd);
        }
    }

    #[cold]
    #[inline(never)]
    fn push_fdchange_slow(&mut self, fd: c_int) {
        self.fdchanges.push(fd);
    }

    #[inline(always)]
    pub fn io_start(&mut self, w: WatcherPtr) {
        if w.active() != 0 {
            return;
        }
        let fd = w.io_fd();
        let events = w.io_events();
        if fd < 0
            || events & !(EV__IOFDSET | EV_READ | EV_WRITE) != 0
            || self.anfds.lo_len() <= fd as usize
        {
            // Misuse, or the fd table must grow first, or an fd of the table's sparse part:
            // out of line, so the common path keeps no registers across calls.
            return self.io_start_slow(w);
        }
        // SAFETY: `fd < anfds.lo_len()` was checked above. (Indexing after `start_w`
        // re-checked it: the watcher writes through a raw pointer could, as far as the
        // compiler knows, have changed the table's length.)
        let a: *mut Anfd = unsafe { self.anfds.lo_unchecked_mut(fd as usize) };
        self.io_link(w, fd, events, a);
    }

    /// The rest of [`Loop::io_start`] once the fd's entry `a` is found.
    #[inline(always)]
    fn io_link(&mut self, w: WatcherPtr, fd: c_int, events: c_int, a: *mut Anfd) {
        // SAFETY: `a` is the fd's entry in `self.anfds`, which nothing below resizes.
        let a = unsafe { &mut *a };
        if a.head == w.raw() as *mut ev_watcher_list {
            misuse("libev: ev_io_start called with corrupted watcher");
        }
        w.set_next(a.head);
        a.head = w.raw() as *mut ev_watcher_list;
        let was = a.reify;
        a.reify |= (events & EV__IOFDSET) as u8 | REIFY;
        w.set_io_events(events & !EV__IOFDSET);
        self.start_w(w, 1);
        if was == 0 {
            self.push_fdchange(fd);
        }
    }

    #[cold]
    #[inline(never)]
    fn io_start_slow(&mut self, w: WatcherPtr) {
        let fd = w.io_fd();
        if fd < 0 {
            misuse("libev: ev_io_start called with negative fd");
        }
        let events = w.io_events();
        if events & !(EV__IOFDSET | EV_READ | EV_WRITE) != 0 {
            misuse("libev: ev_io_start called with illegal event mask");
        }
        // An fd of the sparse part (the loop's own high numbers) already has its entry.
        let a = match self.anfds.get_mut(fd as usize) {
            Some(a) => a as *mut Anfd,
            None => {
                self.anfds_grow(fd as usize);
                &mut self.anfds[fd as usize] as *mut Anfd
            }
        };
        self.io_link(w, fd, events, a);
    }

    #[cold]
    #[inline(never)]
    fn anfds_grow(&mut self, fd: usize) {
        let n = self.anfds.cover(fd);
        // See `push_fdchange`: room for every fd of the dense part.
        self.fdchanges
            .reserve(n.saturating_sub(self.fdchanges.len()));
    }

    /// Give `fd` (an internal watcher's number) a table entry, with room for the loop's other
    /// objects (signalfd, timerfd, rebuilds), whose numbers come right after. Those numbers
    /// sit at the protected floor (512), far above the application's, so they go into the
    /// table's sparse part ([`FdTable::cover_internal`]): a dense table reaching them was
    /// 8 KiB allocated and filled in every new loop, page faults in each forked pgagroal
    /// worker (`perf record -e page-faults`). The change list grows by the few internal
    /// numbers only: only they and the application's fds can ever be on it.
    #[cold]
    fn anfds_fit(&mut self, fd: c_int) {
        const SLACK: usize = 3 * loopfds::MEMBERS;
        /// Internal watched numbers: two per object, at most four objects.
        const INTERNAL: usize = 8;
        let Ok(fd) = usize::try_from(fd) else { return };
        if self.anfds.get(fd).is_none() {
            let old = self.anfds.lo_len();
            self.anfds.cover_internal(fd, SLACK);
            self.fdchanges
                .reserve((old + INTERNAL).saturating_sub(self.fdchanges.len()));
        }
    }

    #[inline(always)]
    pub fn io_stop(&mut self, w: WatcherPtr) {
        self.clear_pending(w);
        if w.active() == 0 {
            return;
        }
        let fd = w.io_fd();
        // (A negative fd becomes a huge index and fails the check too.) Not in the dense part:
        // out of line, so that the common path joins no call's result.
        if fd as usize >= self.anfds.lo_len() {
            return self.io_stop_slow(w, fd);
        }
        // SAFETY: `fd < lo_len()` was checked just above.
        let a: *mut Anfd = unsafe { self.anfds.lo_unchecked_mut(fd as usize) };
        self.io_unlink(w, fd, a);
    }

    #[cold]
    #[inline(never)]
    fn io_stop_slow(&mut self, w: WatcherPtr, fd: c_int) {
        let Some(a) = self.anfds.get_mut(fd as usize) else {
            misuse("libev: ev_io_stop called with illegal fd (must stay constant after start!)");
        };
        let a: *mut Anfd = a;
        self.io_unlink(w, fd, a);
    }

    /// The rest of [`Loop::io_stop`] once the fd's entry `a` is found.
    #[inline(always)]
    fn io_unlink(&mut self, w: WatcherPtr, fd: c_int, a: *mut Anfd) {
        // SAFETY: `a` is the fd's entry in `self.anfds`, which nothing below resizes.
        let a = unsafe { &mut *a };
        Self::wlist_del(
            core::ptr::addr_of_mut!(a.head),
            w,
            "libev: ev_io_stop: the watcher is not on its fd's list (fd changed while active?)",
        );
        let last = a.head.is_null();
        let was = a.reify;
        a.reify |= REIFY;
        self.stop_w(w);
        if last && self.releases_fds() {
            // Out of line, so that the common path ends in the change-list append and keeps
            // no values across a call.
            return self.io_stop_released(fd, was);
        }
        if was == 0 {
            self.push_fdchange(fd);
        }
    }

    /// Does the backend's kernel object hold a reference to each watched file (io_uring's
    /// poll strategy)? Then the last `ev_io_stop` of an fd must release it.
    #[inline]
    fn releases_fds(&self) -> bool {
        #[cfg(target_os = "linux")]
        if let Backend::Uring(b) = &self.backend {
            return b.mode() == backend::uring::Mode::Poll;
        }
        false
    }

    /// [`Loop::io_stop`]'s tail when the fd's last watcher went and the backend holds files.
    #[cold]
    #[inline(never)]
    fn io_stop_released(&mut self, fd: c_int, was: u8) {
        if was == 0 {
            self.push_fdchange(fd);
        }
        // Last watcher gone: a backend whose kernel object holds the file (io_uring poll)
        // lets go of it now, so that a close() right after this call releases the file.
        // (It marks the fd EV__IOFDSET if it did: a restart in the same iteration must
        // re-register even though the mask looks unchanged.)
        self.backend.fd_released(&mut self.anfds, fd);
    }

    /// Apply the fd changes collected since the last iteration: one backend call per fd
    /// whose wanted mask changed (or that was explicitly re-set with `ev_io_set`).
    fn fd_reify(&mut self) {
        self.backend.reify_begin(self.fdchanges.len());
        let mut i = 0;
        while i < self.fdchanges.len() {
            let fd = self.fdchanges[i];
            i += 1;
            let a = &mut self.anfds[fd as usize];
            let o_events = a.events;
            let o_reify = a.reify;
            a.reify = 0;
            let mut events: u8 = 0;
            let mut p = a.head;
            while !p.is_null() {
                // SAFETY: the fd list links only active io watchers.
                unsafe {
                    events |= (*(p as *mut ev_io)).events as u8;
                    p = (*p).next;
                }
            }
            if events & EDGE != 0 && edge_shared(a) {
                events &= !EDGE;
                self.fds_check_at = f64::NEG_INFINITY;
            }
            a.events = events;
            if o_events != events || o_reify & EV__IOFDSET as u8 != 0 {
                self.backend
                    .modify(&mut self.anfds, fd, o_events, events, &mut self.out);
            }
        }
        self.fdchanges.clear();
        self.killed_in_reify = self.process_kills();
    }

    /// Stop the watchers of every fd the backend rejected; true if there were any.
    #[inline]
    fn process_kills(&mut self) -> bool {
        if self.out.kill.is_empty() {
            return false;
        }
        self.process_kills_slow();
        true
    }

    #[cold]
    #[inline(never)]
    fn process_kills_slow(&mut self) {
        while let Some(fd) = self.out.kill.pop() {
            self.fd_kill(fd);
        }
    }

    /// Stop every watcher on `fd` and tell it `EV_ERROR` (the fd is not valid).
    fn fd_kill(&mut self, fd: c_int) {
        loop {
            let Some(a) = self.anfds.get(fd as usize) else {
                return;
            };
            // SAFETY: list heads are null or active io watchers.
            let Some(w) = (unsafe { WatcherPtr::from_raw(a.head) }) else {
                return;
            };
            self.io_stop(w);
            self.feed(w, EV_ERROR | EV_READ | EV_WRITE);
        }
    }

    pub fn fd_event_nocheck(&mut self, fd: c_int, revents: c_int) {
        feed_fd_watchers(&self.anfds[fd as usize], &mut self.pq, revents);
    }

    pub fn feed_fd_event(&mut self, fd: c_int, revents: c_int) {
        if fd >= 0 && self.anfds.get(fd as usize).is_some() {
            self.fd_event_nocheck(fd, revents);
        }
    }

    /// Make every fd with interest re-register on the next reify (new kernel object).
    fn fd_rearm_all(&mut self) {
        let fdchanges = &mut self.fdchanges;
        for (fd, a) in self.anfds.iter_mut() {
            // The backend's per-fd flags described the old kernel object.
            a.eflags = 0;
            if a.events != 0 {
                a.events = 0;
                a.emask = 0;
                let was = a.reify;
                a.reify |= EV__IOFDSET as u8 | REIFY;
                if was == 0 {
                    fdchanges.push(fd as c_int);
                }
            }
        }
    }

    // ------------------------------------------------------------------ timers

    #[inline]
    pub fn timer_start(&mut self, w: WatcherPtr) {
        if w.active() != 0 {
            return;
        }
        // ev_timer_set stored the *relative* delay in `at`; make it absolute (monotonic).
        let at = w.at() + self.mn_now;
        w.set_at(at);
        // `!(>= 0)`, as libev's assertion: a NaN repeat is refused too (else the timer
        // never left the heap's top: differential hunt, a busy loop growing without bound).
        if w.repeat().is_nan() || w.repeat() < 0.0 {
            misuse("libev: ev_timer_start called with negative timer repeat value");
        }
        Self::pri_adjust(w);
        self.activecnt += 1;
        self.timers.push(w, at);
    }

    #[inline(always)]
    pub fn timer_stop(&mut self, w: WatcherPtr) {
        self.clear_pending(w);
        if w.active() == 0 {
            return;
        }
        let k = w.active() as usize;
        if !self.timers.holds(k, w) {
            misuse("libev: internal timer heap corruption (timer memory moved or overwritten while active?)");
        }
        // Keep the remaining time, so a restart without ev_timer_set continues from here.
        w.set_at(w.at() - self.mn_now);
        self.stop_w(w);
        // Last, so the sift is a tail call (the heap caches deadlines and never reads `w`'s
        // `at`; `w` is not the node that moves into slot `k`).
        self.timers.remove(k);
    }

    #[inline]
    pub fn timer_again(&mut self, w: WatcherPtr) {
        self.clear_pending(w);
        if w.active() != 0 {
            if w.repeat() != 0.0 {
                let at = self.mn_now + w.repeat();
                w.set_at(at);
                self.timers.set_at(w.active() as usize, at);
            } else {
                self.timer_stop(w);
            }
        } else if w.repeat() != 0.0 {
            w.set_at(w.repeat());
            self.timer_start(w);
        }
    }

    pub fn timer_remaining(&self, w: WatcherPtr) -> f64 {
        if w.active() != 0 {
            w.at() - self.mn_now
        } else {
            w.at()
        }
    }

    #[inline(never)]
    fn timers_reify(&mut self) {
        while let Some(top) = self.timers.top() {
            // libev's test, `at < now`, so that a NaN deadline (an `at` or `repeat` made NaN
            // by the application) never counts as expired; `at >= now` made every NaN timer
            // expire at every iteration for ever (differential hunt).
            if !expired(top.at, self.mn_now) {
                break;
            }
            let w = top.w;
            let repeat = w.repeat();
            if repeat != 0.0 {
                if repeat.is_nan() || repeat < 0.0 {
                    // (NaN included, as libev's `repeat > 0.` assertion.)
                    sys::fatal(
                        "libev: negative ev_timer repeat value found while processing timers",
                    );
                }
                let mut at = w.at() + repeat;
                if at < self.mn_now {
                    at = self.mn_now;
                }
                w.set_at(at);
                self.timers.set_at(HEAP0, at);
            } else {
                // `timer_stop(w)` for the root, without re-checking where `w` is.
                self.clear_pending(w);
                self.timers.remove(HEAP0);
                w.set_at(w.at() - self.mn_now);
                self.stop_w(w);
            }
            self.rfeeds.push(w);
        }
        self.feed_reverse_done(EV_TIMER);
    }

    /// Feed collected expiries in reverse, so LIFO dispatch runs them earliest-first.
    fn feed_reverse_done(&mut self, revents: c_int) {
        // (Iterated out of place: `feed` never touches `rfeeds`.)
        let mut rf = core::mem::take(&mut self.rfeeds);
        for &w in rf.iter().rev() {
            self.feed(w, revents);
        }
        rf.clear();
        self.rfeeds = rf;
    }

    fn timers_shift(&mut self, adjust: f64) {
        for k in self.timers.indices() {
            let n = self.timers.node(k);
            let at = n.w.at() + adjust;
            n.w.set_at(at);
            self.timers.set_at_unordered(k, at);
        }
    }

    // ------------------------------------------------------------------ periodics

    fn periodic_recalc(&self, w: WatcherPtr) {
        let ival = w.periodic_interval();
        let interval = if ival > MIN_INTERVAL {
            ival
        } else {
            MIN_INTERVAL
        };
        let offset = w.periodic_offset();
        let mut at = offset + interval * ((self.rt_now - offset) / interval).floor();
        // The floor estimate errs low; step to the first instant strictly after now.
        while at <= self.rt_now {
            let nat = at + ival;
            if nat == at {
                // Floating point cannot represent the step any more.
                at = self.rt_now;
                break;
            }
            at = nat;
        }
        w.set_at(at);
    }

    fn periodic_schedule(&mut self, w: WatcherPtr) {
        if let Some(cb) = w.reschedule_cb() {
            let at = w.call_reschedule(cb, self.rt_now);
            w.set_at(at);
        } else if w.periodic_interval() != 0.0 {
            // (A NaN interval is refused too, as libev's assertion `interval >= 0` does.)
            let ival = w.periodic_interval();
            if ival.is_nan() || ival < 0.0 {
                sys::fatal("libev: ev_periodic_start called with negative interval value");
            }
            self.periodic_recalc(w);
        } else {
            w.set_at(w.periodic_offset());
        }
    }

    pub fn periodic_start(&mut self, w: WatcherPtr) {
        if w.active() != 0 {
            return;
        }
        if self.timerfd == -1 {
            self.timerfd_init();
        }
        self.periodic_schedule(w);
        Self::pri_adjust(w);
        self.activecnt += 1;
        self.periodics.push(w, w.at());
    }

    pub fn periodic_stop(&mut self, w: WatcherPtr) {
        self.clear_pending(w);
        if w.active() == 0 {
            return;
        }
        let k = w.active() as usize;
        if !self.periodics.holds(k, w) {
            sys::fatal("libev: internal periodic heap corruption (periodic memory moved or overwritten while active?)");
        }
        self.periodics.remove(k);
        self.stop_w(w);
    }

    pub fn periodic_again(&mut self, w: WatcherPtr) {
        self.periodic_stop(w);
        self.periodic_start(w);
    }

    #[inline(never)]
    fn periodics_reify(&mut self) {
        while let Some(top) = self.periodics.top() {
            // `at < now` as libev (see `timers_reify`): a NaN deadline (interval or offset
            // made NaN) never fires.
            if !expired(top.at, self.rt_now) {
                break;
            }
            let w = top.w;
            if let Some(cb) = w.reschedule_cb() {
                let at = w.call_reschedule(cb, self.rt_now);
                if at.is_nan() || at < self.rt_now {
                    // (NaN included, as libev's assertion.)
                    sys::fatal("libev: ev_periodic reschedule callback returned time in the past");
                }
                w.set_at(at);
                self.periodics.set_at(HEAP0, at);
            } else if w.periodic_interval() != 0.0 {
                self.periodic_recalc(w);
                self.periodics.set_at(HEAP0, w.at());
            } else {
                self.periodic_stop(w);
            }
            self.rfeeds.push(w);
        }
        self.feed_reverse_done(EV_PERIODIC);
    }

    /// Recompute every periodic from the current wall clock (time jump, `ev_resume`).
    fn periodics_reschedule(&mut self) {
        for k in self.periodics.indices() {
            let w = self.periodics.node(k).w;
            if let Some(cb) = w.reschedule_cb() {
                let at = w.call_reschedule(cb, self.rt_now);
                w.set_at(at);
            } else if w.periodic_interval() != 0.0 {
                self.periodic_recalc(w);
            }
            self.periodics.set_at_unordered(k, w.at());
        }
        self.periodics.rebuild();
    }

    // ------------------------------------------------------------------ time

    /// Create the wall-clock timerfd: armed far in the future with
    /// `TFD_TIMER_CANCEL_ON_SET`, it becomes readable as soon as somebody sets the clock, so
    /// periodics are rescheduled at once instead of at the next wake-up.
    fn timerfd_init(&mut self) {
        if !self.timerfd_make() {
            self.timerfd = -2; // not available: fall back to jump detection in time_update
            return;
        }
        // libev runs its timerfd callback once when it makes the timerfd (the first periodic
        // start of a loop), so that start sees a fresh wall clock (differential hunt: after
        // a stall without a time update, evring scheduled from the stale time and fired an
        // extra, off-grid catch-up event).
        self.timerfd_resync();
    }

    /// What libev's timerfd callback does to the clocks: the wall-clock time is read again
    /// and every periodic rescheduled from it -- and nothing else: the monotonic base and
    /// the wall-to-monotonic offset stay until `time_update`'s next wall-clock read (at most
    /// half a second later), so after a clock jump `ev_now()` briefly follows the old offset
    /// again, as in libev (measured with real `clock_settime` jumps; a full resync here made
    /// the periodics fire at other times than libev's).
    fn timerfd_resync(&mut self) {
        self.rt_now = sys::realtime();
        self.periodics_reschedule();
    }

    /// (Re)create the timerfd, reusing the old object's numbers that still hold it.
    fn timerfd_make(&mut self) -> bool {
        let old = self.timerfd_m;
        let fd = sys::realtime_timerfd();
        let m = if fd < 0 {
            None
        } else {
            Members::spread(fd, &old, loopfds::alive(&old.fds, &old.id))
        };
        let Some(m) = m else {
            // No new object (EMFILE, ENOMEM): close the numbers that still hold the old one
            // (in a forked child, our copies of the parent's), or they stay open until exit
            // (found by review).
            let mut old = old;
            old.release();
            self.timerfd_m = Members::NONE;
            return false;
        };
        self.timerfd_m = m;
        self.timerfd = m.fds[0];
        self.obj_start(Obj::Timer);
        self.timerfd_arm();
        true
    }

    fn timerfd_arm(&mut self) {
        sys::timerfd_arm_abs(self.timerfd, self.rt_now + MAX_BLOCKTIME2);
    }

    /// The wall clock was set (or the far expiry passed): re-arm, resynchronise the clocks
    /// and recompute every periodic. If a number of the timerfd was lost (closed or reused
    /// by the application) the timerfd is rebuilt first; the periodics are rescheduled
    /// anyway, since a clock change may have gone unseen meanwhile.
    pub fn timerfd_cb(&mut self, revents: c_int) {
        let lost = self.obj_fired(Obj::Timer, revents);
        if lost {
            self.obj_stop(Obj::Timer);
            if !self.timerfd_make() {
                self.timerfd = -2;
            }
        } else {
            self.timerfd_arm();
        }
        self.timerfd_resync();
    }

    /// Refresh `mn_now`/`rt_now`. The wall clock is re-read at most every half second (it
    /// is interpolated from the monotonic clock in between); a disagreement of a second or
    /// more is a wall-clock jump, after which periodics are rescheduled. Timers run on the
    /// monotonic clock and are never adjusted.
    #[inline]
    pub fn time_update(&mut self) {
        self.mn_now = sys::monotonic();
        if self.mn_now - self.now_floor < MIN_TIMEJUMP * 0.5 {
            self.rt_now = self.rtmn_diff + self.mn_now;
            return;
        }
        self.time_update_wallclock();
    }

    /// The half-second wall-clock re-read of [`Loop::time_update`] (out of line: the fast
    /// path above runs twice per iteration).
    #[inline(never)]
    fn time_update_wallclock(&mut self) {
        let odiff = self.rtmn_diff;
        self.now_floor = self.mn_now;
        self.rt_now = sys::realtime();
        // Retry a few times in case we were preempted between the two clock reads.
        for _ in 0..3 {
            self.rtmn_diff = self.rt_now - self.mn_now;
            if (odiff - self.rtmn_diff).abs() < MIN_TIMEJUMP {
                return;
            }
            self.rt_now = sys::realtime();
            self.mn_now = sys::monotonic();
            self.now_floor = self.mn_now;
        }
        self.periodics_reschedule();
    }

    pub fn suspend(&mut self) {
        self.time_update();
    }

    pub fn resume(&mut self) {
        let mn_prev = self.mn_now;
        self.time_update();
        self.timers_shift(self.mn_now - mn_prev);
        self.periodics_reschedule();
    }

    // ------------------------------------------------------------------ signals

    // ------------------------------------------------------------------ loop-owned fds

    /// Start an object's internal watchers on its first two numbers (on its first number only
    /// for an edge-triggered wakeup eventfd). Internal watchers do not keep the loop alive.
    ///
    /// # The edge-triggered wakeup eventfd
    /// On an epoll set (the epoll backend, io_uring's epoll strategies) the wakeup eventfd is
    /// registered with `EPOLLET` ([`crate::backend::EDGE`]) and never read: every write to an
    /// eventfd wakes its waiters, and an edge-triggered registration reports each such wake-up
    /// once (several writes before one wait may merge: the flags say what happened). The
    /// counter only grows (a write fails only at 2^64 - 2). So a wake-up costs the loop no
    /// system call besides its wait, where libev reads the eventfd and the level-triggered
    /// form needed one `fcntl` per number to check that the number to read from still held
    /// the object (bench_wakeup -m async: 14 system calls per round trip, now 6, libev's 6).
    /// One number is enough: an epoll registration belongs to the open file, which the two
    /// other numbers keep open if the application closes or `dup2()`s over the watched one,
    /// and nothing is read through it. The object's numbers are still checked exactly once a
    /// second of loop activity and whenever the epoll set is rebuilt (a rebuild registers by
    /// number). An application watcher on the watched number (the application put its own
    /// file there) takes the level-triggered form back (`Loop::edge_shared`). Where the
    /// backend may have dropped or taken readiness unreported, the flags are rescanned
    /// (`Loop::lost_readiness`): an edge, unlike a level, is not reported again.
    fn obj_start(&mut self, o: Obj) {
        let m = match o {
            Obj::Pipe => self.evpipe_r,
            Obj::Sig => self.sigfd_m,
            Obj::Timer => self.timerfd_m,
        };
        let (cb, pri): (WatcherCb, c_int) = match o {
            Obj::Pipe => (Some(crate::ffi::callbacks::pipe_cb), EV_MAXPRI),
            Obj::Sig => (Some(crate::ffi::callbacks::sigfd_cb), EV_MAXPRI),
            Obj::Timer => (Some(crate::ffi::callbacks::timerfd_cb), EV_MINPRI),
        };
        // Lowest number first: the table's room above it then usually covers the other.
        let [a, b] = m.watched();
        self.anfds_fit(a.min(b));
        self.anfds_fit(a.max(b));
        if let Obj::Pipe = o {
            self.pipe_edge = self.evpipe_w.fds[0] < 0 && self.backend.edge_ok();
        }
        let n = self.obj_count(o);
        for (w, fd) in self.obj_watchers(o).into_iter().zip(m.watched()).take(n) {
            w.init_io(cb, fd, EV_READ);
            w.set_priority(pri);
            self.io_start(w);
            self.activecnt -= 1;
        }
        if let (Obj::Pipe, true) = (o, self.pipe_edge) {
            // (After `io_start`, which rejects the private bit as an illegal mask; the change
            // it queued is applied with this mask.)
            self.pipe_w().set_io_events(EV_READ | EDGE as c_int);
        }
    }

    /// The backend dropped readiness (a stale event, which also asks for a rebuild) or may
    /// have taken some from the kernel unreported ([`PollOut::rescan`]): an edge of the
    /// wakeup eventfd among it would never come again, so its flags are rescanned.
    #[cold]
    #[inline(never)]
    fn lost_readiness(&mut self) {
        if self.out.rebuild {
            self.out.rebuild = false;
            self.backend_rebuild = true;
        }
        self.out.rescan = false;
        let pw = self.pipe_w();
        if self.pipe_edge && pw.active() != 0 {
            self.feed(pw, EV_CUSTOM);
        }
    }

    /// How many of `o`'s internal watchers are in use (see `obj_start`).
    fn obj_count(&self, o: Obj) -> usize {
        match o {
            Obj::Pipe if self.pipe_edge => 1,
            _ => 2,
        }
    }

    /// Stop an object's internal watchers (before its numbers change). A watcher that is
    /// no longer active was killed with `EV_ERROR` (its number was closed): the kill's
    /// `activecnt` decrement is undone here, since an internal watcher never counted.
    fn obj_stop(&mut self, o: Obj) {
        let n = self.obj_count(o);
        for w in self.obj_watchers(o).into_iter().take(n) {
            self.activecnt += 1;
            if w.active() != 0 {
                self.io_stop(w);
            } else {
                self.clear_pending(w);
            }
        }
    }

    /// An internal watcher of `o` fired: handle its watchers' events in this one call, and
    /// tell whether the object lost a number (killed with `EV_ERROR`, or the two watched
    /// numbers no longer all name the object: two `kcmp`s and an `fstat`).
    fn obj_fired(&mut self, o: Obj, revents: c_int) -> bool {
        let mut ev = revents;
        let n = self.obj_count(o);
        for w in self.obj_watchers(o).into_iter().take(n) {
            ev |= self.unqueue_pending(w);
        }
        if ev & EV_ERROR != 0 {
            return true;
        }
        if ev & EV_READ == 0 {
            return false;
        }
        // The wakeup object and the signalfd wake the loop at every ev_async_send and signal:
        // the tags of all their numbers are checked (one `fcntl` each); a missing tag sends
        // them to the exact check, which also runs once a second in `fds_health_check`.
        let intact = match o {
            Obj::Pipe => {
                (self.evpipe_r.all_tagged()
                    && (!self.evpipe_w.is_some() || self.evpipe_w.all_tagged()))
                    || self.evpipe_exact_check()
            }
            Obj::Sig => self.sigfd_m.all_tagged() || self.sigfd_m.intact(),
            Obj::Timer => self.timerfd_m.intact(),
        };
        !intact
    }

    /// Every number of the wakeup object (both ends of a self-pipe) still holds it: the exact
    /// check, for an untagged object or a number whose tag is missing.
    #[cold]
    #[inline(never)]
    fn evpipe_exact_check(&self) -> bool {
        self.evpipe_r.intact() && (!self.evpipe_w.is_some() || self.evpipe_w.intact())
    }

    /// Check every loop-owned object's numbers at most every `FDS_CHECK_INTERVAL` of loop
    /// activity (a float compare per iteration; a few system calls once a second while the
    /// loop is busy, none while it sleeps) and rebuild those that lost one. An object that
    /// wakes the loop is also checked then (`obj_fired`); this catches the silent ones (a
    /// timerfd, a wakeup fd whose wake-ups all came while the loop was awake) before a second
    /// lost number could leave writers without a number they can trust.
    #[inline]
    fn fds_health(&mut self, h: &LoopHandle) {
        if self.mn_now >= self.fds_check_at {
            self.fds_health_check(h);
        }
    }

    #[cold]
    #[inline(never)]
    fn fds_health_check(&mut self, h: &LoopHandle) {
        self.fds_check_at = self.mn_now + FDS_CHECK_INTERVAL;
        if self.evpipe_r.is_some()
            && !(self.evpipe_r.intact() && (!self.evpipe_w.is_some() || self.evpipe_w.intact()))
        {
            self.obj_stop(Obj::Pipe);
            self.evpipe_make(h);
            // A writer may have found no number to write to meanwhile, or written into the
            // old object after its last reported edge: rescan the flags, without sleeping
            // first when this runs before the wait (a backend rebuild).
            let pw = self.pipe_w();
            self.feed(pw, EV_CUSTOM);
            h.wake.write_skipped.store(1, Ordering::Relaxed);
        }
        if self.sigfd_m.is_some() && !self.sigfd_m.intact() {
            self.sigfd_rebuild();
        }
        if self.timerfd_m.is_some() && !self.timerfd_m.intact() {
            self.obj_stop(Obj::Timer);
            if !self.timerfd_make() {
                self.timerfd = -2;
            }
            self.periodics_reschedule();
        }
    }

    /// Create the wakeup fd (eventfd, or a pipe) and its internal MAXPRI watchers, unless it
    /// exists.
    fn evpipe_init(&mut self, h: &LoopHandle) {
        if self.evpipe_r.is_some() {
            return;
        }
        self.evpipe_make(h);
    }

    /// (Re)create the wakeup object, reusing the old one's numbers that still hold it (so a
    /// writer that read an old number writes into the new object), publish it to writers
    /// and start its watchers.
    fn evpipe_make(&mut self, h: &LoopHandle) {
        let (old_r, old_w) = (self.evpipe_r, self.evpipe_w);
        let (alive_r, alive_w) = (
            loopfds::alive(&old_r.fds, &old_r.id),
            loopfds::alive(&old_w.fds, &old_w.id),
        );
        let (r, w, is_efd) = loop {
            let Some((rd, wr, is_efd)) = sys::wakeup_fd() else {
                // Out of descriptors: an io_uring ring that only batches changes can be given
                // back and made again later (differential hunt: a default loop could not be
                // made with the two free descriptors libev's needs).
                #[cfg(target_os = "linux")]
                if sys::errno() == libc::EMFILE
                    && (crate::backend::uring::drop_spare() || self.backend.shed_fd())
                {
                    continue; // one descriptor freed: try again
                }
                crate::ffi::globals::syserr(c"(libev) error creating signal/async pipe");
                continue;
            };
            if is_efd {
                if let Some(m) = Members::spread_tagged(wr, &old_r, alive_r) {
                    break (m, Members::NONE, true);
                }
            } else {
                let r = Members::spread_tagged(rd, &old_r, alive_r);
                let w = Members::spread_tagged(wr, &old_w, alive_w);
                if let (Some(r), Some(w)) = (r, w) {
                    break (r, w, false);
                }
                for mut m in [r, w].into_iter().flatten() {
                    m.release();
                }
            }
            crate::ffi::globals::syserr(c"(libev) error creating signal/async pipe");
        };
        // The old object's tags are free once writers see the new one (a writer still
        // holding an old tag fails its check against the new object's numbers).
        self.evpipe_r = r;
        self.evpipe_w = w;
        h.wake.fds.publish(if is_efd { &r } else { &w }, is_efd);
        for mut old in [old_r, old_w] {
            old.drop_tag();
        }
        self.obj_start(Obj::Pipe);
    }

    /// The internal wakeup watcher fired: drain the fd (or rebuild the object if one of its
    /// numbers was lost; an edge-triggered eventfd is neither drained nor checked), then feed
    /// pending signals and asyncs. After a rebuild nothing is drained (the new object is
    /// empty); the flags below are what carries the events.
    pub fn pipe_cb(&mut self, h: &LoopHandle, revents: c_int) {
        if self.pipe_w().io_events() & EDGE as c_int != 0 {
            // Edge-triggered eventfd (see `obj_start`): nothing to drain, nothing read, so no
            // number needs checking here; `EV_ERROR` (a rebuilt epoll set could not register
            // the watched number) still rebuilds the object.
            if revents & EV_ERROR != 0 {
                self.obj_stop(Obj::Pipe);
                self.evpipe_make(h);
            }
        } else if self.obj_fired(Obj::Pipe, revents) {
            self.obj_stop(Obj::Pipe);
            self.evpipe_make(h);
        } else if revents & EV_READ != 0 {
            let mut buf = [0u8; 64];
            let is_efd = h.wake.fds.is_eventfd();
            // SAFETY: reading into a valid buffer from our own non-blocking fd (its watched
            // numbers were just checked by `obj_fired`).
            unsafe {
                libc::read(
                    self.evpipe_r.fds[0],
                    buf.as_mut_ptr() as *mut c_void,
                    if is_efd { 8 } else { buf.len() },
                )
            };
        }
        self.wake_flags_scan(h);
    }

    /// Feed the signals and asyncs flagged since the last scan, and clear `write_skipped`:
    /// the wakeup watcher's work after the drain, also done directly by `run` when a wake-up
    /// was flagged but the loop has no wakeup object (signalfd mode with `ev_feed_signal`:
    /// the flag stayed set and the loop spun without ever delivering it; found by review).
    pub fn wake_flags_scan(&mut self, h: &LoopHandle) {
        h.wake.write_skipped.store(0, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if h.wake.sig_pending.load(Ordering::Relaxed) != 0 {
            h.wake.sig_pending.store(0, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            for signum in (1..NSIG as c_int).rev() {
                let s = signals::slot(signum).unwrap();
                if s.pending.load(Ordering::Acquire) != 0 {
                    self.feed_signal_event(h, signum);
                }
            }
        }
        if h.wake.async_pending.load(Ordering::Relaxed) != 0 {
            h.wake.async_pending.store(0, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            for i in (0..self.asyncs.len()).rev() {
                let w = self.asyncs[i];
                if w.async_sent().load(Ordering::Acquire) != 0 {
                    w.async_sent().store(0, Ordering::Release);
                    self.feed(w, EV_ASYNC);
                }
            }
        }
    }

    pub fn feed_signal_event(&mut self, h: &LoopHandle, signum: c_int) {
        let Some(s) = signals::slot(signum) else {
            return;
        };
        if !core::ptr::eq(s.owner.load(Ordering::Acquire), h) {
            return;
        }
        s.pending.store(0, Ordering::Release);
        // SAFETY: we own this slot (checked above); its list links active signal watchers.
        let mut p = unsafe { *s.head() };
        while !p.is_null() {
            // SAFETY: as above.
            let w = unsafe { WatcherPtr::from_raw(p) }.unwrap();
            p = w.next();
            self.feed(w, EV_SIGNAL);
        }
    }

    pub fn signal_start(&mut self, h: &LoopHandle, w: WatcherPtr) {
        if w.active() != 0 {
            return;
        }
        let signum = w.signum();
        let Some(s) = signals::slot(signum) else {
            sys::fatal("libev: ev_signal_start called with illegal signal number")
        };
        let me = h as *const LoopHandle as *mut LoopHandle;
        let owner = s.owner.load(Ordering::Acquire);
        if !owner.is_null() && owner != me {
            sys::fatal("libev: a signal must not be attached to two different loops");
        }
        s.owner.store(me, Ordering::Release);
        self.start_w(w, 1);
        Self::wlist_add(s.head(), w);
        if self.sigfd == -2 {
            self.sigfd_init();
        }
        if self.sigfd >= 0 {
            // signalfd mode (EVFLAG_SIGNALFD): block the signal and read it from the fd.
            // SAFETY: sigset manipulation on our own sets; plain syscalls.
            unsafe {
                libc::sigaddset(&mut self.sigfd_set, signum);
                let mut one: libc::sigset_t = core::mem::zeroed();
                libc::sigemptyset(&mut one);
                libc::sigaddset(&mut one, signum);
                libc::sigprocmask(libc::SIG_BLOCK, &one, core::ptr::null_mut());
            }
            self.sigfd_update();
        }
        if w.next().is_null() && self.sigfd < 0 {
            // First watcher for this signal: install our handler.
            self.evpipe_init(h);
            // SAFETY: sigaction with a fully initialised struct and our handler.
            unsafe {
                let mut sa: libc::sigaction = core::mem::zeroed();
                sa.sa_sigaction =
                    crate::ffi::callbacks::sighandler as extern "C" fn(c_int) as usize;
                libc::sigfillset(&mut sa.sa_mask);
                sa.sa_flags = libc::SA_RESTART;
                libc::sigaction(signum, &sa, core::ptr::null_mut());
                if self.origflags & EVFLAG_NOSIGMASK != 0 {
                    // libev 4.33 measured: the flag *unblocks* the signal (the manual's wording
                    // suggests the opposite; we match the library).
                    let mut set: libc::sigset_t = core::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, signum);
                    libc::sigprocmask(libc::SIG_UNBLOCK, &set, core::ptr::null_mut());
                }
            }
        }
    }

    pub fn signal_stop(&mut self, w: WatcherPtr) {
        self.clear_pending(w);
        if w.active() == 0 {
            return;
        }
        let signum = w.signum();
        let Some(s) = signals::slot(signum) else {
            sys::fatal(
                "libev: ev_signal_stop called with illegal signal number (changed while active?)",
            )
        };
        Self::wlist_del(
            s.head(),
            w,
            "libev: ev_signal_stop: the watcher is not on its signal's list (signal number changed while active?)",
        );
        self.stop_w(w);
        // SAFETY: we own this slot.
        if unsafe { (*s.head()).is_null() } {
            s.owner.store(core::ptr::null_mut(), Ordering::Release);
            if self.sigfd >= 0 {
                // SAFETY: sigset manipulation on our own sets; plain syscalls.
                unsafe {
                    libc::sigdelset(&mut self.sigfd_set, signum);
                    let mut one: libc::sigset_t = core::mem::zeroed();
                    libc::sigemptyset(&mut one);
                    libc::sigaddset(&mut one, signum);
                    libc::sigprocmask(libc::SIG_UNBLOCK, &one, core::ptr::null_mut());
                }
                self.sigfd_update();
                return;
            }
            // libev restores SIG_DFL (not the previous handler) when the last watcher stops.
            // SAFETY: plain syscall.
            unsafe { libc::signal(signum, libc::SIG_DFL) };
        }
    }

    /// Create the signalfd lazily (first signal watcher of an `EVFLAG_SIGNALFD` loop). If
    /// the kernel refuses, fall back to sigaction delivery for good.
    fn sigfd_init(&mut self) {
        // SAFETY: plain call on our own sigset.
        unsafe { libc::sigemptyset(&mut self.sigfd_set) };
        if !self.sigfd_make() {
            self.sigfd = -1;
        }
    }

    /// (Re)create the signalfd for the current set, reusing the old object's numbers that
    /// still hold it. Signals stay queued in the kernel until a signalfd reads them, so a
    /// rebuilt signalfd reports what the lost one did not.
    fn sigfd_make(&mut self) -> bool {
        let old = self.sigfd_m;
        let fd = sys::signalfd(-1, &self.sigfd_set);
        let m = if fd < 0 {
            None
        } else {
            Members::spread_tagged(fd, &old, loopfds::alive(&old.fds, &old.id))
        };
        let Some(m) = m else {
            // No new object (EMFILE, ENOMEM): close the numbers that still hold the old one
            // (in a forked child, our copies of the parent's), or they stay open until exit
            // (found by review).
            let mut old = old;
            old.release();
            self.sigfd_m = Members::NONE;
            return false;
        };
        let mut old = old;
        old.drop_tag();
        self.sigfd_m = m;
        self.sigfd = m.fds[0];
        self.obj_start(Obj::Sig);
        true
    }

    /// The signal set changed: update the signalfd through a number that still holds it
    /// (never an application's signalfd at a lost number), or rebuild it.
    fn sigfd_update(&mut self) {
        if self.fds_gen != crate::ffi::atfork::generation() {
            // A forked child: the signalfd is shared with the parent, whose mask must not
            // change. The child gets its own (with the whole current set).
            self.sigfd_rebuild();
            return;
        }
        match loopfds::first_alive(&self.sigfd_m.fds, &self.sigfd_m.id) {
            Some(fd) => {
                sys::signalfd(fd, &self.sigfd_set);
            }
            None => self.sigfd_rebuild(),
        }
    }

    fn sigfd_rebuild(&mut self) {
        self.obj_stop(Obj::Sig);
        if !self.sigfd_make() {
            crate::ffi::globals::syserr(c"(libev) signalfd");
        }
    }

    /// The signalfd is readable: feed every signal it reports (or rebuild it if one of its
    /// numbers was lost; the queued signals then make the new one readable).
    pub fn sigfd_cb(&mut self, h: &LoopHandle, revents: c_int) {
        if self.obj_fired(Obj::Sig, revents) {
            self.sigfd_rebuild();
            return;
        }
        let mut signals = Vec::new();
        while sys::read_signalfd(self.sigfd, &mut signals) {}
        for signum in signals {
            self.feed_signal_event(h, signum);
        }
    }

    // ------------------------------------------------------------------ children

    pub fn child_start(&mut self, w: WatcherPtr) {
        if !self.is_default {
            sys::fatal("libev: child watchers are only supported in the default loop");
        }
        if w.active() != 0 {
            return;
        }
        self.start_w(w, 1);
        let head =
            core::ptr::addr_of_mut!(self.childs[w.child_pid() as usize & (PID_HASHSIZE - 1)]);
        Self::wlist_add(head, w);
    }

    pub fn child_stop(&mut self, w: WatcherPtr) {
        self.clear_pending(w);
        if w.active() == 0 {
            return;
        }
        let head =
            core::ptr::addr_of_mut!(self.childs[w.child_pid() as usize & (PID_HASHSIZE - 1)]);
        Self::wlist_del(
            head,
            w,
            "libev: ev_child_stop: the watcher is not on its pid's list (pid changed while active?)",
        );
        self.stop_w(w);
    }

    /// SIGCHLD arrived: reap one child (and re-run until none is left), feeding matching
    /// child watchers. Every child is reaped, watched or not, as libev does.
    pub fn child_cb(&mut self) {
        let mut status: c_int = 0;
        // SAFETY: valid out-pointer.
        let mut pid = unsafe {
            libc::waitpid(
                -1,
                &mut status,
                libc::WNOHANG | libc::WUNTRACED | libc::WCONTINUED,
            )
        };
        if pid < 0 && sys::errno() == libc::EINVAL {
            // SAFETY: as above.
            pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::WUNTRACED) };
        }
        if pid <= 0 {
            return;
        }
        // Run again in this pass: there may be more children to reap.
        // SAFETY: internal watcher, valid for the loop's lifetime.
        let cw = unsafe { WatcherPtr::from_raw(self.childev_ptr()) }.unwrap();
        self.feed(cw, EV_SIGNAL);
        self.child_reap(pid, pid, status);
        self.child_reap(0, pid, status);
    }

    fn child_reap(&mut self, chain: c_int, pid: c_int, status: c_int) {
        let traced = libc::WIFSTOPPED(status) || libc::WIFCONTINUED(status);
        let mut p = self.childs[chain as usize & (PID_HASHSIZE - 1)];
        while !p.is_null() {
            // SAFETY: the chain links only active child watchers.
            let w = unsafe { WatcherPtr::from_raw(p) }.unwrap();
            p = w.next();
            let wpid = w.child_pid();
            if (wpid == pid || wpid == 0) && (!traced || w.child_flags() & 1 != 0) {
                w.set_priority(EV_MAXPRI);
                w.set_child_status(pid, status);
                self.feed(w, EV_CHILD);
            }
        }
    }

    // ------------------------------------------------------------------ async

    pub fn async_start(&mut self, h: &LoopHandle, w: WatcherPtr) {
        if w.active() != 0 {
            return;
        }
        w.async_sent().store(0, Ordering::Release);
        self.evpipe_init(h);
        self.array_start(|l| &mut l.asyncs, w);
    }

    pub fn async_stop(&mut self, w: WatcherPtr) {
        self.array_stop(|l| &mut l.asyncs, w);
    }

    // ------------------------------------------------------------------ fork

    /// Rebuild kernel state in a new process (`ev_loop_fork`, `EVFLAG_FORKCHECK`) or after
    /// the backend noticed interference. Runs inside `ev_run`, never earlier.
    fn loop_fork(&mut self, h: &LoopHandle, real_fork: bool) {
        if self.backend.fork() {
            self.fd_rearm_all();
        }
        // The wakeup object and timerfd are replaced in a new process even when nobody
        // called ev_loop_fork: writers refuse to write into objects of another generation.
        let gen = crate::ffi::atfork::generation();
        let real_fork = real_fork || self.fds_gen != gen;
        self.fds_gen = gen;
        // A new process gets its own timerfd and wakeup object (libev does the same). The
        // new objects are dup3()ed onto the inherited numbers that still hold the old ones:
        // only this process's descriptors change, the parent's objects are not touched.
        if real_fork && self.timerfd_m.is_some() {
            self.obj_stop(Obj::Timer);
            if self.timerfd_make() {
                // As libev: the new timerfd's callback runs at once, and once more at the
                // next invoke, "in case we missed something" (differential hunt: periodics
                // that fell due before ev_loop_fork fired where libev skips them).
                self.timerfd_resync();
                let tw = self.obj_watchers(Obj::Timer)[0];
                self.feed(tw, EV_CUSTOM);
            } else {
                self.timerfd = -2;
            }
        }
        if real_fork && self.sigfd_m.is_some() {
            // The inherited signalfd is the parent's too: changing its mask would change the
            // parent's.
            self.sigfd_rebuild();
        }
        if real_fork && self.evpipe_r.is_some() {
            self.obj_stop(Obj::Pipe);
            self.evpipe_make(h);
            // Rescan signals and asyncs that may have been flagged before the fork, or in
            // this process before this rebuild: a writer here found only the parent's object,
            // which it must not write to, so nothing woke us. `write_skipped` makes the wait
            // before that rescan non-blocking (found by review: a signal sent in the child
            // before its first `ev_run` waited for the next timer).
            let pw = self.pipe_w();
            self.feed(pw, EV_CUSTOM);
            h.wake.write_skipped.store(1, Ordering::Relaxed);
        }
    }

    // ------------------------------------------------------------------ verify

    pub fn verify(&self) -> Result<(), String> {
        self.timers.verify()?;
        self.periodics.verify()?;
        if self.pq.n != self.pq.q.iter().map(Vec::len).sum::<usize>() {
            return Err("pending entry count is inconsistent".into());
        }
        if self.pq.q[self.pq.pri + 1..].iter().any(|q| !q.is_empty()) {
            return Err("a pending queue above the dispatch priority is not empty".into());
        }
        for (pri, q) in self.pq.q.iter().enumerate() {
            for (i, p) in q.iter().enumerate() {
                if p.w != self.dummy() {
                    let w = p.w;
                    if w.pending() as usize != i + 1 {
                        return Err(format!(
                            "pending watcher at priority {pri} slot {i} has pending {}",
                            w.pending()
                        ));
                    }
                    if w.abspri() != pri {
                        return Err("watcher priority changed while pending".into());
                    }
                }
            }
        }
        let arrays: [(&str, &Vec<WatcherPtr>); 5] = [
            ("prepare", &self.prepares),
            ("check", &self.checks),
            ("fork", &self.forks),
            ("cleanup", &self.cleanups),
            ("async", &self.asyncs),
        ];
        for (name, arr) in arrays {
            for (i, w) in arr.iter().enumerate() {
                if w.active() as usize != i + 1 {
                    return Err(format!("{name} watcher {i} has active {}", w.active()));
                }
            }
        }
        for (pri, arr) in self.idles.iter().enumerate() {
            for (i, w) in arr.iter().enumerate() {
                if w.active() as usize != i + 1 || w.abspri() != pri {
                    return Err(format!(
                        "idle watcher {i} (priority index {pri}) inconsistent"
                    ));
                }
            }
        }
        for (fd, a) in self.anfds.iter() {
            let mut p = a.head;
            let mut n = 0usize;
            while !p.is_null() {
                // SAFETY: the fd list links only active io watchers.
                let w = unsafe { WatcherPtr::from_raw(p) }.unwrap();
                if w.active() == 0 || w.io_fd() as usize != fd {
                    return Err(format!(
                        "io watcher on fd list {fd} is inactive or has fd {}",
                        w.io_fd()
                    ));
                }
                n += 1;
                if n > 1 << 24 {
                    return Err(format!("io watcher list of fd {fd} is cyclic"));
                }
                p = w.next();
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------- callback-running code

/// Run every pending callback (libev's `ev_invoke_pending`).
///
/// # Safety
/// `lp` is a live loop; no reference to its state is held by the caller.
#[inline]
pub unsafe fn invoke_pending(lp: *mut ev_loop) {
    // SAFETY: caller contract.
    let h = unsafe { LoopHandle::from_ptr(lp) };
    loop {
        // SAFETY: the borrow ends at the end of this statement, before the callback.
        let next = unsafe { (*h.core()).pop_pending() };
        let Some((w, revents)) = next else { break };
        // SAFETY: no borrow of the loop is alive here.
        unsafe { w.invoke(lp, revents) };
    }
}

/// Call the invoke-pending hook (`ev_set_invoke_pending_cb`), by default [`invoke_pending`].
///
/// # Safety
/// As for [`invoke_pending`].
#[inline]
pub unsafe fn invoke_hook(lp: *mut ev_loop) {
    // SAFETY: caller contract; the reads end before the call.
    let (cb, npending) = unsafe {
        let l = &*LoopHandle::from_ptr(lp).core();
        (l.invoke_cb, l.pq.n)
    };
    match cb {
        // SAFETY: user hook called with its own loop, no borrow alive.
        Some(cb) => unsafe { cb(lp) },
        // SAFETY: caller contract.
        None if npending != 0 => unsafe { invoke_pending(lp) },
        None => {}
    }
}

/// `ev_run`.
///
/// # Safety
/// `lp` is a live loop; the caller holds no reference to its state.
pub unsafe fn run(lp: *mut ev_loop, flags: c_int) -> c_int {
    // SAFETY: caller contract.
    let h = unsafe { LoopHandle::from_ptr(lp) };
    let core = h.core();
    // All `unsafe { &mut *core }` below are short exclusive borrows that end before any
    // user callback (invoke hook, release/acquire hooks) runs.
    {
        // SAFETY: see above.
        let l = unsafe { &mut *core };
        l.loop_depth += 1;
        l.loop_done = EVBREAK_CANCEL;
    }
    // SAFETY: no borrow alive.
    unsafe { invoke_hook(lp) };

    loop {
        let (has_forks, has_prepares);
        {
            // SAFETY: see above.
            let l = unsafe { &mut *core };
            if l.curpid != 0 {
                let pid = sys::getpid();
                if pid != l.curpid {
                    l.curpid = pid;
                    l.postfork = true;
                }
            }
            has_forks = l.postfork && !l.forks.is_empty();
            if has_forks {
                l.queue_events(|l| &l.forks, EV_FORK);
            }
        }
        if has_forks {
            // SAFETY: no borrow alive.
            unsafe { invoke_hook(lp) };
        }
        {
            // SAFETY: see above.
            let l = unsafe { &mut *core };
            has_prepares = !l.prepares.is_empty();
            if has_prepares {
                l.queue_events(|l| &l.prepares, EV_PREPARE);
            }
        }
        if has_prepares {
            // SAFETY: no borrow alive.
            unsafe { invoke_hook(lp) };
        }

        let waittime;
        // The monotonic time `waittime` counts from (`PollOut::since`).
        let since;
        {
            // SAFETY: see above.
            let l = unsafe { &mut *core };
            if l.loop_done != EVBREAK_CANCEL {
                break;
            }
            let gen = crate::ffi::atfork::generation();
            l.out.gen = gen;
            if l.postfork {
                l.postfork = false;
                l.backend_rebuild = false;
                l.loop_fork(h, true);
            } else if l.backend_rebuild || l.fds_gen != gen {
                // (A forked child running the loop without ev_loop_fork: it gets its own
                // kernel objects before it waits, and never touches its parent's.)
                if l.fds_gen == gen {
                    // A rebuilt set registers by number: a number of ours that now names
                    // another file would register that file instead of our object (the
                    // edge-triggered wakeup eventfd has only one watched number).
                    l.fds_health_check(h);
                }
                l.backend_rebuild = false;
                l.loop_fork(h, false);
            }
            if l.fdchanges.is_empty() {
                // Nothing to apply, so no fd can have been rejected either.
                l.killed_in_reify = false;
            } else {
                l.fd_reify();
            }

            let prev_mn_now = l.mn_now;
            l.time_update();
            h.wake.write_wanted.store(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);

            let mut wt = 0.0;
            let mut base = l.mn_now;
            let nowait = flags & EVRUN_NOWAIT != 0
                || l.idleall != 0
                || l.activecnt == 0
                || h.wake.write_skipped.load(Ordering::Relaxed) != 0
                || l.killed_in_reify;
            if !nowait {
                wt = if l.timerfd >= 0 {
                    MAX_BLOCKTIME2
                } else {
                    MAX_BLOCKTIME
                };
                if let Some(t) = l.timers.top() {
                    wt = wt.min(t.at - l.mn_now);
                }
                if let Some(t) = l.periodics.top() {
                    wt = wt.min(t.at - l.rt_now);
                }
                if wt < l.timeout_blocktime {
                    wt = l.timeout_blocktime;
                }
                // (Every backend's mintime is at most MAX_MINTIME: ask only when it matters.)
                if wt < backend::MAX_MINTIME {
                    let mintime = l.backend.mintime();
                    if wt < mintime {
                        wt = if wt <= 0.0 { 0.0 } else { mintime };
                    }
                }
                // (`> 0.0`, not `!= 0.0`: one branch less, and a negative or NaN blocktime
                // never sleeps either way.)
                if l.io_blocktime > 0.0 {
                    let mintime = l.backend.mintime();
                    let mut st = l.io_blocktime - (l.mn_now - prev_mn_now);
                    if st > wt - mintime {
                        st = wt - mintime;
                    }
                    if st > 0.0 {
                        sys::sleep(st);
                        wt -= st;
                        // A signal may have cut the sleep short: the clock, not `base + st`,
                        // keeps `since` no later than the wait's real start (review).
                        base = sys::monotonic();
                    }
                }
            }
            l.loop_count = l.loop_count.wrapping_add(1);
            waittime = wt;
            since = base;
        }

        {
            // The release/acquire hooks are called by the backend right around its blocking
            // system call (libev's EV_RELEASE_CB/EV_ACQUIRE_CB): in between, another thread
            // holding the application's lock may start or stop watchers, which changes (and
            // may move) the fd table. So no `&mut Loop` is held across the poll: the backend
            // and `out` are borrowed (no other thread touches them), the fd table is reached
            // through `Fds` and borrowed afresh after `acquire`.
            // SAFETY: reads of fields; the loop is alive for the whole of `run`.
            let hooks = unsafe { Hooks::new(lp, (*core).release_cb, (*core).acquire_cb) };
            // SAFETY: field pointer of the live loop; only re-borrowed by the backend
            // outside the hooks' window (`Fds::get`'s contract).
            let fds = Fds::from_raw(unsafe { core::ptr::addr_of_mut!((*core).anfds) });
            // SAFETY: disjoint fields of the live loop that no other thread writes (other
            // threads may only change watchers between the hooks, see above; an
            // `ev_io_stop` there reads the backend at most: `Backend::fd_released` takes
            // `&self`).
            let (backend, out) = unsafe { (&mut (*core).backend, &mut (*core).out) };
            out.ready.clear();
            out.since = since;
            backend.poll(fds, waittime, out, &hooks);
        }

        let more;
        {
            // SAFETY: see above.
            let l = unsafe { &mut *core };
            // (Cleared before the next poll.)
            for &(fd, ev) in &l.out.ready {
                fd_event(&l.anfds, &mut l.pq, fd, ev);
            }
            l.process_kills();
            if l.out.rebuild | l.out.rescan {
                l.lost_readiness();
            }
            h.wake.write_wanted.store(0, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if h.wake.write_skipped.load(Ordering::Relaxed) != 0 {
                let pw = l.pipe_w();
                if pw.active() != 0 {
                    l.feed(pw, EV_CUSTOM);
                } else {
                    l.wake_flags_scan(h);
                }
            }
            l.time_update();
            l.fds_health(h);
            // Most iterations expire nothing: test the roots here, reify out of line.
            if l.timers.top().is_some_and(|t| t.at < l.mn_now) {
                l.timers_reify();
            }
            if l.periodics.top().is_some_and(|t| t.at < l.rt_now) {
                l.periodics_reify();
            }
            // Idle watchers: only the highest priority with idle watchers runs, and only if
            // nothing at or above it is pending.
            if l.idle_mask != 0 {
                let pri = (u32::BITS - 1 - l.idle_mask.leading_zeros()) as usize;
                if !l.pending_at_or_above(pri) {
                    for i in 0..l.idles[pri].len() {
                        let w = l.idles[pri][i];
                        l.feed(w, EV_IDLE);
                    }
                }
            }
            if !l.checks.is_empty() {
                l.queue_events(|l| &l.checks, EV_CHECK);
            }
        }
        // SAFETY: no borrow alive.
        unsafe { invoke_hook(lp) };
        {
            // SAFETY: see above.
            let l = unsafe { &*core };
            more = l.activecnt != 0
                && l.loop_done == EVBREAK_CANCEL
                && flags & (EVRUN_ONCE | EVRUN_NOWAIT) == 0;
        }
        if !more {
            break;
        }
    }

    // SAFETY: see above.
    let l = unsafe { &mut *core };
    if l.loop_done == EVBREAK_ONE {
        l.loop_done = EVBREAK_CANCEL;
    }
    l.loop_depth = l.loop_depth.wrapping_sub(1);
    l.activecnt
}

/// `ev_loop_destroy`: run cleanup watchers, release kernel objects and signal bindings.
/// Watchers still active are left as they are (orphaned), as in libev.
///
/// # Safety
/// `lp` is a live loop; the caller holds no reference to its state. On return the loop's
/// state is dropped; the caller frees or forgets the handle's storage.
/// Length of a watcher list.
fn list_len(mut p: *mut ev_watcher_list) -> c_int {
    let mut n = 0;
    while !p.is_null() {
        n += 1;
        // SAFETY: the list links active watchers (parked lists: the application keeps them).
        p = unsafe { (*p).next };
    }
    n
}

/// The destroyed default loop's count of active watchers (libev's survives in its static loop).
static PARKED_ACTIVECNT: AtomicI32 = AtomicI32::new(0);

/// Child watchers left active in a destroyed default loop, for the next one (see `destroy`).
static PARKED_CHILDS: [AtomicPtr<ev_watcher_list>; PID_HASHSIZE] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; PID_HASHSIZE];

pub unsafe fn destroy(lp: *mut ev_loop) {
    // SAFETY: caller contract.
    let h = unsafe { LoopHandle::from_ptr(lp) };
    let has_cleanups;
    {
        // SAFETY: short borrow, no callbacks.
        let l = unsafe { &mut *h.core() };
        has_cleanups = !l.cleanups.is_empty();
        if has_cleanups {
            l.queue_events(|l| &l.cleanups, EV_CLEANUP);
        }
    }
    if has_cleanups {
        // SAFETY: no borrow alive.
        unsafe { invoke_hook(lp) };
    }
    // SAFETY: short borrow, no callbacks.
    let l = unsafe { &mut *h.core() };
    // SAFETY: internal watcher.
    let cw = unsafe { WatcherPtr::from_raw(l.childev_ptr()) }.unwrap();
    if l.is_default && cw.active() != 0 {
        l.activecnt += 1;
        l.signal_stop(cw);
    }
    // Unbind every signal still bound to this loop, so a late signal never reaches freed
    // memory (libev leaves the binding dangling). The disposition stays as it is.
    // The default loop's active signal and child watchers are parked instead: libev's default
    // loop is static memory, its signal and child tables are process-wide, and the next
    // ev_default_loop simply goes on with them (differential hunt: evring dropped them, and
    // starting and stopping a second watcher for the same signal then restored SIG_DFL, so
    // the next signal killed the process).
    let me = h as *const LoopHandle as *mut LoopHandle;
    for signum in 1..NSIG as c_int {
        let s = signals::slot(signum).unwrap();
        if s.owner.load(Ordering::Acquire) == me {
            if l.is_default {
                s.owner.store(signals::parked(), Ordering::Release);
                continue;
            }
            s.owner.store(core::ptr::null_mut(), Ordering::Release);
            // SAFETY: we owned the slot.
            unsafe { *s.head() = core::ptr::null_mut() };
        }
    }
    if l.is_default {
        PARKED_ACTIVECNT.store(l.activecnt, Ordering::Release);
        for (k, head) in l.childs.iter_mut().enumerate() {
            PARKED_CHILDS[k].store(
                core::mem::replace(head, core::ptr::null_mut()),
                Ordering::Release,
            );
        }
    }
    // Writers stop here; the numbers are closed (only those still ours) when the state is
    // dropped.
    h.wake.fds.clear();
}

/// `ev_break`.
pub fn set_break(l: &mut Loop, how: c_int) {
    l.loop_done = how;
}

#[cfg(test)]
mod tests {
    use super::atoi;

    #[test]
    fn atoi_is_cs() {
        // What glibc's atoi returns for each (LIBEV_FLAGS is parsed with atoi in libev).
        for (s, v) in [
            (&b"4"[..], 4),
            (b"  128", 128),
            (b"\t\n\x0b\x0c\r 7", 7),
            (b"-2", -2),
            (b"+3x", 3),
            (b"0x80", 0),
            (b"", 0),
            (b"abc", 0),
            (b"- 1", 0),
            (b"\xff12", 0),
            (b"99999999999999999999", -1),
            (b"9223372036854775808", -1),
            (b"-9223372036854775808", 0),
            (b"-9223372036854775809", 0),
            (b"4294967424", 128),
            (b"-1", -1),
        ] {
            assert_eq!(atoi(s), v, "{:?}", String::from_utf8_lossy(s));
        }
    }
}
