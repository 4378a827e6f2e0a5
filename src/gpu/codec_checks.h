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

}  // namespace unmark::gpu
