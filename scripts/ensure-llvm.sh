#!/usr/bin/env bash
# The ray tracer (extra `rt`: Sionna RT on Dr.Jit's LLVM backend) needs the LLVM 16+ shared library
# on a CPU; LLVM 15 aborts on real scenes. Installs Debian's libllvm19 when it is missing and we
# may (root with apt-get); otherwise says exactly what to do. Never fails the build: without LLVM
# the ray-tracing tests skip with this reason.
set -u
for lib in /usr/lib/*/libLLVM-1[6-9]*.so* /usr/lib/*/libLLVM.so.1[6-9]* /usr/lib/llvm-1[6-9]/lib/libLLVM*.so*; do
  if [ -e "$lib" ]; then echo "LLVM for Dr.Jit: $lib"; exit 0; fi
done
if [ -n "${DRJIT_LIBLLVM_PATH:-}" ] && [ -e "$DRJIT_LIBLLVM_PATH" ]; then
  echo "LLVM for Dr.Jit: $DRJIT_LIBLLVM_PATH"; exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing libllvm19 for the ray tracer (apt-get)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libllvm19 >/dev/null \
    && { echo "LLVM for Dr.Jit: libllvm19 installed"; exit 0; }
fi
echo "warning: no LLVM 16+ shared library found; ray-tracing (rt) tests will be skipped." >&2
echo "         install it with: sudo apt-get install libllvm19   (or set DRJIT_LIBLLVM_PATH)" >&2
exit 0
