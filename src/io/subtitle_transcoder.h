// Converts a text subtitle stream to the text format the output container holds (SubRip or ASS
// into mp4 becomes mov_text; mov_text into mkv becomes SubRip). Bitmap subtitles (DVD, PGS) cannot
// be converted to text; the pipeline drops those with a log line.
#pragma once

#include <functional>
#include <memory>

#include "core/av_ptr.h"

namespace unmark {

class SubtitleTranscoder {
 public:
  using PacketSink = std::function<void(AVPacket*)>;
  virtual ~SubtitleTranscoder() = default;
  virtual const AVCodecContext* context() const = 0;
  // Converts one packet; the result keeps the packet's pts and duration (input time base).
  virtual void transcode(const AVPacket* packet, const PacketSink& sink) = 0;
};

// The text subtitle codec `container` holds, or AV_CODEC_ID_NONE.
AVCodecID text_subtitle_codec_for(const AVOutputFormat* container);

// Throws Error{unsupported} when the input is not a text subtitle or cannot be converted.
std::unique_ptr<SubtitleTranscoder> open_subtitle_transcoder(const AVStream* input, AVCodecID target,
                                                             bool global_header);

}  // namespace unmark
