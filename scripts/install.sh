#!/usr/bin/env bash
# Builds the C library and installs it under a prefix: the header (and the Pascal unit), the
# shared and static libraries, and a pkg-config file.
#
#   scripts/install.sh --prefix DIR [--debug]
#
#   DIR/include/signbridge.h
#   DIR/lib/libsignbridge.so, DIR/lib/libsignbridge.a
#   DIR/lib/pkgconfig/signbridge.pc      (gcc app.c $(pkg-config --cflags --libs signbridge))
#   DIR/share/signbridge/signbridge.pas  (Free Pascal / Delphi unit)
#
# Builds in release mode unless --debug; honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '4p' "$0" | sed 's/^#   /usage: /'; }
prefix=
profile=release
while (($#)); do
    case $1 in
        --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --debug) profile=debug; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ -z $prefix ]]; then
    usage >&2
    exit 2
fi
prefix=$(realpath -m "$prefix")
target_dir=${CARGO_TARGET_DIR:-target}

build_flags=(--locked --quiet -p signbridge-ffi)
[[ $profile == release ]] && build_flags+=(--release)
cargo build "${build_flags[@]}"
version=$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "signbridge-ffi"))')

install -d "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/share/signbridge"
install -m 644 include/signbridge.h "$prefix/include/"
install -m 644 include/signbridge.pas "$prefix/share/signbridge/"
install -m 755 "$target_dir/$profile/libsignbridge.so" "$prefix/lib/"
install -m 644 "$target_dir/$profile/libsignbridge.a" "$prefix/lib/"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" ffi/signbridge.pc.in \
    >"$prefix/lib/pkgconfig/signbridge.pc"
echo "installed signbridge $version ($profile) under $prefix"
