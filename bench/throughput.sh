#!/usr/bin/env bash
# Throughput of unmark against a plain ffmpeg transcode, in one run, on the same clip.
#
#   bench/throughput.sh [RUNS]      (default 3 runs each; prints the median)
#
# Makes a 1080x1920, 300-frame clip from ../shared/media/clean_portrait_704x1280.mp4 (scaled,
# looped, near-lossless), then times:
#   plain   ffmpeg -c:v libx264 -preset veryfast -crf 20   (the encode a user cannot avoid)
#   unmark  unmark remove --region ... with the same encoder settings
# and prints fps for each and unmark's ratio to plain. Needs build/unmark and ffmpeg.
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
plain_cmd=(ffmpeg -v error -y -i "$clip" -c:v libx264 -preset veryfast -crf 20 -c:a copy "$out/plain.mp4")
unmark_cmd=("$unmark" -q remove "$clip" -o "$out/unmark.mp4" --region "$region" --crf 20 --preset veryfast --encoder x264)
# Interleaved, so that the machine's drift (this VM varies +-10% between runs) hits both alike.
: > "$out/times.txt"
for i in $(seq "$runs"); do
  echo "plain $(time_one "${plain_cmd[@]}")" >> "$out/times.txt"
  echo "unmark $(time_one "${unmark_cmd[@]}")" >> "$out/times.txt"
done
pick() { awk -v k="$1" -v c="$2" '$1 == k {print $c}' "$out/times.txt" | median; }
plain=$(pick plain 2); ours=$(pick unmark 2)
plain_cpu=$(pick plain 3); ours_cpu=$(pick unmark 3)

fps() { echo "scale=1; $frames / $1" | bc -l; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "clip: $clip ($frames frames, 1080x1920), runs: $runs each, interleaved (median)"
printf '%-28s %6s s wall %6s fps %7s s cpu\n' "ffmpeg plain transcode" "$plain" "$(fps "$plain")" "$plain_cpu"
printf '%-28s %6s s wall %6s fps %7s s cpu\n' "unmark remove --region" "$ours" "$(fps "$ours")" "$ours_cpu"
echo "ratio unmark/plain (fps): $(echo "scale=3; $plain / $ours" | bc -l)"
echo "unmark per-stage figures (one more run):"
"$unmark" -q remove "$clip" -o "$out/unmark.mp4" --region "$region" --crf 20 --preset veryfast --encoder x264 --stats
