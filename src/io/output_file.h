// The output container, written to a hidden temporary file beside the final path and renamed into
// place only by finish(): a run that fails or is cancelled never leaves a partial file at the
// path the user named.
#pragma once

#include <memory>
#include <string>

#include "core/av_ptr.h"

namespace unmark {

class OutputFile {
 public:
  // Picks the container from the final path's extension and opens the temporary file at once, so
  // an unwritable output is reported before any decoding. Throws Error{usage|output}.
  static std::unique_ptr<OutputFile> create(const std::string& final_path);
  ~OutputFile();  // removes the temporary file unless finish() succeeded

  AVFormatContext* format() const { return ctx_.get(); }
  const std::string& path() const { return final_path_; }
  const std::string& temp_path() const { return temp_path_; }
  // Whether the container can store `codec` without re-encoding.
  bool can_hold(AVCodecID codec) const;

  AVStream* add_stream();
  void write_header();
  bool header_written() const { return header_written_; }
  // Interleaves and writes one packet whose timestamps are already in the stream's time base.
  void write_packet(AVPacket* packet);
  // Writes the trailer, closes the file and renames it to the final path.
  void finish();

 private:
  OutputFile() = default;
  std::string final_path_, temp_path_;
  AVOutputFormatContextPtr ctx_;
  bool header_written_ = false;
  bool finished_ = false;
};

}  // namespace unmark
