#include "io/output_file.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/log.h"

namespace unmark {

std::unique_ptr<OutputFile> OutputFile::create(const std::string& final_path) {
  namespace fs = std::filesystem;
  const AVOutputFormat* ofmt = av_guess_format(nullptr, final_path.c_str(), nullptr);
  if (!ofmt)
    throw Error("mux", ErrorKind::usage,
                "cannot tell the container from '" + final_path + "': use .mp4, .mov or .mkv");
  if (ofmt->flags & AVFMT_NOFILE || !ofmt->video_codec || ofmt->video_codec == AV_CODEC_ID_NONE)
    throw Error("mux", ErrorKind::usage, "'" + final_path + "' is not a video container (" +
                                             ofmt->name + "): use .mp4, .mov or .mkv");
  fs::path target(final_path);
  std::error_code ec;
  if (fs::is_directory(target, ec))
    throw Error("mux", ErrorKind::output, "output '" + final_path + "' is a directory");
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec))
    throw Error("mux", ErrorKind::output, "output folder '" + dir.string() + "' does not exist");

  std::unique_ptr<OutputFile> out(new OutputFile);
  out->final_path_ = final_path;
  out->temp_path_ = (dir / ("." + target.filename().string() + ".unmark-" +
                            std::to_string(::getpid()) + ".part"))
                        .string();
  AVFormatContext* raw = nullptr;
  check(avformat_alloc_output_context2(&raw, ofmt, nullptr, out->temp_path_.c_str()), "mux",
        ErrorKind::output, "cannot set up the " + std::string(ofmt->name) + " muxer");
  out->ctx_.reset(raw);
  int err = avio_open(&raw->pb, out->temp_path_.c_str(), AVIO_FLAG_WRITE);
  if (err < 0)
    throw Error("mux", ErrorKind::output,
                "cannot write to '" + dir.string() + "': " + av_error_text(err));
  return out;
}

OutputFile::~OutputFile() {
  if (ctx_ && ctx_->pb) avio_closep(&ctx_->pb);
  if (!finished_ && !temp_path_.empty()) {
    std::error_code ec;
    std::filesystem::remove(temp_path_, ec);
  }
}

bool OutputFile::can_hold(AVCodecID codec) const {
  return avformat_query_codec(ctx_->oformat, codec, FF_COMPLIANCE_NORMAL) == 1;
}

AVStream* OutputFile::add_stream() {
  AVStream* st = avformat_new_stream(ctx_.get(), nullptr);
  if (!st) throw std::bad_alloc();
  return st;
}

void OutputFile::write_header() {
  check(avformat_write_header(ctx_.get(), nullptr), "mux", ErrorKind::output,
        "cannot write the " + std::string(ctx_->oformat->name) + " header");
  header_written_ = true;
}

void OutputFile::write_packet(AVPacket* packet) {
  check(av_interleaved_write_frame(ctx_.get(), packet), "mux", ErrorKind::output,
        "cannot write to '" + final_path_ + "'");
}

void OutputFile::finish() {
  if (!header_written_) throw Error("mux", ErrorKind::internal, "finish() before write_header()");
  check(av_write_trailer(ctx_.get()), "mux", ErrorKind::output, "cannot finish '" + final_path_ + "'");
  int err = avio_closep(&ctx_->pb);
  check(err, "mux", ErrorKind::output, "cannot close '" + final_path_ + "'");
  std::error_code ec;
  std::filesystem::rename(temp_path_, final_path_, ec);
  if (ec)
    throw Error("mux", ErrorKind::output,
                "cannot move the finished file to '" + final_path_ + "': " + ec.message());
  finished_ = true;
  log_for("mux")->info("wrote '{}'", final_path_);
}

}  // namespace unmark
