# syntax=docker/dockerfile:1
# unmark images, built from source:
#   docker build --target final_api        -t unmark-api .         # `unmark serve` on :8080
#   docker build --target final_serverless -t unmark-worker .      # `unmark worker` (RunPod)
#
# BASE is an NVIDIA CUDA runtime image by default; the NVIDIA container runtime adds the driver's
# libraries (libcuda, libnvcuvid for NVDEC, libnvidia-encode for NVENC) for the capabilities listed
# in NVIDIA_DRIVER_CAPABILITIES: without "video" a container gets no NVDEC or NVENC, one reason the
# old image fell back to CPU. Any Debian/Ubuntu base with FFmpeg >= 5.1 works: scripts/docker-smoke.sh
# builds both targets on plain Debian 12 (CPU only). No model is downloaded, at build or run time.
ARG BASE=nvidia/cuda:12.6.3-runtime-ubuntu24.04

# -- builder: compile and test-link unmark, and work out which packages its libraries come from ----
FROM ${BASE} AS builder
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev \
      libspdlog-dev libcli11-dev nlohmann-json3-dev \
      libcpp-httplib-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev \
      libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-photo-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY src src
COPY profiles profiles
COPY scripts/runtime-packages.sh scripts/
# Tests and benchmarks stay out of the image; CI runs them.
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DUNMARK_BUILD_TESTS=OFF -DUNMARK_BUILD_BENCH=OFF \
    && cmake --build build -j"$(nproc)" \
    && strip build/unmark \
    && build/unmark --version \
    && scripts/runtime-packages.sh build/unmark > /runtime-packages.txt \
    && cat /runtime-packages.txt

# -- the common run-time layer: only the shared libraries the binary links -----------------------
FROM ${BASE} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
COPY --from=builder /runtime-packages.txt /tmp/
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends ca-certificates curl $(cat /tmp/runtime-packages.txt) \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=builder /src/build/unmark /usr/local/bin/unmark
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,video,utility
ENTRYPOINT ["unmark"]

# -- the job service ---------------------------------------------------------------------------------
FROM runtime AS final_api
RUN useradd --system --create-home --home-dir /var/lib/unmark --shell /usr/sbin/nologin unmark \
    && mkdir -p /data && chown unmark:unmark /data
USER unmark
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--data", "/data"]

# -- the RunPod serverless worker -------------------------------------------------------------------
FROM runtime AS final_serverless
HEALTHCHECK --interval=60s --timeout=5s CMD unmark --version || exit 1
CMD ["worker", "--data", "/tmp/unmark-worker"]
