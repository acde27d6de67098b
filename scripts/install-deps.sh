#!/usr/bin/env bash
# Installs the Debian packages one set needs, only those that are missing:
#   demo  building gocrate and running scripts/demo.sh (`make demo`, `make build`)
#   test  demo's, and every peer the tests run against or build from (`make test`, `make bench`)
# Idempotent: when everything is present it only checks and returns.
set -euo pipefail

set_name=${1:-test}
case $set_name in
  demo | test) ;;
  *)
    echo "usage: $0 [demo|test]" >&2
    exit 2
    ;;
esac

build_packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  libssl-dev libcurl4-openssl-dev zlib1g-dev libdeflate-dev libzstd-dev
  libseccomp-dev libcap-dev libarchive-dev libsodium-dev
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libfmt-dev libgtest-dev libboost-dev
)
# What gocrate calls at run time, and what scripts/demo.sh runs.
demo_packages=(golang-go ca-certificates qemu-user-static slirp4netns curl python3)
test_packages=(
  libcurl4 uidmap iproute2
  skopeo umoci runc crun podman buildah docker.io docker-registry
  hyperfine wrk apache2-utils openssl jq procps psmisc bsdutils util-linux
  chromium debootstrap prometheus
  # The CRI test's gRPC client, generated from the Kubernetes CRI API at test time.
  python3-grpcio python3-grpc-tools protobuf-compiler
  # Go module sources the build-by-import-path tests use through replace directives.
  golang-github-itchyny-gojq-dev golang-github-pelletier-go-toml-dev
)

wanted=("${build_packages[@]}" "${demo_packages[@]}")
[[ $set_name == test ]] && wanted+=("${test_packages[@]}")

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [[ $set_name == test ]]; then
  # Node.js with npm and kubectl may come from elsewhere on the machine; Debian's are the fallback.
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
fi

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
  else
    SUDO=
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[[ $set_name == test ]] || exit 0

# The Kubernetes API schemas the deploy tests validate against (npm registry).
repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -d "$repo/tests/kubernetes/node_modules/kubernetes-models" ]]; then
  echo "install-deps: installing the kubernetes-models npm packages for the tests" >&2
  (cd "$repo/tests/kubernetes" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
# sigstore-js, the trust tests' independent verifier of DSSE envelopes (npm registry).
if [[ ! -d "$repo/tests/sigstore/node_modules/@sigstore/verify" ]]; then
  echo "install-deps: installing the @sigstore/verify npm packages for the tests" >&2
  (cd "$repo/tests/sigstore" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
