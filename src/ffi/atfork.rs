//! Process generation for fork detection without a syscall.
//!
//! `getpid()` is a real system call in current glibc, too expensive for every backend call.
//! A `pthread_atfork` child handler bumps a counter instead; a backend remembers the value it
//! was created under and treats any other value as "this is a forked child: the kernel
//! objects I hold belong to my parent". The handler runs in the child of every `fork()`
//! made through libc (not after raw `clone` syscalls, which also skip libc's own fork
//! bookkeeping), before `fork()` returns there.

use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn child_after_fork() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Install the handler (once per process; inherited by children, as atfork handlers are).
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
    GENERATION.load(Ordering::Relaxed)
}
