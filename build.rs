//! Build script: gives the shared library the soname C programs expect (`libev.so.4`).
//!
//! A plain cargo cdylib has no soname; programs linked against `libev.so` would then record
//! the bare file name. libev 4.33 has no symbol versions, so the soname is all we need.
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match target_os.as_str() {
        "linux" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libev.so.4");
        }
        "macos" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libev.4.dylib");
        }
        _ => {}
    }
    // `cfg(evring_kqueue)`: the systems whose kqueue backend is compiled in. One name instead
    // of the same five-OS list on every match arm.
    println!("cargo:rustc-check-cfg=cfg(evring_kqueue)");
    if matches!(
        target_os.as_str(),
        "freebsd" | "dragonfly" | "netbsd" | "openbsd" | "macos"
    ) {
        println!("cargo:rustc-cfg=evring_kqueue");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
