//! The loop core: Rust-only API, no `extern "C"` definitions.
pub mod event_loop;
pub mod heap;
pub mod loopfds;
pub mod signals;
pub mod watcher;
