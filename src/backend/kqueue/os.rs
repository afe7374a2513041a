//! The one place that knows each BSD's `struct kevent` (compiled only on BSDs; CI runs on
//! Linux only, so keep this small and obviously correct).
//!
//! Field types differ: FreeBSD 12+ has `int64_t data` and an `ext[4]` array, FreeBSD 11,
//! DragonFly and macOS an `intptr_t data`; macOS, FreeBSD, DragonFly and OpenBSD use
//! `short filter`/`u_short flags`, NetBSD `uint32_t` for both (and its `EVFILT_READ` is 0, not
//! -1); `udata` is a pointer (NetBSD before 10: `intptr_t`). So every field is written with an
//! inferred `as` cast from our portable [`KEvent`], into a zeroed struct (which covers `ext`
//! and any other extra field), and flags and filters are mapped through the `libc` crate's
//! constants for the target, never copied as raw numbers.

// The same cast is a no-op on some BSDs and needed on others.
#![allow(clippy::unnecessary_cast)]

use super::{kflags, Filter, KEvent};

/// libev adds `NOTE_EOF` to its filters where the system defines it (of the systems here,
/// only OpenBSD's `libc` bindings do); elsewhere it is 0, as in libev.
#[cfg(target_os = "openbsd")]
pub const NOTE_EOF: u32 = libc::NOTE_EOF as u32;
#[cfg(not(target_os = "openbsd"))]
pub const NOTE_EOF: u32 = 0;

/// Our change record to the OS's.
pub fn to_raw(ev: &KEvent) -> libc::kevent {
    // SAFETY: `struct kevent` is plain data on every BSD (integers, a pointer, FreeBSD's `ext`
    // array): all-zero bytes are a valid value.
    let mut k: libc::kevent = unsafe { core::mem::zeroed() };
    k.ident = ev.ident as _;
    k.filter = match ev.filter {
        Filter::Read => libc::EVFILT_READ,
        Filter::Write => libc::EVFILT_WRITE,
        Filter::Other(f) => f as _,
    };
    let mut flags = 0;
    if ev.flags & kflags::ADD != 0 {
        flags |= libc::EV_ADD;
    }
    if ev.flags & kflags::DELETE != 0 {
        flags |= libc::EV_DELETE;
    }
    if ev.flags & kflags::ENABLE != 0 {
        flags |= libc::EV_ENABLE;
    }
    k.flags = flags;
    k.fflags = ev.fflags as _;
    k.data = ev.data as _;
    // The generation (32 bits) always fits a pointer-sized udata.
    k.udata = ev.udata as usize as _;
    k
}

/// The OS's result record to ours (only `EV_ERROR` and `EV_EOF` of the flags matter).
pub fn from_raw(k: &libc::kevent) -> KEvent {
    let filter = if k.filter == libc::EVFILT_READ {
        Filter::Read
    } else if k.filter == libc::EVFILT_WRITE {
        Filter::Write
    } else {
        Filter::Other(k.filter as i64)
    };
    let mut flags = 0;
    if k.flags & libc::EV_ERROR != 0 {
        flags |= kflags::ERROR;
    }
    if k.flags & libc::EV_EOF != 0 {
        flags |= kflags::EOF;
    }
    KEvent {
        ident: k.ident as u64,
        filter,
        flags,
        fflags: k.fflags as u32,
        data: k.data as i64,
        udata: k.udata as usize as u64,
    }
}
