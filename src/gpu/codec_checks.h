// Real trials of the video engines unmark may use, for `unmark doctor` and the worker's start-up
// check: each encodes or decodes a few generated frames and says what failed ("" when it worked).
#pragma once

#include <string>

namespace unmark::gpu {

// Encodes 10 generated 256x256 frames with libavcodec's encoder `codec` ("libx264", "h264_nvenc").
std::string encode_trial(const char* codec);

// Decodes a generated H.264 clip with NVDEC (libavcodec's cuda hwaccel) and checks the frames
// arrive as CUDA frames.
std::string nvdec_trial();

// Decodes the same clip with NVDEC and brings every frame down through the GPU kernels
// (cuda_frames.h), checking the planes against libavcodec's own download. "" when they match;
// else why not (kernels not built in, not loadable by this driver, or wrong).
std::string kernel_trial();

}  // namespace unmark::gpu
