#include "io/frame_reader.h"

#include "core/error.h"
#include "io/input_file.h"
#include "io/video_decoder.h"

namespace unmark {

namespace {
struct Stop {};  // thrown through the decoder's callback to end early
}  // namespace

VideoInfo read_frames(const std::string& path, const std::function<bool(Frame&)>& on_frame,
                      const std::atomic<bool>* cancel) {
  auto in = InputFile::open(path);
  auto decoder = open_cpu_video_decoder(in->video_stream(), in->video_start_pts());
  VideoInfo info;
  const AVStream* st = in->video_stream();
  info.width = st->codecpar->width;
  info.height = st->codecpar->height;
  info.expected_frames = in->expected_frame_count();
  AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  info.fps = rate.num > 0 ? av_q2d(rate) : 0;
  AVPacketPtr pkt = make_av_packet();
  auto sink = [&](Frame f) {
    if (cancel && cancel->load()) throw Error("decode", ErrorKind::cancelled, "cancelled");
    if (!on_frame(f)) throw Stop{};
  };
  try {
    while (in->read_packet(pkt.get()))
      if (pkt->stream_index == in->video_index()) decoder->decode(pkt.get(), sink);
    decoder->decode(nullptr, sink);
  } catch (const Stop&) {
  }
  if (decoder->frames_out() == 0)
    throw Error("decode", ErrorKind::input, "no video frames could be decoded from '" + path + "'");
  return info;
}

}  // namespace unmark
