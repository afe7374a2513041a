//! Process-global hooks C code can install: the allocator (`ev_set_allocator`) and the
//! system-error callback (`ev_set_syserr_cb`).
//!
//! libev routes every internal allocation through the allocator callback; so do we, by
//! making it the crate's global allocator. Its default is `realloc`/`free`, like libev's.
//! Requests with an alignment above what `realloc` guarantees (16 on x86_64 glibc) do not go
//! through the callback, since a realloc-style callback cannot honour them; evring makes
//! none on its own.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_char, c_long, c_void, CStr};
use core::sync::atomic::{AtomicUsize, Ordering};

/// `void *(*)(void *ptr, long size)` — realloc semantics, size 0 frees.
pub type AllocFn = Option<unsafe extern "C" fn(*mut c_void, c_long) -> *mut c_void>;
/// `void (*)(const char *msg)`.
pub type SyserrFn = Option<unsafe extern "C" fn(*const c_char)>;
type AllocFnPtr = unsafe extern "C" fn(*mut c_void, c_long) -> *mut c_void;
type SyserrFnPtr = unsafe extern "C" fn(*const c_char);

static ALLOC: AtomicUsize = AtomicUsize::new(0);
static SYSERR: AtomicUsize = AtomicUsize::new(0);

const MAX_CB_ALIGN: usize = 16;

pub fn set_allocator(f: AllocFn) {
    ALLOC.store(f.map_or(0, |f| f as usize), Ordering::Release);
}

pub fn set_syserr_cb(f: SyserrFn) {
    SYSERR.store(f.map_or(0, |f| f as usize), Ordering::Release);
}

pub fn has_syserr_cb() -> bool {
    SYSERR.load(Ordering::Acquire) != 0
}

/// Report a failed system call the way libev does: call the user's callback and carry on,
/// or without one print `msg: strerror(errno)` and abort.
pub fn syserr(msg: &CStr) {
    let f = SYSERR.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: `f` was stored from a valid `SyserrFn` by `set_syserr_cb`.
        let f: SyserrFnPtr = unsafe { core::mem::transmute::<usize, SyserrFnPtr>(f) };
        // SAFETY: `msg` is a valid C string.
        unsafe { f(msg.as_ptr()) };
    } else {
        // SAFETY: `msg` is a valid C string; perror reads errno.
        unsafe {
            libc::perror(msg.as_ptr());
            libc::abort();
        }
    }
}

/// Call the allocator: `realloc(ptr, size)` semantics.
fn realloc_cb(ptr: *mut c_void, size: usize) -> *mut c_void {
    let f = ALLOC.load(Ordering::Acquire);
    if f == 0 {
        if size == 0 {
            // SAFETY: `ptr` came from this allocator (malloc family) or is NULL.
            unsafe { libc::free(ptr) };
            return core::ptr::null_mut();
        }
        // SAFETY: as above.
        return unsafe { libc::realloc(ptr, size) };
    }
    // SAFETY: `f` was stored from a valid `AllocFn`.
    let f: AllocFnPtr = unsafe { core::mem::transmute::<usize, AllocFnPtr>(f) };
    // SAFETY: calling the user's allocator with a pointer it (or realloc) produced.
    unsafe { f(ptr, size as c_long) }
}

/// libev's message (no newline, as Debian's libev prints it) and abort. Built on the stack:
/// allocating here would go through the failing allocator again (differential hunt: an
/// allocator that kept failing recursed until the stack overflowed, SIGSEGV, no message).
fn out_of_memory(size: usize) -> ! {
    const HEAD: &[u8] = b"(libev) cannot allocate ";
    const TAIL: &[u8] = b" bytes, aborting.";
    let mut buf = [0u8; HEAD.len() + 20 + TAIL.len()];
    buf[..HEAD.len()].copy_from_slice(HEAD);
    let mut n = HEAD.len();
    let mut digits = [0u8; 20];
    let mut k = digits.len();
    let mut v = size;
    loop {
        k -= 1;
        digits[k] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &c in digits[k..].iter().chain(TAIL) {
        buf[n] = c;
        n += 1;
    }
    // SAFETY: writing a valid buffer to stderr, then aborting.
    unsafe {
        libc::write(2, buf.as_ptr() as *const c_void, n);
        libc::abort()
    }
}

/// The global allocator of the library (and of its unit tests).
pub struct EvAllocator;

// SAFETY: every block is obtained from and returned to the same realloc-style function
// family (the user's callback or libc), with at least the requested size and an alignment of
// 16 (glibc malloc) for requests up to 16; larger alignments use posix_memalign/free.
unsafe impl GlobalAlloc for EvAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > MAX_CB_ALIGN {
            let mut p: *mut c_void = core::ptr::null_mut();
            // SAFETY: valid out-pointer; alignment is a power of two ≥ sizeof(void*).
            if unsafe { libc::posix_memalign(&mut p, layout.align(), layout.size()) } != 0 {
                out_of_memory(layout.size());
            }
            return p as *mut u8;
        }
        let p = realloc_cb(core::ptr::null_mut(), layout.size());
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.align() > MAX_CB_ALIGN {
            // SAFETY: allocated by posix_memalign above.
            unsafe { libc::free(ptr as *mut c_void) };
            return;
        }
        realloc_cb(ptr as *mut c_void, 0);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() > MAX_CB_ALIGN {
            // SAFETY: same contract as GlobalAlloc::realloc; use alloc + copy + dealloc.
            unsafe {
                let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
                return new;
            }
        }
        let p = realloc_cb(ptr as *mut c_void, new_size);
        if p.is_null() {
            out_of_memory(new_size);
        }
        p as *mut u8
    }
}

#[global_allocator]
static GLOBAL: EvAllocator = EvAllocator;
