#include "io/input_file.h"

#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/log.h"

namespace unmark {

std::unique_ptr<InputFile> InputFile::open(const std::string& path, bool require_video) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool is_url = path.find("://") != std::string::npos;
  if (!is_url) {
    if (!fs::exists(path, ec)) throw Error("input", ErrorKind::input, "'" + path + "' does not exist");
    if (fs::is_directory(path, ec))
      throw Error("input", ErrorKind::input, "'" + path + "' is a directory, not a video file");
    if (fs::file_size(path, ec) == 0 && !ec)
      throw Error("input", ErrorKind::input, "'" + path + "' is empty");
  }

  std::unique_ptr<InputFile> in(new InputFile);
  in->path_ = path;
  AVFormatContext* raw = nullptr;
  int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (err < 0) {
    if (err == AVERROR_INVALIDDATA)
      throw Error("input", ErrorKind::input,
                  "'" + path + "' is not a video file unmark can read (" + av_error_text(err) + ")");
    throw Error("input", ErrorKind::input, "cannot open '" + path + "': " + av_error_text(err));
  }
  in->ctx_.reset(raw);
  err = avformat_find_stream_info(raw, nullptr);
  if (err < 0)
    throw Error("input", ErrorKind::input,
                "cannot read the streams of '" + path + "' (truncated or damaged?): " +
                    av_error_text(err));

  // The main video stream, never a cover image.
  int best = -1;
  for (unsigned i = 0; i < raw->nb_streams; ++i) {
    AVStream* st = raw->streams[i];
    if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
    if (st->disposition & AV_DISPOSITION_ATTACHED_PIC) continue;
    if (best < 0 || (st->disposition & AV_DISPOSITION_DEFAULT)) {
      if (best < 0 || !(raw->streams[best]->disposition & AV_DISPOSITION_DEFAULT)) best = int(i);
    }
  }
  in->video_index_ = best;
  if (best < 0) {
    if (require_video) throw Error("input", ErrorKind::input, "'" + path + "' has no video stream");
    return in;
  }
  AVCodecParameters* par = raw->streams[best]->codecpar;
  if (par->width <= 0 || par->height <= 0)
    throw Error("input", ErrorKind::input,
                "the video stream of '" + path + "' has no frame size (damaged header?)");
  log_for("decode")->info("opened '{}': {} {}x{}, {} streams", path, avcodec_get_name(par->codec_id),
                          par->width, par->height, raw->nb_streams);
  return in;
}

bool InputFile::read_packet(AVPacket* pkt) {
  av_packet_unref(pkt);
  int err = av_read_frame(ctx_.get(), pkt);
  if (err == AVERROR_EOF) return false;
  if (err < 0)
    throw Error("decode", ErrorKind::input,
                "cannot read '" + path_ + "' (truncated or damaged?): " + av_error_text(err));
  return true;
}

int64_t InputFile::expected_frame_count() const {
  const AVStream* st = video_stream();
  if (st->nb_frames > 0) return st->nb_frames;
  AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  double seconds = st->duration > 0 ? st->duration * av_q2d(st->time_base)
                   : ctx_->duration > 0 ? double(ctx_->duration) / AV_TIME_BASE
                                        : 0.0;
  if (rate.num <= 0 || seconds <= 0) return 0;
  return int64_t(seconds * av_q2d(rate) + 0.5);
}

int64_t InputFile::video_start_pts() const {
  int64_t s = video_stream()->start_time;
  return s == AV_NOPTS_VALUE ? 0 : s;
}

}  // namespace unmark
