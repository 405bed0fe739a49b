# shellcheck shell=bash
# scripts/lib/dtmrs.sh: dtmrs, the Rust DTM server the benchmark races (source it). Installed
# from crates.io at a pinned version with its Redis store (`cargo install --locked`, the crate's
# own lockfile) into ~/.cache/lynx-dtm/cargo, once per machine (about 10 minutes on 2 cores).
#   lynx_dtmrs_path          prints the binary, installing it when missing
#   lynx_dtmrs_cached_path   prints the binary only when installed (never installs)
LYNX_DTMRS_VERSION="${LYNX_DTMRS_VERSION:-0.13.0}"

lynx_dtmrs_cached_path() {
  local bin="$HOME/.cache/lynx-dtm/cargo/dtmrs-$LYNX_DTMRS_VERSION/bin/dtmrs"
  [[ -x "$bin" ]] && echo "$bin"
}

lynx_dtmrs_path() {
  local root="$HOME/.cache/lynx-dtm/cargo/dtmrs-$LYNX_DTMRS_VERSION"
  if [[ ! -x "$root/bin/dtmrs" ]]; then
    command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"
    echo "-- installing dtmrs $LYNX_DTMRS_VERSION from crates.io into $root" >&2
    cargo install dtmrs --version "$LYNX_DTMRS_VERSION" --locked --features redis \
      --root "$root" >&2
  fi
  echo "$root/bin/dtmrs"
}
