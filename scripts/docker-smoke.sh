#!/usr/bin/env bash
# Proves the Dockerfile without Docker Hub: builds both targets with podman on a Debian 12 base
# made here with debootstrap (the CPU variant of the CUDA base), then runs inside each image:
# the version, a real `unmark remove`, a worker job through its local API (final_serverless), and
# the service answering its HEALTHCHECK and a job (final_api, as its non-root user).
#   sudo apt-get install podman buildah debootstrap ffmpeg curl
#   scripts/docker-smoke.sh            # CACHE=/var/tmp/unmark-docker keeps the base between runs
# Not part of the test command: it takes minutes and needs root (podman, debootstrap). Docker
# format (not OCI), so the images keep their HEALTHCHECK.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CACHE:-/var/tmp/unmark-docker}
BASE=localhost/debian:bookworm
# The Debian mirror this machine's own apt uses (deb822 .sources first, then sources.list), so
# no registry is named here; MIRROR=... overrides it.
apt_mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2; exit}')
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' | head -1)
  echo "$uri"
}
MIRROR=${MIRROR:-$(apt_mirror)}
[ -n "$MIRROR" ] || { echo "docker-smoke: no Debian mirror in /etc/apt (set MIRROR=...)"; exit 1; }
for tool in podman buildah debootstrap ffmpeg; do
  command -v "$tool" >/dev/null || { echo "docker-smoke: $tool is missing (apt-get install podman buildah debootstrap ffmpeg)"; exit 1; }
done
mkdir -p "$CACHE"
step() { echo; echo "== $*"; }

if ! podman image exists "$BASE"; then
  step "base image: debootstrap bookworm from $MIRROR"
  rm -rf "$CACHE/rootfs"
  debootstrap --variant=minbase bookworm "$CACHE/rootfs" "$MIRROR" > "$CACHE/debootstrap.log"
  tar -C "$CACHE/rootfs" -c . | podman import - "$BASE"
fi

for target in final_api final_serverless; do
  step "podman build --target $target"
  start=$(date +%s)
  podman build --format docker --isolation chroot --build-arg BASE="$BASE" --target "$target" -t "localhost/unmark:$target" . \
    > "$CACHE/build-$target.log" 2>&1 || { tail -40 "$CACHE/build-$target.log"; exit 1; }
  echo "built in $(( $(date +%s) - start )) s: $(podman image inspect --format '{{.Size}}' "localhost/unmark:$target" | awk '{printf "%.0f MB", $1/1e6}')"
done

# A clip with a white bar as its mark.
clip="$CACHE/clip.mp4"
ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=frequency=440 -t 2 \
  -vf drawbox=x=20:y=20:w=60:h=24:color=white:t=fill -c:v libx264 -crf 12 -c:a aac -shortest "$clip"

step "final_serverless: version, doctor, a remove, a worker job through --serve-api"
ctr=$(buildah from "localhost/unmark:final_serverless")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true; [ -n "${api:-}" ] && buildah rm "$api" >/dev/null 2>&1 || true' EXIT
buildah copy "$ctr" "$clip" /tmp/clip.mp4 >/dev/null
buildah run --isolation chroot "$ctr" -- sh -c '
  set -e
  env | grep NVIDIA_DRIVER_CAPABILITIES
  unmark --version
  unmark doctor
  unmark -q remove /tmp/clip.mp4 -o /tmp/clean.mp4 --region 18,18,64,28 --json | grep -E "\"(frames|encoder|fps)\""
  unmark worker --serve-api --port 18000 --allow-dir /tmp --data /tmp/w > /tmp/worker.log 2>&1 &
  worker=$!
  sleep 1
  curl -fsS localhost:18000/ep/runsync -d "{\"input\": {\"source\": \"/tmp/clip.mp4\", \"regions\": [\"18,18,64,28\"]}}" \
    | grep -o "\"status\":\"[A-Z]*\"\|\"result_url\":\"[^\"]*\""
  kill $worker; wait $worker || true
  tail -4 /tmp/worker.log'

step "final_api: as user $(podman image inspect --format '{{.Config.User}}' localhost/unmark:final_api), HEALTHCHECK and a job"
api=$(buildah from "localhost/unmark:final_api")
buildah copy --chown unmark:unmark "$api" "$clip" /tmp/clip.mp4 >/dev/null
buildah run --isolation chroot "$api" -- sh -c '
  set -e
  id -un
  unmark serve --port 8080 --data /data --allow-dir /tmp > /tmp/serve.log 2>&1 &
  server=$!
  sleep 1
  curl -fsS http://127.0.0.1:8080/health; echo
  id=$(curl -fsS localhost:8080/api/v1/jobs -d "{\"source_uri\": \"/tmp/clip.mp4\", \"regions\": [\"18,18,64,28\"]}" | sed "s/.*\"id\":\"\([^\"]*\)\".*/\1/")
  for i in $(seq 50); do
    status=$(curl -fsS localhost:8080/api/v1/jobs/$id | sed "s/.*\"status\":\"\([a-z]*\)\".*/\1/")
    [ "$status" = completed ] || [ "$status" = failed ] && break
    sleep 0.2
  done
  echo "job $id: $status"
  curl -fsS -o /tmp/result.mp4 localhost:8080/api/v1/jobs/$id/result && unmark probe /tmp/result.mp4 | grep -m1 "\"width\""
  kill $server; wait $server || true
  [ "$status" = completed ]'
podman image inspect --format '{{json .Config.Healthcheck}}' localhost/unmark:final_api
step "docker-smoke: both targets built and ran"
