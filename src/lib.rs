//! evring: libev 4.33's C API and ABI, implemented in Rust.
//!
//! Layout:
//! * [`ffi`]: the C ABI (the only place with `extern "C"`/`#[no_mangle]`): `#[repr(C)]`
//!   mirrors of `ev.h`, exported functions, process-global hooks, internal C callbacks.
//! * [`core`]: the loop itself: watcher bookkeeping, timer heap, pending queues, signals.
//! * [`backend`]: kernel readiness backends (epoll, poll) behind libev's backend interface.
//!
//! See README.md for C users.
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(clippy::missing_safety_doc)]

// Unwinding out of a Rust panic into C is undefined behaviour: the library is always built
// with panic = "abort" (Cargo.toml sets it for every profile; unit tests are the exception).
#[cfg(not(any(panic = "abort", test)))]
compile_error!("evring must be built with panic = \"abort\"");

pub mod backend;
pub mod core;
pub mod ffi;
pub mod sys;
