#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer and UndefinedBehaviorSanitizer (clang), and
# the fuzz targets run with libFuzzer for a bounded time, in build-asan/.
#   scripts/sanitize.sh                 build, run every test (fuzz targets 60 s each)
#   FUZZ_SECONDS=600 scripts/sanitize.sh   fuzz longer
# CI runs it after the plain build (.ci/run); it prints its own wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
command -v clang++ >/dev/null || { echo "sanitize: clang++ is missing (scripts/setup.sh installs it)" >&2; exit 2; }
# -O1 without debug info: about half the build time of -O2 -g on 2 cores, and the sanitizers'
# reports still name functions and lines (symbolized from the symbol table and frame pointers).
CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE=-O1 \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -gline-tables-only" \
  -DUNMARK_SANITIZE=address,undefined -DUNMARK_BUILD_BENCH=OFF -DUNMARK_FUZZ_SECONDS="${FUZZ_SECONDS:-60}" >/dev/null
cmake --build build-asan -j"$(nproc)"
built=$(date +%s)
# Leak checking is off: OpenCV and libav keep caches for the process's life that LeakSanitizer
# reports; the servers' memory is held by tests that measure it (RSS) instead.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j2 --timeout 900
end=$(date +%s)
echo "sanitize: build $((built - start)) s, tests and fuzzing $((end - built)) s"
