#!/usr/bin/env bash
# Throughput of unmark against a plain ffmpeg transcode, in one run, on the same clips.
#
#   bench/throughput.sh [RUNS]      (default 3 runs of each command, interleaved; prints medians)
#   CASES="auto region" bench/throughput.sh     (a subset; default: all cases below)
#   bench/throughput.sh --check 0.90 [RUNS]     (exits 1 when a case's ratio is below 0.90: the
#                                                regression guard; CASES defaults to auto then)
#
# Cases (clips are made once under bench/out/ from ../shared/media):
#   auto      the real Sora clip (moving mark and all) scaled to 1080x1920, 300 frames:
#             plain transcode, ffmpeg delogo over a fixed box (the mark's lower-left place), and
#             unmark remove in full auto mode (detect + track + remove), same encoder settings
#   region    the clean clip scaled to 1080x1920 and looped to 300 frames; unmark told the box
#   sizes     the auto case at 704x1280 and at 480x872 (the Sora clip's own size)
#   x265      the auto case with --encoder x265 against ffmpeg -c:v libx265 (same preset and crf)
#   memory    peak RSS of unmark (auto) for 300 and 3000 frames of the 704x1280 Sora clip
# Reference encode: ffmpeg -c:v libx264 -preset veryfast -crf 20 (the encode a user cannot avoid);
# unmark runs with --encoder x264 --preset veryfast --crf 20. For each case it prints fps, unmark's
# ratio to the plain transcode (fps/fps) and unmark's per-stage seconds (--stats).
# Needs build/unmark, ffmpeg, bc and /usr/bin/time (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
check=""
if [ "${1:-}" = --check ]; then
  check=${2:?--check needs a ratio, e.g. --check 0.90}
  shift 2
fi
runs=${1:-3}
cases=${CASES:-auto region sizes x265 memory}
[ -n "$check" ] && cases=${CASES:-auto}
below=()
unmark=${UNMARK:-build/unmark}
out=bench/out
mkdir -p "$out"
[ -x "$unmark" ] || { echo "build first: scripts/setup.sh" >&2; exit 2; }
clean_src=../shared/media/clean_portrait_704x1280.mp4
sora_src=../shared/media/sora2_beach_480x872.mp4
for f in "$clean_src" "$sora_src"; do [ -f "$f" ] || { echo "missing $f (the shared media)" >&2; exit 2; }; done

# make_clip OUT FFMPEG-INPUT-AND-FILTER-ARGS...: near-lossless source clips, made once.
make_clip() {
  local path=$1
  shift
  [ -f "$path" ] || ffmpeg -v error -y "$@" -c:v libx264 -preset veryfast -crf 12 -c:a copy "$path"
}
make_clip "$out/sora_1080x1920_300.mp4" -i "$sora_src" -vf scale=1080:1920:flags=lanczos
make_clip "$out/sora_704x1280_300.mp4" -i "$sora_src" -vf scale=704:1280:flags=lanczos
make_clip "$out/portrait_1080x1920_300.mp4" -stream_loop 1 -i "$clean_src" \
  -vf scale=1080:1920:flags=lanczos -frames:v 300 -shortest

frames_of() { ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$1"; }
# Times one command: "<wall seconds> <cpu seconds> <peak RSS MB>".
time_one() {
  local f
  f=$(mktemp)
  /usr/bin/time -f "%e %U %S %M" -o "$f" "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; rm -f "$f"; exit 1; }
  awk '{printf "%s %.2f %.0f\n", $1, $2 + $3, $4 / 1024}' "$f"
  rm -f "$f"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "runs: $runs of each command, interleaved; medians. ffmpeg $(ffmpeg -version | head -1 | cut -d' ' -f3)"

# compare NAME CLIP CODEC [unmark args...]: plain ffmpeg, (delogo when DELOGO is set) and unmark.
compare() {
  local name=$1 clip=$2 codec=$3
  shift 3
  local frames size
  frames=$(frames_of "$clip")
  size=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=s=x:p=0 "$clip")
  local enc=(-c:v "lib$codec" -preset veryfast -crf 20)
  [ "$codec" = x265 ] && enc+=(-x265-params log-level=error)
  local -a names=(plain) cmds
  local plain_cmd="ffmpeg -v error -y -i $clip ${enc[*]} -c:a copy $out/plain.mp4"
  local delogo_cmd="ffmpeg -v error -y -i $clip -vf delogo=${DELOGO:-} ${enc[*]} -c:a copy $out/delogo.mp4"
  local unmark_cmd="$unmark -q remove $clip -o $out/unmark.mp4 --crf 20 --preset veryfast --encoder $codec $*"
  [ -n "${DELOGO:-}" ] && names+=(delogo)
  names+=(unmark)
  : > "$out/times.txt"
  for _ in $(seq "$runs"); do
    for n in "${names[@]}"; do
      local c="${n}_cmd"
      # shellcheck disable=SC2086
      echo "$n $(time_one ${!c})" >> "$out/times.txt"
    done
  done
  pick() { awk -v k="$1" -v c="$2" '$1 == k {print $c}' "$out/times.txt" | median; }
  echo
  echo "== $name: $clip ($frames frames, $size, $codec veryfast crf 20)"
  printf '  %-44s %7s %7s %8s %8s\n' command "wall s" fps "cpu s" "RSS MB"
  local plain
  plain=$(pick plain 2)
  for n in "${names[@]}"; do
    local wall label
    wall=$(pick "$n" 2)
    case $n in
      plain) label="ffmpeg plain transcode" ;;
      delogo) label="ffmpeg delogo=${DELOGO}" ;;
      unmark) label="unmark remove $*" ;;
    esac
    printf '  %-44s %7s %7.1f %8s %8s\n' "${label:0:44}" "$wall" "$(echo "$frames / $wall" | bc -l)" \
      "$(pick "$n" 3)" "$(pick "$n" 4)"
  done
  local ratio
  ratio=$(echo "scale=3; $plain / $(pick unmark 2)" | bc -l)
  echo "  ratio unmark/plain (fps): $ratio"
  if [ -n "$check" ] && [ "$(echo "$ratio < $check" | bc -l)" = 1 ]; then below+=("$name: $ratio"); fi
  echo "  unmark per-stage seconds (one more run, --stats):"
  # shellcheck disable=SC2086
  $unmark_cmd --stats 2>&1 | sed 's/^/    /'
}

for c in $cases; do
  case $c in
    auto) DELOGO=x=44:y=1706:w=256:h=92 compare auto "$out/sora_1080x1920_300.mp4" x264 ;;
    region) compare region "$out/portrait_1080x1920_300.mp4" x264 --region 840,1780,200,80 ;;
    sizes)
      compare "auto 704x1280" "$out/sora_704x1280_300.mp4" x264
      compare "auto 480x872" "$sora_src" x264
      ;;
    x265) compare "auto x265" "$out/sora_1080x1920_300.mp4" x265 ;;
    memory)
      long=$out/sora_704x1280_3000.mp4
      [ -f "$long" ] || ffmpeg -v error -y -stream_loop 9 -i "$out/sora_704x1280_300.mp4" -c copy "$long"
      echo
      echo "== memory: peak RSS of unmark remove (auto, x264), 704x1280"
      for clip in "$out/sora_704x1280_300.mp4" "$long"; do
        read -r wall cpu rss < <(time_one "$unmark" -q remove "$clip" -o "$out/unmark.mp4" --crf 20 --preset veryfast --encoder x264)
        printf '  %5s frames: %6s MB peak RSS (%s s wall, %s s cpu)\n' "$(frames_of "$clip")" "$rss" "$wall" "$cpu"
      done
      ;;
    *) echo "unknown case $c (auto region sizes x265 memory)" >&2; exit 2 ;;
  esac
done

if [ -n "$check" ]; then
  if [ ${#below[@]} -gt 0 ]; then
    echo "check: below ${check}x a plain transcode: ${below[*]}" >&2
    exit 1
  fi
  echo "check: every case at or above ${check}x a plain transcode"
fi
