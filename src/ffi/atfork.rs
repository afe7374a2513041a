//! Process generation for fork detection without a syscall.
//!
//! `getpid()` is a real system call in current glibc, too expensive for every backend call.
//! A `pthread_atfork` child handler bumps a counter instead; a backend remembers the value it
//! was created under and treats any other value as "this is a forked child: the kernel
//! objects I hold belong to my parent". The handler runs in the child of every `fork()`
//! made through libc (not after raw `clone` syscalls, which also skip libc's own fork
//! bookkeeping), before `fork()` returns there.
//!
//! Forks that skip the atfork handlers (glibc's async-signal-safe `_Fork()`, a raw `fork` or
//! `clone` system call) are caught on Linux by a marker page mapped `MADV_WIPEONFORK`: the
//! kernel gives every child a zeroed copy, so a zero marker means "new process" whatever made
//! it; [`generation`] then bumps the generation itself (one extra load per call otherwise).
//! Before, such a child believed it was its parent: on io_uring, destroying an inherited
//! loop ran `epoll_wait` on the epoll set shared with the parent, which consumed the parent's
//! signalfd readiness, and the parent's signal watchers never fired again (differential
//! hunt, session 7).

use core::ffi::c_int;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Once;

/// What the child handler writes, in one cache line: the handler runs in every child of a
/// process that made a loop, and its write costs that child a copy-on-write page fault; the
/// first later read of the cached pid then costs nothing more (they used to sit on two
/// pages: two faults per forked pgagroal worker).
#[repr(C, align(64))]
struct ForkState {
    generation: AtomicU64,
    /// This process's pid tagged with the generation it was read in: `(generation as u32) <<
    /// 32 | pid`, 0 = not known yet. The tag, not only the reset in the child handler, is what
    /// makes a stale value harmless: a `pid()` interrupted between `getpid` and its store by
    /// a signal handler that forks would otherwise store the parent's pid in the child.
    pid: AtomicU64,
}

static STATE: ForkState = ForkState {
    generation: AtomicU64::new(0),
    pid: AtomicU64::new(0),
};
static REGISTER: Once = Once::new();

extern "C" fn child_after_fork() {
    STATE.generation.fetch_add(1, Ordering::Relaxed);
    STATE.pid.store(0, Ordering::Relaxed);
    let m = MARK.load(Ordering::Relaxed);
    if !m.is_null() {
        // SAFETY: `m` points into the marker page, mapped for the life of the process (the
        // child has a zeroed copy): this fork is counted already.
        unsafe { (*m).store(LIVE, Ordering::Release) };
    }
}

/// The wipe-on-fork marker (null: not available, e.g. Linux < 4.14 or another OS).
static MARK: AtomicPtr<AtomicU32> = AtomicPtr::new(core::ptr::null_mut());
/// Marker value once the fork is counted (the kernel's zero: a new process not counted yet).
const LIVE: u32 = 2;

#[cfg(target_os = "linux")]
fn map_marker() {
    const MADV_WIPEONFORK: c_int = 18;
    // SAFETY: a fresh private anonymous page; nothing else refers to it.
    unsafe {
        let p = libc::mmap(
            core::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return;
        }
        if libc::madvise(p, 4096, MADV_WIPEONFORK) != 0 {
            libc::munmap(p, 4096);
            return;
        }
        let m = p as *mut AtomicU32;
        (*m).store(LIVE, Ordering::Release);
        MARK.store(m, Ordering::Release);
    }
}

#[cfg(not(target_os = "linux"))]
fn map_marker() {}

/// The marker says this process is a child not counted yet (a fork without our handler).
/// No lock and no waiting (signal handlers get here through the loop-fd checks): every
/// thread or handler that sees the zero marker bumps the generation. Two bumps for one fork
/// are harmless -- a generation only has to differ from the parent's -- and a loop would have
/// to be created in the child in between for it to notice (it then rebuilds once).
#[cold]
#[inline(never)]
fn count_unseen_fork(m: *mut AtomicU32) {
    STATE.generation.fetch_add(1, Ordering::AcqRel);
    STATE.pid.store(0, Ordering::Relaxed);
    // SAFETY: `m` points into the marker page (see `child_after_fork`).
    unsafe { (*m).store(LIVE, Ordering::Release) };
}

/// Install the handler (once per process; inherited by children, as atfork handlers are).
/// Every loop creation calls this: [`pid`] and the io_uring backend's fork check rely on it.
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic; no prepare/parent hooks.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(child_after_fork)) };
        if rc != 0 {
            crate::sys::fatal("(libev) pthread_atfork failed");
        }
        map_marker();
    });
}

/// Number of `fork()`s between the first process that registered and this one.
#[inline]
pub fn generation() -> u64 {
    let m = MARK.load(Ordering::Relaxed);
    // SAFETY: a non-null `m` points into the marker page, mapped for the life of the process.
    if !m.is_null() && unsafe { (*m).load(Ordering::Acquire) } != LIVE {
        count_unseen_fork(m);
    }
    STATE.generation.load(Ordering::Relaxed)
}

/// This process's pid, cached until the next `fork()` (`getpid` is a system call, and `kcmp`
/// needs a pid). Async-signal-safe. Valid only once [`ensure_registered`] ran (every loop
/// creation calls it, and only loop-owned fds ask for the pid).
#[inline]
pub fn pid() -> c_int {
    let gen = generation() as u32;
    let v = STATE.pid.load(Ordering::Relaxed);
    if v != 0 && (v >> 32) as u32 == gen {
        return v as u32 as c_int;
    }
    let p = crate::sys::getpid();
    STATE.pid.store(
        (u64::from(gen) << 32) | u64::from(p as u32),
        Ordering::Relaxed,
    );
    p
}
