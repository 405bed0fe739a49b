#!/usr/bin/env bash
# with-reference-dtm.sh COMMAND [ARGS...]: builds the reference DTM server (once, cached by
# version: scripts/reference-dtm.sh), exports its path as LYNX_REFERENCE_DTM and runs COMMAND.
# The ctest entry of reference_sdk_test. Fails with the build's message when the reference server
# cannot be built (no Go toolchain, no module proxy).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if ! LYNX_REFERENCE_DTM="$("$repo/scripts/reference-dtm.sh")"; then
  echo "with-reference-dtm.sh: no reference DTM server, cannot run $*" >&2
  exit 1
fi
export LYNX_REFERENCE_DTM
exec "$@"
