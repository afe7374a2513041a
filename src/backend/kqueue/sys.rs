//! The real kernel: `kqueue()` and `kevent()` (BSD only). Not compiled or run by our CI,
//! which is Linux-only: everything with logic in it is in `mod.rs` and tested there; this
//! file only converts records (through `os.rs`) and makes the calls.

use super::{os, KEvent, Kernel};
use core::ffi::{c_int, CStr};
use core::time::Duration;
use std::io;

/// Scratch arrays in the OS's format, reused across calls.
#[derive(Default)]
pub struct RealKernel {
    changes: Vec<libc::kevent>,
    events: Vec<libc::kevent>,
}

impl Kernel for RealKernel {
    const ADD_FFLAGS: u32 = os::NOTE_EOF;
    const EVENT_SIZE: usize = core::mem::size_of::<libc::kevent>();

    fn kqueue(&mut self) -> io::Result<c_int> {
        // SAFETY: kqueue(2) takes no arguments.
        let fd = unsafe { libc::kqueue() };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // Keep it out of exec'd programs, as libev does (portable; kqueue1 is not).
        // SAFETY: `fd` is the descriptor just created; F_SETFD takes an int.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        // Out of the numbers applications use and close (see `core::loopfds`), as epoll's fd.
        Ok(crate::sys::protect_fd(fd))
    }

    fn kevent(
        &mut self,
        kq: c_int,
        changes: &[KEvent],
        events: &mut [KEvent],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        self.changes.clear();
        self.changes.extend(changes.iter().map(os::to_raw));
        self.events.clear();
        self.events
            .resize(events.len(), os::to_raw(&KEvent::default()));
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as _,
        });
        let tsp: *const libc::timespec = ts
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: both arrays are valid for the lengths passed (the kernel writes at most
        // `events.len()` entries); `tsp` is null or points to `ts`, alive across the call.
        let n = unsafe {
            libc::kevent(
                kq,
                self.changes.as_ptr(),
                self.changes.len() as _,
                self.events.as_mut_ptr(),
                self.events.len() as _,
                tsp,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(events.len());
        for (dst, src) in events.iter_mut().zip(&self.events[..n]) {
            *dst = os::from_raw(src);
        }
        Ok(n)
    }

    fn close(&mut self, fd: c_int) {
        crate::sys::close(fd);
    }

    fn getpid(&mut self) -> i32 {
        crate::sys::getpid()
    }

    fn fd_valid(&mut self, fd: c_int) -> bool {
        // SAFETY: F_GETFD on any int is harmless.
        unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
    }

    fn syserr(&mut self, msg: &CStr) {
        crate::ffi::globals::syserr(msg);
    }
}
