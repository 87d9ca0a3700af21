# Sourced by scripts/test-all.sh: make `cargo build --target wasm32-unknown-unknown` work, and wasm-opt.
#
# 1. rustup target add wasm32-unknown-unknown (the normal path).
# 2. If rustup cannot install the target: Debian's rustc-web with its wasm32 std sources, unpacked (no root
#    needed) under bindings/rust/target/rustc-web, used with -Zbuild-std (shared/toolchain.md, "Rust").
# Sets WASM32_CARGO_FLAGS (extra cargo flags; empty on the normal path) and exports RUSTC etc. for path 2.
# Also installs binaryen (wasm-opt, for bench/bench_canister.py's rust_lib_wasm_bytes) when apt can.
WASM32_CARGO_FLAGS=()
if rustup target add wasm32-unknown-unknown >/dev/null 2>&1 \
    && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "wasm32 target: rustup"
else
  echo "wasm32 target: rustup failed; falling back to Debian rustc-web with -Zbuild-std"
  fallback="$PWD/bindings/rust/target/rustc-web"
  if [ ! -x "$fallback/usr/bin/rustc" ]; then
    mkdir -p "$fallback/debs"
    # Resolve the versioned package names (libstd-rust-web-1.96, libllvm22, ...) from apt's metadata.
    pkgs=(rustc-web rust-web-src libstd-rust-web-dev)
    std_pkg=$(apt-cache depends libstd-rust-web-dev 2>/dev/null | awk '/Depends:/ {print $2}' \
      | grep -E '^libstd-rust-web-[0-9]' | head -1 || true)
    deps=$(apt-cache depends rustc-web libstd-rust-web-dev "$std_pkg" 2>/dev/null \
      | awk '/Depends:/ {print $2}' | grep -E '^(libstd-rust-web|libllvm)' | sort -u)
    (cd "$fallback/debs" && apt-get download "${pkgs[@]}" $deps)
    for deb in "$fallback"/debs/*.deb; do dpkg -x "$deb" "$fallback"; done
  fi
  export RUSTC="$fallback/usr/bin/rustc" RUSTC_BOOTSTRAP=1
  export LD_LIBRARY_PATH="$fallback/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  lld=$(find "$(rustc --print sysroot 2>/dev/null || echo /nonexistent)" "$fallback" -name rust-lld -type f 2>/dev/null | head -1)
  if [ -z "$lld" ]; then lld=$(command -v rust-lld || command -v wasm-ld || true); fi
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$lld"
  WASM32_CARGO_FLAGS=(-Zbuild-std=core,alloc)
  export TENSORCBOR_WASM32_CARGO_FLAGS="-Zbuild-std=core,alloc"  # for the wasm builds that pytest runs
fi
if ! command -v wasm-opt >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && apt-get install -y -q binaryen >/dev/null 2>&1; then
    echo "wasm-opt: installed binaryen from apt"
  else
    echo "wasm-opt: not available (bench reports the crate's share without wasm-opt -Oz)"
  fi
fi
