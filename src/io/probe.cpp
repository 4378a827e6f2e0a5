#include "io/probe.h"

#include <cmath>

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

#include "core/json_text.h"
#include "io/color_tags.h"
#include "io/input_file.h"

namespace unmark {
namespace {

nlohmann::json tags(const AVDictionary* dict) {
  nlohmann::json j = nlohmann::json::object();
  const AVDictionaryEntry* e = nullptr;
  while ((e = av_dict_get(dict, "", e, AV_DICT_IGNORE_SUFFIX))) j[valid_utf8(e->key)] = valid_utf8(e->value);  // tags are bytes, often not UTF-8
  return j;
}

std::string rational(AVRational r) { return std::to_string(r.num) + "/" + std::to_string(r.den); }

const char* or_unknown(const char* s) { return s ? s : "unknown"; }

}  // namespace

double stream_rotation(const AVStream* st) {
  size_t size = 0;
  const uint8_t* m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (!m || size < 9 * sizeof(int32_t)) return 0.0;
  double r = av_display_rotation_get(reinterpret_cast<const int32_t*>(m));
  return std::isnan(r) ? 0.0 : r;
}

nlohmann::json probe_media(const std::string& path) {
  auto in = InputFile::open(path, /*require_video=*/false);
  AVFormatContext* fmt = in->format();
  nlohmann::json streams = nlohmann::json::array();
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* st = fmt->streams[i];
    const AVCodecParameters* par = st->codecpar;
    nlohmann::json s = {
        {"index", i},
        {"type", or_unknown(av_get_media_type_string(par->codec_type))},
        {"codec", avcodec_get_name(par->codec_id)},
        {"time_base", rational(st->time_base)},
        {"start_time", st->start_time == AV_NOPTS_VALUE ? 0.0 : st->start_time * av_q2d(st->time_base)},
        {"duration", st->duration > 0 ? st->duration * av_q2d(st->time_base) : 0.0},
        {"frames", st->nb_frames},
        {"bit_rate", par->bit_rate},
        {"tags", tags(st->metadata)},
    };
    if (const char* profile = avcodec_profile_name(par->codec_id, par->profile)) s["profile"] = profile;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
      s["width"] = par->width;
      s["height"] = par->height;
      s["pix_fmt"] = or_unknown(av_get_pix_fmt_name(AVPixelFormat(par->format)));
      s["frame_rate"] = rational(st->avg_frame_rate);
      s["color_range"] = or_unknown(av_color_range_name(checked_range(par->color_range)));
      s["color_primaries"] = or_unknown(av_color_primaries_name(checked_primaries(par->color_primaries)));
      s["color_transfer"] = or_unknown(av_color_transfer_name(checked_transfer(par->color_trc)));
      s["color_space"] = or_unknown(av_color_space_name(checked_space(par->color_space)));
      s["rotation"] = stream_rotation(st);
      s["attached_pic"] = bool(st->disposition & AV_DISPOSITION_ATTACHED_PIC);
    } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
      s["sample_rate"] = par->sample_rate;
      s["channels"] = par->ch_layout.nb_channels;
    }
    streams.push_back(std::move(s));
  }
  nlohmann::json format = {
      {"name", fmt->iformat->name},
      {"duration", fmt->duration > 0 ? double(fmt->duration) / AV_TIME_BASE : 0.0},
      {"bit_rate", fmt->bit_rate},
      {"size", fmt->pb ? avio_size(fmt->pb) : -1},
      {"tags", tags(fmt->metadata)},
  };
  nlohmann::json chapters = nlohmann::json::array();
  for (unsigned i = 0; i < fmt->nb_chapters; ++i) {
    const AVChapter* c = fmt->chapters[i];
    chapters.push_back({{"start", c->start * av_q2d(c->time_base)},
                        {"end", c->end * av_q2d(c->time_base)},
                        {"tags", tags(c->metadata)}});
  }
  return {{"file", path},       {"video_stream", in->video_index()}, {"streams", streams},
          {"format", format},   {"chapters", chapters}};
}

}  // namespace unmark
