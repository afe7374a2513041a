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
    // Linux/glibc: link GCC's unwinder statically (libgcc_eh.a) instead of depending on
    // libgcc_s.so.1. evring never unwinds (panic = "abort"); Rust's std still references the
    // unwinder (backtraces, landing pads in the precompiled std), and rustc asks for it as
    // `-lgcc_s`. As a dependency libgcc_s is loaded into every program that uses libev.so.4:
    // pgagroal forks a worker per client, and each one copied libgcc_s's mappings at fork and
    // ran its destructors at exit() (4 page faults per worker, measured with
    // `perf record -e page-faults` on pgagroal under pgbench -C). A linker script named
    // libgcc_s.a, found first on the library path, sends `-lgcc_s` to the static archive
    // (PIC on Debian; its symbols stay local: a cdylib exports only the C API). Only the
    // cdylib's link sees the directory (a `-L` link argument: GNU ld applies every `-L` to
    // every `-l`), not the test binaries or crates linking the rlib. A toolchain without a
    // PIC libgcc_eh.a (clang with libunwind, say) builds with EVRING_DYNAMIC_LIBGCC=1.
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if target_os == "linux"
        && target_env == "gnu"
        && std::env::var_os("EVRING_DYNAMIC_LIBGCC").is_none()
    {
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
        let dir = out.join("static-libgcc");
        std::fs::create_dir_all(&dir).expect("create OUT_DIR/static-libgcc");
        std::fs::write(dir.join("libgcc_s.a"), "INPUT(-lgcc_eh)\n").expect("write libgcc_s.a");
        println!("cargo:rustc-cdylib-link-arg=-L{}", dir.display());
    }
    println!("cargo:rerun-if-env-changed=EVRING_DYNAMIC_LIBGCC");
    println!("cargo:rerun-if-changed=build.rs");
}
