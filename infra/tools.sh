#!/usr/bin/env bash
# Installs the deployment checkers a fresh machine lacks and prints the path of one:
#   tools.sh promtool | prometheus | kube-score | kustomize | all
# promtool and prometheus come from Debian's `prometheus` package; kube-score and (when kubectl
# has no built-in kustomize, or FOLLOWUP_NO_KUBECTL is set) kustomize are built from the Go
# module proxy into .local/tools/go.
set -euo pipefail
. "$(dirname "$0")/env.sh"
GOBIN_DIR=$FOLLOWUP_ROOT/.local/tools/go/bin
KUBE_SCORE_VERSION=${FOLLOWUP_KUBE_SCORE_VERSION:-v1.20.0}
KUSTOMIZE_VERSION=${FOLLOWUP_KUSTOMIZE_VERSION:-v5.5.0}

apt_install() { # apt_install PACKAGE: as root only; the lists are fetched once if stale
  [ "$(id -u)" = 0 ] || die "$1 is missing: run 'apt-get install $1' as root"
  log "installing Debian package $1"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >&2; then
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >&2 \
      || die "apt-get could not install $1"
  fi
}

prometheus_bin() { # prometheus_bin NAME: promtool or prometheus from the Debian package
  if ! command -v "$1" >/dev/null 2>&1; then apt_install prometheus; fi
  command -v "$1"
}

go_tool() { # go_tool NAME MODULE@VERSION
  if [ ! -x "$GOBIN_DIR/$1" ]; then
    command -v go >/dev/null 2>&1 || die "$1 needs Go to build (none on this machine)"
    log "building $2 from the Go module proxy into $GOBIN_DIR"
    mkdir -p "$GOBIN_DIR"
    GOBIN=$GOBIN_DIR GOFLAGS=-buildvcs=false go install "$2" >&2 || die "go install $2 failed"
  fi
  echo "$GOBIN_DIR/$1"
}

kustomize_cmd() { # prints a command that takes a directory and writes the built YAML
  if [ -z "${FOLLOWUP_NO_KUBECTL:-}" ] && command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
    echo "$(command -v kubectl) kustomize"
  else
    echo "$(go_tool kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION") build"
  fi
}

case ${1:-} in
  promtool | prometheus) prometheus_bin "$1" ;;
  kube-score) go_tool kube-score "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" ;;
  kustomize) kustomize_cmd ;;
  all) prometheus_bin promtool >/dev/null; "$0" kube-score >/dev/null; kustomize_cmd >/dev/null ;;
  *) die "usage: tools.sh promtool|prometheus|kube-score|kustomize|all" ;;
esac
