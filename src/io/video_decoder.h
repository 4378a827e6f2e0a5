// Video decoding behind an interface: libavcodec on the CPU, or NVDEC through libavcodec's cuda
// hwaccel. Frames come out in display order, in a planar YUV format the CPU stages read
// directly: the decoder's native one whenever it is (yuv420p, yuv420p10le, ...), converted only
// when the codec produces something else (RGB, packed or semi-planar formats).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/av_ptr.h"
#include "core/frame.h"

namespace unmark {

class VideoDecoder {
 public:
  using FrameSink = std::function<void(Frame)>;
  virtual ~VideoDecoder() = default;

  // A short name for logs: "h264 (cpu, 2 threads)".
  virtual std::string description() const = 0;
  // Decodes one packet of the video stream, or flushes with nullptr, handing every finished
  // frame to `sink` with index, time and duration filled in. Throws Error{input} on corrupt data.
  virtual void decode(const AVPacket* packet, const FrameSink& sink) = 0;
  // Frames handed out so far.
  virtual int64_t frames_out() const = 0;
};

// libavcodec on the CPU with frame threads (threads = 0 picks one per core).
// Throws Error{unsupported} when no decoder exists for the stream's codec.
std::unique_ptr<VideoDecoder> open_cpu_video_decoder(const AVStream* stream, int64_t start_pts,
                                                     int threads = 0);

// NVDEC: frames decoded on the GPU and copied down once (NV12/P010, made planar for the CPU
// stages). Throws Error{unsupported} naming why when there is no CUDA device, the codec has no
// NVDEC path, or UNMARK_FAULT names nvdec.
std::unique_ptr<VideoDecoder> open_nvdec_video_decoder(const AVStream* stream, int64_t start_pts);

// "auto": NVDEC when it opens, else the CPU decoder, the reason put in `*fallback` ("nvdec not
// used: ..."); "nvdec": NVDEC or Error; "cpu": the CPU decoder.
std::unique_ptr<VideoDecoder> open_video_decoder(const std::string& choice, const AVStream* stream,
                                                 int64_t start_pts, int threads, std::string* fallback);

}  // namespace unmark
