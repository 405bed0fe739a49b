# shellcheck shell=bash
# scripts/lib/jaeger.sh: the OTLP receiver of the tracing tests (source it). Jaeger v1.75.0 —
# its v2 binary, built on the OpenTelemetry Collector — compiled from its Go module (pinned by
# tests/tracing/receiver/go.mod + go.sum, from the Go module proxy) once per machine into
# ~/.cache/lynx-dtm/bin. `lynx_jaeger_path` prints the binary's path, building it when missing
# (~5 minutes on 2 cores the first time).
lynx_jaeger_path() {
  local repo bin
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  bin="$HOME/.cache/lynx-dtm/bin/jaeger-v1.75.0"
  if [[ ! -x "$bin" ]]; then
    echo "-- building Jaeger v1.75.0 (OTLP receiver of the tracing tests) into $bin" >&2
    mkdir -p "$(dirname "$bin")"
    (
      source "$repo/scripts/lib/go-env.sh"
      cd "$repo/tests/tracing/receiver"
      go build -o "$bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
    ) >&2
    mv "$bin.tmp" "$bin"
  fi
  echo "$bin"
}
