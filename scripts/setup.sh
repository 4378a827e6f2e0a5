#!/usr/bin/env bash
# Installs what unmark needs (Debian 12 packages) and builds it into build/.
#   scripts/setup.sh            install packages if missing, configure, build
#   SKIP_APT=1 scripts/setup.sh only configure and build
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config git
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libspdlog-dev libcli11-dev nlohmann-json3-dev
  libcpp-httplib-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev   # unmark serve
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-photo-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  ffmpeg bc time   # the benchmark: reference transcode, arithmetic, CPU time; tests need none
  chromium chromium-driver   # the web page test drives a real browser (skipped without them)
  clang   # scripts/sanitize.sh: ASan+UBSan build and libFuzzer
)

if [ "${SKIP_APT:-0}" != 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
cmake --build build -j"$(nproc)"
echo "setup: built build/unmark"
