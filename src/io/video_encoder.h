// Video encoding behind an interface, with a small registry of back-ends (after ggml's backend
// registry): each has a name the user types, the libavcodec encoder it wraps, and a probe that says
// whether it works on this machine and why not. `auto` picks the first that works: nvenc, x264.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/av_ptr.h"
#include "core/frame.h"

namespace unmark {

struct EncoderSettings {
  std::string name = "auto";   // auto | x264 | x265 | nvenc
  // Constant quality. 17: the untouched rest of the frame keeps >= 45 dB against the input
  // through the re-encode (18 gave 44.6 on the quality bench's clip, for 13% less size).
  static constexpr int kDefaultCrf = 17;
  int crf = kDefaultCrf;
  std::string preset = "veryfast";
  int threads = 0;             // 0: the encoder's own choice (all cores)
};

// What the encoder is given: the stream being replaced and its first frame's properties.
struct VideoFormat {
  int width = 0, height = 0;
  int pix_fmt = -1;                // AVPixelFormat of the frames that will be sent
  AVRational time_base{1, 25};     // of the frames' pts (the input stream's)
  AVRational frame_rate{0, 1};     // average, a hint for rate control; 0/1 when unknown
  AVRational sample_aspect_ratio{0, 1};
  AVColorPrimaries primaries = AVCOL_PRI_UNSPECIFIED;
  AVColorTransferCharacteristic transfer = AVCOL_TRC_UNSPECIFIED;
  AVColorSpace matrix = AVCOL_SPC_UNSPECIFIED;
  AVColorRange range = AVCOL_RANGE_UNSPECIFIED;
  AVChromaLocation chroma_location = AVCHROMA_LOC_UNSPECIFIED;
  bool global_header = false;      // the muxer wants extradata (mp4, mkv)
};

class VideoEncoder {
 public:
  using PacketSink = std::function<void(AVPacket*)>;
  virtual ~VideoEncoder() = default;

  // "x264", "x265", "nvenc".
  virtual const std::string& name() const = 0;
  // The opened codec context, for the output stream's parameters and time base.
  virtual const AVCodecContext* context() const = 0;
  // Encodes one frame, or flushes with nullptr. Every finished packet goes to `sink` with pts, dts
  // and duration in context()->time_base; the sink does not keep the pointer.
  virtual void encode(const Frame* frame, const PacketSink& sink) = 0;
  // For "auto": the back-ends passed over before this one, with why ("" when it was the first).
  std::string passed_over;
};

struct EncoderInfo {
  std::string name;        // what --encoder takes
  std::string codec;       // libavcodec encoder name
  bool available = false;
  std::string reason;      // why not, when unavailable
};

// Every registered back-end with its probe result (probes run once per process).
std::vector<EncoderInfo> list_video_encoders();

// One back-end's probe result (only that one is probed). Throws Error for an unknown name.
EncoderInfo video_encoder_info(const std::string& name);

// Opens the encoder `settings.name` names ("auto" picks the best available one and logs why the
// better ones were passed over). Throws Error{usage} for an unknown name, Error{unsupported} when
// the named encoder is not available or cannot take this format.
std::unique_ptr<VideoEncoder> open_video_encoder(const EncoderSettings& settings,
                                                 const VideoFormat& format);

// Checks the name without opening anything (for early option validation).
void validate_encoder_name(const std::string& name);

}  // namespace unmark
