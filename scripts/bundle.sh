#!/usr/bin/env bash
# bundle.sh — a relocatable copy of fungen binaries and the non-system shared libraries they
# need, for a machine that lacks Debian's packages (the GPU machine): DEST/bin/<binaries> with
# rpath $ORIGIN/../lib, DEST/lib/<libs>. Libraries of the C runtime, the GPU driver, CUDA's cuDNN
# and cuBLAS (large; the GPU machine has its own through PyTorch's wheels) are left out.
#
#   scripts/bundle.sh bundle build-cuda/bin/fungen_gpu_bench [more binaries]
# With BUNDLE_TAR=FILE.tar.xz it also packs DEST into that file (libdnnl alone is 40 MB, 7 MB as
# xz: what fits the GPU machine's 64 MiB carry limit next to other files).
#
# Libraries listed in bundle-ff/libs.txt (FFmpeg and its dependencies, packed separately by
# scripts/bundle_ffmpeg.sh into /opt/ff/lib on the GPU machine) are left out too.
set -euo pipefail
dest=$1; shift
mkdir -p "$dest/bin" "$dest/lib"
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libgcc_s|libstdc\+\+|libcuda\.so|libcudnn|libcublas|libnvidia)'
ff_libs=${FF_LIBS:-bundle-ff/libs.txt}
declare -A in_ff=()
if [ -f "$ff_libs" ]; then
  while read -r name; do in_ff[$name]=1; done <"$ff_libs"
fi
for bin in "$@"; do
  cp -f "$bin" "$dest/bin/"
  ldd "$bin" | awk '/=> \// {print $1, $3}' | while read -r name path; do
    if [[ $name =~ $skip || -n ${in_ff[$name]:-} ]]; then continue; fi
    cp -fL "$path" "$dest/lib/$name"
  done
  patchelf --set-rpath '$ORIGIN/../lib' "$dest/bin/$(basename "$bin")" 2>/dev/null ||
    echo "bundle.sh: patchelf missing; set LD_LIBRARY_PATH=$dest/lib" >&2
done
du -sh "$dest/bin" "$dest/lib"
if [ -n "${BUNDLE_TAR:-}" ]; then
  tar -C "$(dirname "$dest")" -cf - "$(basename "$dest")" | xz -T2 -6 >"$BUNDLE_TAR.tmp"
  mv "$BUNDLE_TAR.tmp" "$BUNDLE_TAR"
  du -sh "$BUNDLE_TAR"
fi
