#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking gocrate needs.
# Idempotent: when everything is present it only checks and returns.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  libssl-dev libcurl4-openssl-dev zlib1g-dev libdeflate-dev libzstd-dev
  libseccomp-dev libcap-dev libarchive-dev
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libfmt-dev libgtest-dev
)
runtime_packages=(golang-go ca-certificates libcurl4 qemu-user-static slirp4netns uidmap iproute2)
peer_packages=(
  skopeo umoci runc podman buildah docker.io docker-registry
  hyperfine wrk apache2-utils openssl curl python3 jq procps psmisc
  chromium
)

missing=()
for p in "${build_packages[@]}" "${runtime_packages[@]}" "${peer_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js with npm and kubectl may come from elsewhere on the machine; Debian's are the fallback.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

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

# The Kubernetes API schemas the deploy tests validate against (npm registry).
repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -d "$repo/tests/kubernetes/node_modules/kubernetes-models" ]]; then
  echo "install-deps: installing the kubernetes-models npm packages for the tests" >&2
  (cd "$repo/tests/kubernetes" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
