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
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = v }
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

/// Sleep for `delay` seconds (`ev_sleep`): returns at once for `delay <= 0`, restarts after
/// signals until the time has passed.
pub fn sleep(delay: f64) {
    if delay <= 0.0 {
        return;
    }
    let mut ts = to_timespec(delay.min(1e9));
    loop {
        let mut rem = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid pointers to timespecs on our stack.
        let r = unsafe { libc::nanosleep(&ts, &mut rem) };
        if r == 0 || errno() != libc::EINTR {
            break;
        }
        ts = rem;
    }
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
