//! The release link of `troupe` (ADR 0048), where the linker is LLD (Rust's default on x86_64
//! Linux):
//! - places the functions the bot runs together, in the order of `link-order.txt` (written by
//!   `scripts/link-order`): the code pages a running bot keeps resident are then the code it
//!   runs, not the 64 KiB the kernel maps around each function. `TROUPE_LINK_ORDER=off` links
//!   in the compiler's order.
//! - packs relative relocations (RELR, glibc 2.36+): 0.8 MB of `.rela.dyn` the loader reads at
//!   every start, and keeps resident, becomes a few kilobytes.

fn main() {
    println!("cargo::rerun-if-changed=link-order.txt");
    println!("cargo::rerun-if-env-changed=TROUPE_LINK_ORDER");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let lld_by_default = std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    if !(release && lld_by_default) {
        return;
    }
    println!("cargo::rustc-link-arg-bin=troupe=-Wl,-z,pack-relative-relocs");
    if std::env::var("TROUPE_LINK_ORDER").is_ok_and(|v| v == "off") {
        return;
    }
    let file = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("link-order.txt");
    println!(
        "cargo::rustc-link-arg-bin=troupe=-Wl,--symbol-ordering-file={}",
        file.display()
    );
    // Entries of an older build (a dependency's new hash) are skipped without a word each.
    println!("cargo::rustc-link-arg-bin=troupe=-Wl,--no-warn-symbol-ordering");
}
