// Re-encodes one audio stream to AAC, for the rare case where the output container cannot hold
// the input's audio codec (PCM into mp4, say). Copying is always preferred; the pipeline logs
// when it has to use this instead.
#pragma once

#include <functional>
#include <memory>

#include "core/av_ptr.h"

namespace unmark {

class AudioTranscoder {
 public:
  using PacketSink = std::function<void(AVPacket*)>;
  virtual ~AudioTranscoder() = default;
  // The opened AAC encoder, for the output stream's parameters; packets come in its time base.
  virtual const AVCodecContext* context() const = 0;
  // Decodes one input packet (nullptr flushes) and hands finished AAC packets to `sink`.
  virtual void transcode(const AVPacket* packet, const PacketSink& sink) = 0;
};

// Throws Error{unsupported} when the stream cannot be decoded or AAC cannot be opened.
std::unique_ptr<AudioTranscoder> open_aac_transcoder(const AVStream* input, bool global_header);

}  // namespace unmark
