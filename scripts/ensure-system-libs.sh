#!/usr/bin/env bash
# System libraries of the extras whose tests run in `make test`:
#   rt        - Sionna RT on Dr.Jit's LLVM backend needs LLVM 16+ on a CPU (LLVM 15 aborts);
#   mobility  - the eclipse-sumo wheel's `sumo` binary links the X11/GL client libraries.
# Installs what is missing when we may (root with apt-get); otherwise says exactly what to do.
# Never fails the build: without them the tests that need them skip with the reason.
set -u
./scripts/ensure-llvm.sh
missing=""
for pkg in libx11-6 libxext6 libxrender1 libgl1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -z "$missing" ]; then echo "SUMO system libraries: present"; exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing$missing for SUMO (apt-get)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null \
    && { echo "SUMO system libraries: installed"; exit 0; }
fi
echo "warning: missing$missing; SUMO (mobility) tests will be skipped." >&2
echo "         install them with: sudo apt-get install$missing" >&2
exit 0
