#!/usr/bin/env bash
# Builds the REFERENCE DTM server (github.com/dtm-labs/dtm, the Go implementation dtmd is
# compatible with) at a pinned release, once, and prints the path of its binary.
#
#   scripts/reference-dtm.sh            # -> ~/.cache/lynx-dtm/go/bin/dtm-v1.19.0
#   LYNX_REFERENCE_DTM_VERSION=v1.19.0 scripts/reference-dtm.sh
#
# The release's module is fetched with `go mod download <module>@<version>` (Go module proxy,
# checked against the checksum database) and built as the main module straight from the read-only
# module cache with its own go.mod/go.sum (-mod=readonly: exactly the dependency versions of the
# release), like the release binary (main.Version set). `go install <module>@<version>` would do
# the same but also asks the proxy for the module's version list (deprecation check), which not
# every proxy/mirror serves. Everything lives outside the checkout (scripts/lib/go-env.sh); the
# binary is named by version, so later calls only print the path. Nothing of DTM is copied into
# this repository. The build runs under /tmp/lynx-build.lock (shared 2-core machines).
# Exits non-zero with a message naming the cause when the binary cannot be built (no Go toolchain,
# no network to the proxy, a compile error).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${LYNX_REFERENCE_DTM_VERSION:-v1.19.0}"
module="github.com/dtm-labs/dtm"

source "$repo/scripts/lib/go-env.sh"
bin_dir="$GOPATH/bin"
binary="$bin_dir/dtm-$version"

if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi

fail() {
  echo "reference-dtm.sh: cannot build the reference DTM server $module@$version: $*" >&2
  exit 1
}

command -v go >/dev/null 2>&1 || fail "no Go toolchain (expected go in PATH or /usr/local/go/bin)"
mkdir -p "$bin_dir"
build_log="$(mktemp "${TMPDIR:-/tmp}/reference-dtm-build.XXXXXX")"
gobin="$(mktemp -d "${TMPDIR:-/tmp}/reference-dtm-bin.XXXXXX")"
trap 'rm -rf "$gobin" "$build_log"' EXIT

build() {
  cd "$gobin"
  local info dir
  info="$(GOFLAGS= go mod download -json "$module@$version" 2>&1)" || true
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info")"
  if [[ -z "$dir" || ! -f "$dir/main.go" ]]; then
    echo "go mod download $module@$version:"
    echo "$info"
    return 1
  fi
  GOFLAGS=-mod=readonly go build -C "$dir" -trimpath -ldflags "-X main.Version=$version" \
    -o "$gobin/dtm" .
}

# Serialised with the other heavy builds of the machine. A caller already holding the lock sets
# LYNX_BUILD_LOCK_HELD=1 (flock on a second descriptor would wait for itself).
locked_build() {
  # Another caller may have finished the same build while this one waited for the lock.
  [[ -x "$binary" ]] && return 0
  echo "reference-dtm.sh: building $module@$version (first use only, ~2 min)..." >&2
  build >"$build_log" 2>&1
}
ok=0
if [[ -n "${LYNX_BUILD_LOCK_HELD:-}" ]] || ! command -v flock >/dev/null 2>&1; then
  locked_build || ok=$?
else
  lock=/tmp/lynx-build.lock
  (
    if ! flock -n 9; then
      echo "reference-dtm.sh: waiting for $lock (another build is running)..." >&2
      flock -w 600 9 || { echo "reference-dtm.sh: $lock still held after 10 min (a caller holding it must set LYNX_BUILD_LOCK_HELD=1)" >&2; exit 3; }
    fi
    locked_build
  ) 9>>"$lock" || ok=$?
fi
if [[ -x "$binary" && ! -e "$gobin/dtm" ]]; then
  echo "$binary"
  exit 0
fi
if [[ $ok -ne 0 || ! -x "$gobin/dtm" ]]; then
  [[ -s "$build_log" ]] && tail -n 30 "$build_log" >&2
  fail "the Go build failed (exit $ok; output above)"
fi
# Atomic: concurrent callers see either no binary or a complete one.
mv -f "$gobin/dtm" "$binary.tmp.$$"
mv -f "$binary.tmp.$$" "$binary"
echo "$binary"
