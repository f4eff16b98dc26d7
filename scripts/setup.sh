#!/usr/bin/env bash
# Installs every build and test dependency from Debian packages (idempotent).
# Needs root (or sudo) on a fresh Debian 12 machine.
set -euo pipefail
pkgs=(
  cmake ninja-build ccache g++ pkg-config git ca-certificates unzip python3 python3-venv python3-pip
  clang libclang-rt-14-dev libomp-dev          # fuzzing (libFuzzer) and the clang build
  libdnnl-dev libopenblas-dev libblis-dev      # GEMM: oneDNN (fastest, bench/results/blas.md); the others for bench/blas
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev valgrind
  libhdf5-dev libmsgpack-cxx-dev libcurl4-openssl-dev
  libpcre2-dev libutf8proc-dev libsentencepiece-dev   # tokenizers: regexes, Unicode, .model files
  libssl-dev                                   # hub: sha256 of LFS blobs (OpenSSL EVP)
  libsleef-dev                                 # vector exp/erf/tanh for softmax and GELU
  zlib1g-dev                                   # keras h5: hfx inflates deflate chunks itself
  libcpp-httplib-dev prometheus-cpp-dev        # hfx serve: HTTP server (docs/serve.md), /metrics
  chromium chromium-driver fonts-dejavu-core   # hfx serve: its GET / page tested in a real browser (Serve.PageWorksInChromium)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
echo "setup: dependencies present" >&2
