#!/usr/bin/env bash
# Prints the Debian/Ubuntu packages that hold the shared libraries BINARY loads, one per line, so
# an image's run-time stage installs exactly those (their names carry soname versions that differ
# between distributions: libavcodec59 on Debian 12, libavcodec60 on Ubuntu 24.04).
set -euo pipefail
binary=${1:?usage: runtime-packages.sh BINARY}
ldd "$binary" | awk '/=> \// {print $3}' | while read -r lib; do
  for path in "$lib" "$(readlink -f "$lib")" "/usr${lib#/usr}" "${lib#/usr}"; do
    if owner=$(dpkg -S "$path" 2>/dev/null); then
      echo "${owner%%:*}"
      break
    fi
  done
done | sort -u
