#!/usr/bin/env bash
# Installs every Debian package that building and testing lynx-dtm needs, skipping what is present.
# Usage: scripts/setup-deps.sh            (build + test packages, clang for the fuzz targets)
# Never installs libboost-dev / libboost-all-dev: they would replace Boost 1.81 with 1.74.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl python3
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev
  libpq-dev libmariadb-dev libhiredis-dev
  libjemalloc-dev
  libgrpc++-dev libgrpc-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  postgresql mariadb-server redis-server
  libyaml-cpp-dev libsqlite3-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libcli11-dev
  prometheus-cpp-dev
  libgtest-dev libgmock-dev
  clang-format ccache
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
  chromium
)
# The console (console/, Vite 7) needs Node.js >= 20.19 with npm. A machine that has a Node.js
# already (e.g. NodeSource's nodejs package, which brings npm) keeps it; otherwise Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
