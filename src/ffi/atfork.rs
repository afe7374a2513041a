//! Process generation for fork detection without a syscall.
//!
//! `getpid()` is a real system call in current glibc, too expensive for every backend call.
//! A `pthread_atfork` child handler bumps a counter instead; a backend remembers the value it
//! was created under and treats any other value as "this is a forked child: the kernel
//! objects I hold belong to my parent". The handler runs in the child of every `fork()`
//! made through libc (not after raw `clone` syscalls, which also skip libc's own fork
//! bookkeeping), before `fork()` returns there.

use core::ffi::c_int;
use core::sync::atomic::{AtomicU64, Ordering};
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
    });
}

/// Number of `fork()`s between the first process that registered and this one.
#[inline]
pub fn generation() -> u64 {
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
