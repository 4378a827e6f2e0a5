#!/usr/bin/env bash
# Throughput of unmark against a plain ffmpeg transcode, in one run, on the same clip.
#
#   bench/throughput.sh [RUNS]      (default 3 runs each; prints the median)
#
# Two cases, each timed against a plain transcode of the same clip in the same run:
#   region  a 1080x1920, 300-frame clip from ../shared/media/clean_portrait_704x1280.mp4 (scaled,
#           looped, near-lossless); unmark remove --region ... (a mark whose place is known)
#   auto    the real Sora clip (../shared/media/sora2_beach_480x872.mp4) scaled to 1080x1920, the
#           moving mark and all; unmark remove in full auto (detect + track + remove)
#   plain   ffmpeg -c:v libx264 -preset veryfast -crf 20   (the encode a user cannot avoid)
# Prints fps for each, unmark's ratio to plain and unmark's per-stage times. Needs build/unmark,
# ffmpeg and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
unmark=${UNMARK:-build/unmark}
src=../shared/media/clean_portrait_704x1280.mp4
out=bench/out
mkdir -p "$out"
[ -x "$unmark" ] || { echo "build first: scripts/setup.sh" >&2; exit 2; }
[ -f "$src" ] || { echo "missing $src (the shared media)" >&2; exit 2; }

clip=$out/portrait_1080x1920_300.mp4
if [ ! -f "$clip" ]; then
  ffmpeg -v error -y -stream_loop 1 -i "$src" -vf scale=1080:1920:flags=lanczos -frames:v 300 \
    -c:v libx264 -preset veryfast -crf 12 -c:a copy -shortest "$clip"
fi
frames=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$clip")

# Times one command: "<wall seconds> <cpu seconds>".
time_one() {
  local f
  f=$(mktemp)
  /usr/bin/time -f "%e %U %S" -o "$f" "$@" >/dev/null 2>&1
  awk '{printf "%s %.2f\n", $1, $2 + $3}' "$f"
  rm -f "$f"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

region=${REGION:-840,1780,200,80}
sora_src=../shared/media/sora2_beach_480x872.mp4
sora_clip=$out/sora_1080x1920_300.mp4
if [ ! -f "$sora_clip" ]; then
  ffmpeg -v error -y -i "$sora_src" -vf scale=1080:1920:flags=lanczos -c:v libx264 -preset veryfast \
    -crf 12 -c:a copy "$sora_clip"
fi

fps() { echo "scale=1; $frames / $1" | bc -l; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "runs: $runs each, interleaved (median); encoder settings: libx264 -preset veryfast -crf 20"

# One case: $1 name, $2 clip, then the unmark arguments.
run_case() {
  local name=$1 clip=$2
  shift 2
  local plain_cmd=(ffmpeg -v error -y -i "$clip" -c:v libx264 -preset veryfast -crf 20 -c:a copy "$out/plain.mp4")
  local unmark_cmd=("$unmark" -q remove "$clip" -o "$out/unmark.mp4" --crf 20 --preset veryfast --encoder x264 "$@")
  : > "$out/times.txt"
  for i in $(seq "$runs"); do
    echo "plain $(time_one "${plain_cmd[@]}")" >> "$out/times.txt"
    echo "unmark $(time_one "${unmark_cmd[@]}")" >> "$out/times.txt"
  done
  pick() { awk -v k="$1" -v c="$2" '$1 == k {print $c}' "$out/times.txt" | median; }
  local plain ours plain_cpu ours_cpu
  plain=$(pick plain 2); ours=$(pick unmark 2); plain_cpu=$(pick plain 3); ours_cpu=$(pick unmark 3)
  echo
  echo "== $name: $clip ($frames frames, 1080x1920)"
  printf '%-34s %6s s wall %6s fps %7s s cpu\n' "ffmpeg plain transcode" "$plain" "$(fps "$plain")" "$plain_cpu"
  printf '%-34s %6s s wall %6s fps %7s s cpu\n' "unmark remove $*" "$ours" "$(fps "$ours")" "$ours_cpu"
  echo "ratio unmark/plain (fps): $(echo "scale=3; $plain / $ours" | bc -l)"
  echo "unmark per-stage figures (one more run):"
  "${unmark_cmd[@]}" --stats
}

run_case region "$clip" --region "$region"
if [ -f "$sora_clip" ]; then run_case auto "$sora_clip"; fi
