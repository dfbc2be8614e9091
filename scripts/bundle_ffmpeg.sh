#!/usr/bin/env bash
# bundle_ffmpeg.sh — Debian's FFmpeg libraries that a fungen binary links (libavformat,
# libavcodec, libavutil, libswscale, libavfilter, ...) plus every library they need, for the GPU
# machine (Ubuntu 24.04, no Debian FFmpeg). Left out: the C runtime (glibc's libraries, the
# loader), libstdc++/libgcc_s and GPU driver libraries, which the target has. Packed as two
# tar.xz halves, each a complete archive of its own and each at most LIMIT_MB (default 28), so one
# half travels per device call; unpack both into one folder and put it on LD_LIBRARY_PATH:
#
#   scripts/bundle_ffmpeg.sh [BINARY (build/bin/fungen)] [OUT_DIR (bundle-ff)]
#   # on the GPU machine, once per half:  mkdir -p /opt/ff/lib && tar -xJf ff-1.tar.xz -C /opt/ff/lib
#   export LD_LIBRARY_PATH=/opt/ff/lib:$LD_LIBRARY_PATH
#
# Also writes OUT_DIR/libs.txt (the sonames bundled; scripts/bundle.sh leaves these out) and
# checks both halves: unpacked together into a temporary folder, every library in them resolves
# its own dependencies from that folder or the system.
set -euo pipefail
bin=${1:-build/bin/fungen}
out=$(realpath -m "${2:-bundle-ff}")
limit_mb=${LIMIT_MB:-28}
[ -x "$bin" ] || { echo "bundle_ffmpeg.sh: $bin: no such binary; build it first" >&2; exit 2; }
# glibc's libraries and the loader, the C++ runtime, GPU driver libraries.
system='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libmvec\.so|libanl\.so|libnsl\.so|libBrokenLocale|libgcc_s|libstdc\+\+|libcuda\.so|libnvidia|libnvcuvid|libGLX_nvidia|libEGL_nvidia)'
ffmpeg_libs=$(ldd "$bin" | awk '/=> \// && $1 ~ /^lib(av(codec|format|util|filter|device)|sw(scale|resample)|postproc)\.so/ {print $3}')
[ -n "$ffmpeg_libs" ] || { echo "bundle_ffmpeg.sh: $bin links no FFmpeg library (built with FUNGEN_FFMPEG=OFF?)" >&2; exit 2; }

rm -rf "$out" && mkdir -p "$out/lib"
declare -A seen=()
for lib in $ffmpeg_libs; do
  # ldd lists the whole transitive closure of each library.
  while read -r name path; do
    [[ $name =~ $system ]] && continue
    [[ -n ${seen[$name]:-} ]] && continue
    seen[$name]=$path
  done < <(
    ldd "$lib" | awk '/=> \// {print $1, $3}'
    echo "$(basename "$lib") $lib"
  )
done
for name in "${!seen[@]}"; do cp -L "${seen[$name]}" "$out/lib/$name"; done
(cd "$out/lib" && ls) | sort >"$out/libs.txt"
echo "bundle_ffmpeg.sh: $(wc -l <"$out/libs.txt") libraries, $(du -sh "$out/lib" | cut -f1) unpacked"

# Split into two halves of about equal compressed size: largest first, each into the lighter half
# (sizes of each library compressed alone).
declare -A packed=()
for name in "${!seen[@]}"; do packed[$name]=$(xz -6 -T2 -c "$out/lib/$name" | wc -c); done
: >"$out/half1.txt"
: >"$out/half2.txt"
s1=0 s2=0
while read -r size name; do
  if ((s1 <= s2)); then
    echo "$name" >>"$out/half1.txt" && s1=$((s1 + size))
  else
    echo "$name" >>"$out/half2.txt" && s2=$((s2 + size))
  fi
done < <(for n in "${!packed[@]}"; do echo "${packed[$n]} $n"; done | sort -rn)
for h in 1 2; do
  XZ_OPT='-9 -T2' tar -C "$out/lib" -cJf "$out/ff-$h.tar.xz" -T "$out/half$h.txt"
  bytes=$(stat -c %s "$out/ff-$h.tar.xz")
  echo "bundle_ffmpeg.sh: $out/ff-$h.tar.xz: $(wc -l <"$out/half$h.txt") libraries, $((bytes / 1024)) KiB"
  if ((bytes > limit_mb * 1000 * 1000)); then
    echo "bundle_ffmpeg.sh: $out/ff-$h.tar.xz is over ${limit_mb} MB; split it further" >&2
    exit 1
  fi
done

# Check: both halves unpacked into an empty folder give every bundled library its dependencies
# from there or from the system, and the binary finds all of its FFmpeg libraries there.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for h in 1 2; do tar -C "$tmp" -xJf "$out/ff-$h.tar.xz"; done
missing=$(cd "$tmp" && comm -3 <(ls | sort) "$out/libs.txt")
[ -z "$missing" ] || { echo "bundle_ffmpeg.sh: halves differ from libs.txt: $missing" >&2; exit 1; }
bad=0
for f in "$tmp"/* "$bin"; do
  while read -r name arrow path _; do
    [[ $name =~ $system ]] && continue
    if [[ $path == "not" ]]; then
      echo "bundle_ffmpeg.sh: $(basename "$f"): $name not found" >&2 && bad=1
    elif grep -qx "$name" "$out/libs.txt" && [[ $path != "$tmp/$name" ]]; then
      echo "bundle_ffmpeg.sh: $(basename "$f"): $name resolved from $path, not the bundle" >&2
      bad=1
    fi
  done < <(LD_LIBRARY_PATH=$tmp ldd "$f" | awk '/=>/ {print $1, $2, $3}')
done
((bad == 0)) || exit 1
echo "bundle_ffmpeg.sh: OK: every bundled library resolves from the bundle or the system"
rm -rf "$out/lib"
