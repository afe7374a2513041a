//! Thin helpers around the system calls the loop makes.

use core::ffi::c_int;

/// The calling thread's `errno`.
#[inline]
pub fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Set `errno` (signal handlers and `ev_async_send` must leave it as they found it).
#[inline]
pub fn set_errno(v: c_int) {
    // SAFETY: the errno location functions always return a valid pointer to this thread's
    // errno.
    unsafe {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let p = libc::__errno_location();
        #[cfg(any(target_os = "freebsd", target_os = "dragonfly", target_os = "macos"))]
        let p = libc::__error();
        #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
        let p = libc::__errno();
        *p = v;
    }
}

fn clock(id: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; the clocks used here always exist on Linux.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Monotonic time in seconds (the clock timers run on).
#[inline]
pub fn monotonic() -> f64 {
    clock(libc::CLOCK_MONOTONIC)
}

/// Wall-clock time in seconds since the epoch (`ev_time`).
#[inline]
pub fn realtime() -> f64 {
    clock(libc::CLOCK_REALTIME)
}

/// Sleep for `delay` seconds (`ev_sleep`, and the loop's io collect sleep), as libev: one
/// `nanosleep`, which a signal cuts short ("until either it is interrupted or the given time
/// interval has passed"); nothing for `delay <= 0` or NaN. Restarting after EINTR held back a
/// signal or child watcher for the whole io collect interval (differential hunt).
pub fn sleep(delay: f64) {
    if delay.is_nan() || delay <= 0.0 {
        return;
    }
    let ts = to_timespec(delay.min(1e9));
    // SAFETY: a valid timespec on our stack; no remainder wanted.
    unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
}

/// Seconds to a `timespec` (non-negative input).
pub fn to_timespec(t: f64) -> libc::timespec {
    let t = t.max(0.0);
    let sec = t.floor();
    let mut nsec = ((t - sec) * 1e9) as libc::c_long;
    if nsec >= 1_000_000_000 {
        nsec = 999_999_999;
    }
    libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec,
    }
}

/// Timeout in milliseconds for poll(2)/epoll_wait(2), rounded **up** so that a loop never
/// wakes before its deadline and spins (both calls may return early otherwise).
#[inline]
pub fn timeout_ms(t: f64) -> c_int {
    if t <= 0.0 {
        0
    } else {
        // Same rounding as libev (ms + 0.9999, truncated), so syscall traces match.
        let ms = t * 1e3 + 0.9999;
        if ms > i32::MAX as f64 {
            i32::MAX
        } else {
            ms as c_int
        }
    }
}

/// Close an fd, ignoring errors (used only for fds the loop owns).
#[inline]
pub fn close(fd: c_int) {
    if fd >= 0 {
        // SAFETY: closing an fd the caller owns.
        unsafe { libc::close(fd) };
    }
}

/// True when the process runs set-uid or set-gid (then `LIBEV_FLAGS` is ignored, as in libev).
pub fn is_setid() -> bool {
    // SAFETY: these calls have no preconditions.
    unsafe { libc::getuid() != libc::geteuid() || libc::getgid() != libc::getegid() }
}

/// Run `f` on the value of environment variable `name`, if set.
///
/// libc's `getenv`, not `std::env`: a loop is created in every forked pgagroal worker, and
/// std's environment access pulls code from three more text pages into the child (each one a
/// page fault per fork, measured with `perf record -e page-faults`). std's lock only orders
/// Rust's own `set_var` calls, which a C program does not make; `f` runs before anything else
/// here can touch the environment.
pub fn env_with<R>(name: &core::ffi::CStr, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    // SAFETY: `name` is NUL-terminated; getenv returns NULL or a NUL-terminated string that
    // stays valid until the environment is modified, and it is used only within this call.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null result of getenv: a NUL-terminated string (see above).
    Some(f(unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes()))
}

/// Is the process in secure-execution mode (`AT_SECURE`: set-id or file capabilities)?
/// glibc's `secure_getenv` rule for our private knobs. Fixed for the life of the process, so
/// cached: a forked worker then does not fault in the libc page of `getauxval`.
#[cfg(target_os = "linux")]
pub fn secure() -> bool {
    use core::sync::atomic::{AtomicU8, Ordering};
    static SECURE: AtomicU8 = AtomicU8::new(0); // 0 = not read yet, 1 = no, 2 = yes
    match SECURE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            // SAFETY: getauxval only reads the process's auxiliary vector.
            let yes = unsafe { libc::getauxval(libc::AT_SECURE) } != 0;
            SECURE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

/// `fstat(fd)`. On x86-64 and AArch64 Linux the `fstat` system call itself: glibc's
/// `fstat` is `fstatat(fd, "", AT_EMPTY_PATH)`, and the kernel reads that empty path from
/// libc's read-only data, a page a forked child has not mapped yet -- one page fault (~2 us
/// here) per forked process that creates a loop (`perf record -e page-faults`, bench_fork).
#[inline]
pub fn fstat(fd: c_int, st: &mut libc::stat) -> c_int {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        // SAFETY: valid out-pointer; glibc's `struct stat` is the kernel's on these targets.
        unsafe { libc::syscall(libc::SYS_fstat, fd, st as *mut libc::stat) as c_int }
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        // SAFETY: valid out-pointer.
        unsafe { libc::fstat(fd, st) }
    }
}

/// `getpid()`.
#[inline]
pub fn getpid() -> c_int {
    // SAFETY: no preconditions.
    unsafe { libc::getpid() }
}

/// Write a message to stderr and abort the process: used for misuse that libev asserts on.
pub fn fatal(msg: &str) -> ! {
    let text = format!("evring: {msg}\n");
    // SAFETY: writing a valid buffer to fd 2.
    unsafe {
        libc::write(2, text.as_ptr() as *const libc::c_void, text.len());
        libc::abort();
    }
}

// ---------------------------------------------------------------------------- loop-owned fds

/// Lowest number loop-owned fds are moved to (see [`protect_fd`]): half the soft
/// `RLIMIT_NOFILE`, at most 512, or 0 (do not move) when the limit is tiny.
fn protected_floor() -> c_int {
    use core::sync::atomic::{AtomicI32, Ordering};
    static FLOOR: AtomicI32 = AtomicI32::new(-1);
    let f = FLOOR.load(Ordering::Relaxed);
    if f >= 0 {
        return f;
    }
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 {
        rl.rlim_cur
    } else {
        0
    };
    let floor = if soft == libc::RLIM_INFINITY || soft > 1024 {
        512
    } else if soft >= 128 {
        (soft / 2) as c_int
    } else {
        0
    };
    FLOOR.store(floor, Ordering::Relaxed);
    floor
}

/// Move a loop-owned fd to a high number (close-on-exec), away from the low numbers
/// applications allocate and sometimes close by mistake (pgagroal 1.6.0's workers close fd
/// numbers taken from the parent's pool table; with libev that can be the worker loop's own
/// epoll fd). Returns the fd to use; on failure the original one.
pub fn protect_fd(fd: c_int) -> c_int {
    let floor = protected_floor();
    if fd < 0 || floor == 0 || fd >= floor {
        return fd;
    }
    // SAFETY: duplicating an fd we own; the original is closed only on success.
    let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, floor) };
    if high < 0 {
        return fd;
    }
    close(fd);
    high
}

/// A close-on-exec duplicate of `fd` at a protected (high) number, or -1.
pub fn dup_high(fd: c_int) -> c_int {
    // SAFETY: duplicating an fd the caller owns.
    unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, protected_floor()) }
}
/// Make `target` (a number the caller owns) name `fd`'s file, close-on-exec. Returns `target`
/// or -1. (`dup3` is not on macOS: `dup2` + `FD_CLOEXEC` there, with a window in which an
/// `exec` on another thread would inherit the number.)
pub fn dup_onto(fd: c_int, target: c_int) -> c_int {
    #[cfg(not(target_os = "macos"))]
    {
        // SAFETY: the caller owns `target`.
        unsafe { libc::dup3(fd, target, libc::O_CLOEXEC) }
    }
    #[cfg(target_os = "macos")]
    {
        // SAFETY: the caller owns `target`.
        let r = unsafe { libc::dup2(fd, target) };
        if r >= 0 {
            // SAFETY: setting a flag on our own number.
            unsafe { libc::fcntl(r, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        r
    }
}

// The tag of a loop-owned open file (`core::loopfds`): its `F_SETSIG` signal number. The
// kernel uses that number only to signal I/O readiness (files with `O_ASYNC`, which the loop
// never sets) and lease/dnotify breaks (which eventfds, pipes and signalfds do not have).
// Reading it is one bare `fcntl` (~0.2 us here, against ~1.5 us for a `kcmp` plus an
// `fstat`). 10 and 11 are asm-generic/fcntl.h's values, used by every Linux architecture
// Rust targets (only parisc, which Rust does not target, has others).
#[cfg(target_os = "linux")]
const F_SETSIG: c_int = 10;
#[cfg(target_os = "linux")]
const F_GETSIG: c_int = 11;

/// The tag of the open file at `fd` (0 = none; -1 = not open, or no tags on this system).
/// Async-signal-safe; clobbers errno.
#[inline]
pub fn fd_tag(fd: c_int) -> c_int {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: F_GETSIG takes no argument and only reads the file's owner data. The raw
        // system call: glibc's variadic `fcntl` wrapper costs ~30 instructions more, at
        // every wake-up.
        unsafe { libc::syscall(libc::SYS_fcntl, fd, F_GETSIG) as c_int }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        -1
    }
}

/// Tag the open file at `fd` (all numbers that share it see the tag); whether the kernel took
/// it. The caller has just created the object (no other number names it yet). Failure
/// (ENOMEM on kernels that allocate the owner data lazily, or no tags on this system) leaves
/// the object untagged: it is checked the exact way at every wake-up.
pub fn set_fd_tag(fd: c_int, tag: c_int) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: F_SETSIG with a valid signal number on a number the caller owns.
        unsafe { libc::fcntl(fd, F_SETSIG, tag) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, tag);
        false
    }
}

// Linux has eventfd, signalfd and timerfd; elsewhere the loop uses a pipe and sigaction, and
// relies on its own clock-jump detection. These wrappers keep the core free of cfgs.

/// Create the loop's wakeup object: `(read_fd, write_fd, is_eventfd)`. An eventfd serves as
/// both ends (read_fd is -1). The fds are at whatever number the kernel picked: the caller
/// spreads them over protected numbers (`core::loopfds::Members`).
pub fn wakeup_fd() -> Option<(c_int, c_int, bool)> {
    #[cfg(target_os = "linux")]
    if !self_pipe_forced() {
        // SAFETY: plain syscall.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd >= 0 {
            return Some((-1, efd, true));
        }
    }
    let mut fds = [-1; 2];
    // SAFETY: valid out-array of two ints.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return None;
    }
    for fd in fds {
        set_cloexec_nonblock(fd);
    }
    Some((fds[0], fds[1], false))
}

/// Private test knob: `EVRING_EVPIPE=pipe` makes loops wake through a self-pipe instead of an
/// eventfd (the path of systems without eventfd), so that the C tests can exercise it on
/// Linux. Read once per process.
#[cfg(target_os = "linux")]
fn self_pipe_forced() -> bool {
    use std::sync::OnceLock;
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| env_with(c"EVRING_EVPIPE", |v| v == b"pipe").unwrap_or(false))
}

/// Mark an fd close-on-exec and non-blocking.
pub fn set_cloexec_nonblock(fd: c_int) {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// Put `new` at fd number `old` (replacing what was there) and close `new`.
pub fn move_fd_onto(new: c_int, old: c_int) {
    // SAFETY: both are fds the loop owns.
    unsafe {
        libc::dup2(new, old);
        libc::fcntl(old, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::close(new);
    }
}

/// Create (fd = -1) or update a signalfd for `set`. Returns -1 where signalfd does not exist.
pub fn signalfd(fd: c_int, set: &libc::sigset_t) -> c_int {
    #[cfg(target_os = "linux")]
    {
        let flags = if fd < 0 {
            libc::SFD_NONBLOCK | libc::SFD_CLOEXEC
        } else {
            0
        };
        // SAFETY: valid sigset pointer.
        unsafe { libc::signalfd(fd, set, flags) }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, set);
        -1
    }
}

/// Read pending signal numbers from a signalfd into `out`; false when nothing was read.
pub fn read_signalfd(fd: c_int, out: &mut Vec<c_int>) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: all-zero is a valid signalfd_siginfo array.
        let mut si: [libc::signalfd_siginfo; 8] = unsafe { core::mem::zeroed() };
        // SAFETY: reading into a buffer of the stated size from our own fd.
        let n = unsafe {
            libc::read(
                fd,
                si.as_mut_ptr() as *mut libc::c_void,
                core::mem::size_of_val(&si),
            )
        };
        if n <= 0 {
            return false;
        }
        let count = n as usize / core::mem::size_of::<libc::signalfd_siginfo>();
        out.extend(si[..count].iter().map(|s| s.ssi_signo as c_int));
        count == si.len()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, out);
        false
    }
}

/// A non-blocking close-on-exec `CLOCK_REALTIME` timerfd, or -1 where unavailable.
pub fn realtime_timerfd() -> c_int {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscall.
        unsafe {
            libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        -1
    }
}

/// Arm the timerfd to expire at absolute wall-clock time `at`, and to become readable at
/// once if somebody sets the clock (`TFD_TIMER_CANCEL_ON_SET`); reading clears it.
pub fn timerfd_arm_abs(fd: c_int, at: f64) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: all-zero itimerspec is valid; valid pointers; our own timerfd.
        unsafe {
            let mut its: libc::itimerspec = core::mem::zeroed();
            its.it_value.tv_sec = at as libc::time_t;
            libc::timerfd_settime(
                fd,
                libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET,
                &its,
                core::ptr::null_mut(),
            );
            let mut buf = [0u8; 8];
            libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, 8);
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_rounds_up() {
        assert_eq!(timeout_ms(0.0), 0);
        assert_eq!(timeout_ms(-1.0), 0);
        assert_eq!(timeout_ms(0.0001), 1);
        assert_eq!(timeout_ms(0.001), 1);
        assert_eq!(timeout_ms(0.0011), 2);
        assert_eq!(timeout_ms(59.743), 59743);
    }

    #[test]
    fn timespec_split() {
        let ts = to_timespec(1.25);
        assert_eq!((ts.tv_sec, ts.tv_nsec), (1, 250_000_000));
    }
}
