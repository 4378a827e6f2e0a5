#include "io/output_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/log.h"

namespace unmark {

namespace {

// ".NAME.unmark-PID.part" files beside an output whose process has ended (killed before it could
// remove its own): removed before a new one is written.
void remove_stale_parts(const std::filesystem::path& dir, const std::string& name) {
  namespace fs = std::filesystem;
  const std::string prefix = "." + name + ".unmark-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) != 0 || !file.ends_with(".part")) continue;
    const std::string digits = file.substr(prefix.size(), file.size() - prefix.size() - 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = pid_t(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    std::error_code re;
    if (fs::remove(entry.path(), re)) log_for("mux")->info("removed {} (left by an ended run)", entry.path().string());
  }
}

}  // namespace

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

  remove_stale_parts(dir, target.filename().string());
  std::unique_ptr<OutputFile> out(new OutputFile);
  out->final_path_ = final_path;
  out->temp_path_ = (dir / ("." + target.filename().string() + ".unmark-" +
                            std::to_string(::getpid()) + ".part"))
                        .string();
  // Created here, never opened through a link planted at its name: O_EXCL fails on any entry
  // there, a symlink included. The muxer then opens that very file through /proc/self/fd.
  int fd = ::open(out->temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {  // ours from an earlier output in this process, or planted
    ::unlink(out->temp_path_.c_str());
    fd = ::open(out->temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  }
  if (fd < 0)
    throw Error("mux", ErrorKind::output, "cannot write to '" + dir.string() + "': " + std::strerror(errno));
  const std::string opened = "/proc/self/fd/" + std::to_string(fd);
  AVFormatContext* raw = nullptr;
  int err = avformat_alloc_output_context2(&raw, ofmt, nullptr, out->temp_path_.c_str());
  if (err >= 0) {
    out->ctx_.reset(raw);
    err = avio_open(&raw->pb, opened.c_str(), AVIO_FLAG_WRITE);
  }
  ::close(fd);
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
