#!/usr/bin/env bash
# Regenerates the C header from ffi/src with a pinned cbindgen, installing it first when needed.
#
#   ffi/generate-header.sh              writes include/signbridge.h
#   ffi/generate-header.sh OUT.h        writes OUT.h instead (the drift check compares the two)
#
# cbindgen goes to ${SIGNBRIDGE_TOOLS_DIR:-~/.cache/signbridge}/cbindgen-<version>, outside the
# repository and any target directory, so it survives `cargo clean` and fresh clones; the
# install is skipped when that exact version is already there. The version macros come from
# Cargo metadata, so a version bump needs nothing but regenerating.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
tools_dir=${SIGNBRIDGE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/signbridge}
root="$tools_dir/cbindgen-$CBINDGEN_VERSION"
cbindgen="$root/bin/cbindgen"
out=${1:-include/signbridge.h}

if [[ "$("$cbindgen" --version 2>/dev/null || true)" != "cbindgen $CBINDGEN_VERSION" ]]; then
    echo "installing cbindgen $CBINDGEN_VERSION into $root" >&2
    cargo install --locked --quiet "cbindgen@$CBINDGEN_VERSION" --root "$root"
fi

version=$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "signbridge-ffi"))')
IFS=. read -r major minor patch <<<"${version%%[-+]*}"

# cbindgen has no option for values computed at generation time: give it a copy of the config
# with the version block added (first, where top-level keys belong).
config=$(mktemp)
trap 'rm -f "$config"' EXIT
cat - ffi/cbindgen.toml >"$config" <<EOF
after_includes = """

/** The version of the library this header was generated from (the Cargo package version). */
#define SIGNBRIDGE_VERSION_MAJOR $major
#define SIGNBRIDGE_VERSION_MINOR $minor
#define SIGNBRIDGE_VERSION_PATCH $patch
#define SIGNBRIDGE_VERSION_STRING \"$version\""""

EOF

mkdir -p "$(dirname "$out")"
"$cbindgen" --quiet --config "$config" --crate signbridge-ffi --output "$out" ffi
