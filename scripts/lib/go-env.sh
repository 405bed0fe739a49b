# shellcheck shell=bash
# scripts/lib/go-env.sh: the Go toolchain settings of the interop tests (source it).
# Every Go cache lives outside the checkout, under ~/.cache/lynx-dtm; modules are pinned by the
# committed go.mod/go.sum (-mod=readonly) and the installed toolchain is used as is.
export GOPATH="$HOME/.cache/lynx-dtm/go"
export GOMODCACHE="$GOPATH/pkg/mod"
export GOCACHE="$HOME/.cache/lynx-dtm/go-build"
export GOFLAGS=-mod=readonly
export GOTOOLCHAIN=local
case ":$PATH:" in
  *:/usr/local/go/bin:*) ;;
  *) export PATH="/usr/local/go/bin:$PATH" ;;
esac
