// An opened input: the demuxer and the choice of its video stream. Opening does every check a
// user's file can fail (missing, empty, not media, no video stream) and names the problem.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/av_ptr.h"

namespace unmark {

class InputFile {
 public:
  // Opens and probes `path`. Throws Error{input} with one clear sentence when it cannot, or when
  // `require_video` and it has no video stream (video_index() is -1 otherwise).
  static std::unique_ptr<InputFile> open(const std::string& path, bool require_video = true);

  const std::string& path() const { return path_; }
  AVFormatContext* format() const { return ctx_.get(); }
  int video_index() const { return video_index_; }
  AVStream* video_stream() const { return ctx_->streams[video_index_]; }

  // Reads the next packet of any stream into `pkt` (unreferenced first). Returns false at the end
  // of the file; throws Error{input} on a read error (a truncated or damaged file).
  bool read_packet(AVPacket* pkt);

  // Frames the container says the video stream has, or an estimate from duration and frame rate;
  // 0 when neither is known. Used for progress and for spotting truncated files.
  int64_t expected_frame_count() const;
  // The video stream's start in its time base (0 when unknown); frame times count from here.
  int64_t video_start_pts() const;

 private:
  InputFile() = default;
  std::string path_;
  AVInputFormatContextPtr ctx_;
  int video_index_ = -1;
};

}  // namespace unmark
