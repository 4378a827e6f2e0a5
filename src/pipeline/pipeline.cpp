#include "pipeline/pipeline.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include <unistd.h>

extern "C" {
#include <libavutil/imgutils.h>
}

#include "core/bounded_queue.h"
#include "core/error.h"
#include "core/frame_pool.h"
#include "core/log.h"
#include "gpu/device.h"
#include "detect/detector.h"
#include "track/tracker.h"
#include "io/audio_transcoder.h"
#include "io/color_tags.h"
#include "io/input_file.h"
#include "io/output_file.h"
#include "io/subtitle_transcoder.h"
#include "pipeline/preview.h"
#include "io/video_decoder.h"

namespace unmark {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Adds the time a scope took to a counter.
class ScopedTimer {
 public:
  explicit ScopedTimer(double& total) : total_(total), start_(Clock::now()) {}
  ~ScopedTimer() { total_ += seconds_since(start_); }

 private:
  double& total_;
  Clock::time_point start_;
};

enum class StreamAction { video, copy, transcode_audio, transcode_subtitle, drop };

struct StreamPlan {
  StreamAction action = StreamAction::drop;
  int out_index = -1;
  std::unique_ptr<AudioTranscoder> transcoder;            // transcode_audio only
  std::unique_ptr<SubtitleTranscoder> subtitle_transcoder;  // transcode_subtitle only
};

// Packets of the streams other than video, ready to mux, with the time base of their timestamps.
// Unbounded on purpose: decode runs at most a few queue lengths of video ahead of encode, so this
// holds a few seconds of audio at most, and a bound here could deadlock against the video queues.
class SidePackets {
 public:
  void push(AVPacket* pkt, AVRational tb, int out_index) {
    AVPacketPtr copy = make_av_packet();
    check(av_packet_ref(copy.get(), pkt), "mux", ErrorKind::processing, "packet copy");
    copy->stream_index = out_index;
    copy->time_base = tb;
    std::lock_guard lock(mutex_);
    packets_.push_back(std::move(copy));
  }
  std::deque<AVPacketPtr> take_all() {
    std::lock_guard lock(mutex_);
    return std::exchange(packets_, {});
  }

 private:
  std::mutex mutex_;
  std::deque<AVPacketPtr> packets_;
};

void copy_stream_side_data(const AVStream* from, AVStream* to, bool reencoded) {
  for (int i = 0; i < from->nb_side_data; ++i) {
    const AVPacketSideData& sd = from->side_data[i];
    if (reencoded && sd.type == AV_PKT_DATA_CPB_PROPERTIES) continue;  // the old encoder's
    uint8_t* dst = av_stream_new_side_data(to, sd.type, sd.size);
    if (!dst) throw std::bad_alloc();
    std::memcpy(dst, sd.data, sd.size);
  }
}

void copy_stream_info(const AVStream* from, AVStream* to, bool reencoded) {
  av_dict_copy(&to->metadata, from->metadata, 0);
  if (reencoded) av_dict_set(&to->metadata, "encoder", nullptr, 0);  // no longer true
  to->disposition = from->disposition;
  to->time_base = from->time_base;
  to->avg_frame_rate = from->avg_frame_rate;
  to->r_frame_rate = from->r_frame_rate;
  to->sample_aspect_ratio = from->sample_aspect_ratio;
  copy_stream_side_data(from, to, reencoded);
}

bool is_text_subtitle(AVCodecID id) {
  const AVCodecDescriptor* d = avcodec_descriptor_get(id);
  return d && (d->props & AV_CODEC_PROP_TEXT_SUB);
}

// Container tags and chapters; the muxer writes its own "encoder" tag.
void copy_container_info(const AVFormatContext* in, AVFormatContext* out) {
  av_dict_copy(&out->metadata, in->metadata, 0);
  av_dict_set(&out->metadata, "encoder", nullptr, 0);
  if (in->nb_chapters == 0) return;
  out->chapters = static_cast<AVChapter**>(av_calloc(in->nb_chapters, sizeof(AVChapter*)));
  if (!out->chapters) throw std::bad_alloc();
  for (unsigned i = 0; i < in->nb_chapters; ++i) {
    const AVChapter* c = in->chapters[i];
    auto* copy = static_cast<AVChapter*>(av_mallocz(sizeof(AVChapter)));
    if (!copy) throw std::bad_alloc();
    copy->id = c->id;
    copy->time_base = c->time_base;
    copy->start = c->start;
    copy->end = c->end;
    av_dict_copy(&copy->metadata, c->metadata, 0);
    out->chapters[out->nb_chapters++] = copy;
  }
}

class RemovePipeline {
 public:
  RemovePipeline(const RemoveJob& job, const ProgressFn& progress, const std::atomic<bool>* cancel)
      : job_(job), progress_(progress), cancel_(cancel),
        decoded_(8), processed_(8) {}

  RunReport run() {
    auto log = log_for("pipeline");
    const auto start = Clock::now();
    setup();
    times_.prepare = seconds_since(start);
    log->info("{} -> {}: {}x{}, ~{} frames, segment {} frames, detector {}, remover {}", job_.input,
              job_.output, report_.width, report_.height, expected_frames_, job_.segment_frames,
              report_.detector, remover_->name());

    const std::string context = LogContext::current();  // a server's job id, on every stage's lines
    std::thread decode_thread([&] { LogContext c(context); guarded([&] { decode_loop(); }); });
    std::thread process_thread([&] { LogContext c(context); guarded([&] { process_loop(); }); });
    std::thread encode_thread([&] { LogContext c(context); guarded([&] { encode_loop(); }); });
    decode_thread.join();
    process_thread.join();
    encode_thread.join();
    if (error_) std::rethrow_exception(error_);

    report_.seconds = seconds_since(start);
    report_.fps = report_.seconds > 0 ? double(report_.frames) / report_.seconds : 0;
    stage_log()->info("completed in {:.2f} s ({:.1f} fps): {} frames, mark found in {}", report_.seconds,
                      report_.fps, report_.frames, report_.frames_with_marks);
    if (report_.frames_with_marks == 0)
      log_for("detect")->warn("no mark found: the output is a plain transcode of the input");
    return report_;
  }

 private:
  // -- set-up: every check a user's request can fail, before any thread starts ------------------
  void setup() {
    if (job_.segment_frames < 1) throw Error("cli", ErrorKind::usage, "--segment must be at least 1");
    if (job_.output.empty()) throw Error("cli", ErrorKind::usage, "no output path given (-o)");
    in_ = InputFile::open(job_.input);
    std::error_code ec;
    if (std::filesystem::equivalent(job_.input, job_.output, ec))
      throw Error("cli", ErrorKind::usage, "the output must not overwrite the input");
    const AVCodecParameters* par = in_->video_stream()->codecpar;
    report_.width = par->width;
    report_.height = par->height;
    validate_regions(job_.detection.regions, par->width, par->height);
    validate_encoder_name(job_.encoder.name);
    validate_edits(job_.edits);
    if (job_.encoder.name != "auto") {
      const EncoderInfo e = video_encoder_info(job_.encoder.name);
      if (!e.available) throw Error("encode", ErrorKind::unsupported, e.name + " is not available: " + e.reason);
    }
    if (job_.require_gpu) {
      // Each level the GPU path could give up, checked before anything is written. A CPU encoder
      // named outright (--encoder x264, the way on a card without NVENC) is a choice, not a fallback.
      if (job_.decoder == "cpu") throw Error("cli", ErrorKind::usage, "--require-gpu and --decoder cpu contradict each other");
      const gpu::GpuInfo card = gpu::query_gpu();
      if (!card.present) require_gpu("gpu", "no usable GPU (" + card.why_not + ")");
      if (job_.encoder.name == "auto")
        if (const EncoderInfo nvenc = video_encoder_info("nvenc"); !nvenc.available)
          require_gpu("encode", "nvenc is not available (" + nvenc.reason + "); --encoder x264 encodes on the CPU on purpose");
    }
    // Choosing by looking at the video (auto, static) reads its first frames: that runs on the
    // process thread while the decoder starts, so the look costs no time of its own.
    bool automatic = true;
    if (needs_input_sample(job_.detection)) {
      report_.detector = "auto (chosen from the first frames)";
    } else {
      detection_ = choose_detector(job_.detection, job_.input, par->width, par->height, /*measure_later=*/true);
      report_.detector = detection_.description;
      automatic = detection_.automatic;
    }
    RemoverOptions remover_options = job_.remover_options;
    // A found mark's box is tight around what matched: give the remover a little slack for the
    // mark's anti-aliased edge and compression ringing. A user's region is taken as given.
    if (automatic && remover_options.margin < 0) remover_options.margin = 3;
    if (remover_options.window_frames <= 0) remover_options.window_frames = window_frames(*par);
    remover_ = make_remover(job_.remover, remover_options);
    segment_frames_ = std::max(job_.segment_frames, remover_->wanted_segment_frames());
    report_.remover = remover_->name();
    expected_frames_ = expected_output_frames();
    out_ = OutputFile::create(job_.output);
    plan_streams();
    std::string decode_fallback;
    decoder_ = open_video_decoder(job_.decoder, in_->video_stream(), in_->video_start_pts(), job_.decode_threads,
                                  &decode_fallback);
    report_.decoder = decoder_->description();
    if (!decode_fallback.empty()) {
      require_gpu("decode", decode_fallback);
      report_.fallbacks.push_back("decode: " + decode_fallback + " -> cpu");
    }
    if (report_.decoder.find("(nvdec)") != std::string::npos) report_.path = "nvdec + cpu";
    if (job_.edits.scales()) {
      auto [w, h] = edited_size(job_.edits, par->width, par->height);
      if (w != par->width || h != par->height) scaler_ = std::make_unique<FrameScaler>(w, h);
    }
    if (job_.edits.fps > 0) rate_ = std::make_unique<FrameRateConverter>(job_.edits.fps);
  }

  // The logger for a pipeline-wide line: "gpu pipeline" when the GPU decodes (the old worker's
  // wording, which its users grep for), else the stage's own.
  std::shared_ptr<spdlog::logger> stage_log(const char* stage = "pipeline") const {
    return log_for(report_.path == "cpu" ? stage : "gpu pipeline");
  }

  // --require-gpu: a level given up is an error, named by its stage, before any output is written.
  void require_gpu(const std::string& stage, const std::string& why) const {
    if (job_.require_gpu)
      throw Error(stage, ErrorKind::unsupported, why + ", and --require-gpu forbids running it on the CPU");
  }

  // For progress: the input's frame count, cut to the trim and converted to the output rate.
  int64_t expected_output_frames() const {
    const int64_t frames = in_->expected_frame_count();
    const EditSettings& e = job_.edits;
    if (!e.trims() && e.fps <= 0) return frames;
    const AVStream* vs = in_->video_stream();
    AVRational rate = vs->avg_frame_rate.num > 0 ? vs->avg_frame_rate : vs->r_frame_rate;
    const double in_fps = rate.num > 0 ? av_q2d(rate) : 0;
    if (in_fps <= 0 || frames <= 0) return 0;
    double length = double(frames) / in_fps;
    if (e.end >= 0) length = std::min(length, e.end);
    length = std::max(0.0, length - e.start);
    return int64_t(length * (e.fps > 0 ? e.fps : in_fps) + 0.5);
  }

  void plan_streams() {
    auto log = log_for("mux");
    AVFormatContext* ifmt = in_->format();
    const bool global_header = out_->format()->oformat->flags & AVFMT_GLOBALHEADER;
    const std::string container = out_->format()->oformat->name;
    copy_container_info(ifmt, out_->format());
    plans_.resize(ifmt->nb_streams);
    for (unsigned i = 0; i < ifmt->nb_streams; ++i) {
      const AVStream* is = ifmt->streams[i];
      const AVCodecParameters* par = is->codecpar;
      StreamPlan& plan = plans_[i];
      const std::string what = "stream #" + std::to_string(i) + " (" +
                               av_get_media_type_string(par->codec_type) + ", " +
                               avcodec_get_name(par->codec_id) + ")";
      if (int(i) == in_->video_index()) {
        plan.action = StreamAction::video;
      } else if (par->codec_type == AVMEDIA_TYPE_AUDIO && !job_.edits.audio) {
        log->info("{}: dropped (audio off)", what);
        report_.streams_changed.push_back(what + ": dropped (audio off)");
        continue;
      } else if (par->codec_type == AVMEDIA_TYPE_VIDEO && !(is->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        log->warn("{}: only the main video stream is kept; dropped", what);
        report_.streams_changed.push_back(what + ": dropped (only the main video stream is kept)");
        continue;
      } else if (out_->can_hold(par->codec_id)) {
        plan.action = StreamAction::copy;
      } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
        plan.action = StreamAction::transcode_audio;
        plan.transcoder = open_aac_transcoder(is, global_header);
        log->warn("{} cannot be stored in {}: re-encoding it to AAC", what, container);
        report_.streams_changed.push_back(what + ": re-encoded to AAC (" + container + " cannot store it)");
      } else if (par->codec_type == AVMEDIA_TYPE_SUBTITLE && is_text_subtitle(par->codec_id) &&
                 text_subtitle_codec_for(out_->format()->oformat) != AV_CODEC_ID_NONE) {
        AVCodecID target = text_subtitle_codec_for(out_->format()->oformat);
        plan.action = StreamAction::transcode_subtitle;
        plan.subtitle_transcoder = open_subtitle_transcoder(is, target, global_header);
        log->warn("{} cannot be stored in {}: converting it to {}", what, container,
                  avcodec_get_name(target));
        report_.streams_changed.push_back(what + ": converted to " + avcodec_get_name(target));
      } else {
        log->warn("{} cannot be stored in {}: dropped (use .mkv to keep it)", what, container);
        report_.streams_changed.push_back(what + ": dropped (" + container + " cannot store it; use .mkv)");
        continue;
      }
      AVStream* os = out_->add_stream();
      plan.out_index = os->index;
      copy_stream_info(is, os, plan.action != StreamAction::copy);
      if (plan.action == StreamAction::copy) {
        check(avcodec_parameters_copy(os->codecpar, par), "mux", ErrorKind::processing, "stream copy");
        os->codecpar->codec_tag = 0;
        log->info("{}: copied", what);
      } else if (plan.action == StreamAction::transcode_audio) {
        check(avcodec_parameters_from_context(os->codecpar, plan.transcoder->context()), "mux",
              ErrorKind::processing, "audio stream");
        os->time_base = plan.transcoder->context()->time_base;
      } else if (plan.action == StreamAction::transcode_subtitle) {
        check(avcodec_parameters_from_context(os->codecpar, plan.subtitle_transcoder->context()),
              "mux", ErrorKind::processing, "subtitle stream");
      }
    }
  }

  // -- threads -----------------------------------------------------------------------------------
  template <class F>
  void guarded(F&& body) {
    try {
      body();
    } catch (...) {
      fail(std::current_exception());
    }
  }

  void fail(std::exception_ptr e) {
    {
      std::lock_guard lock(error_mutex_);
      if (!error_) error_ = e;
    }
    failed_ = true;  // before the aborts, so a thread woken by them sees why
    decoded_.abort();
    processed_.abort();
  }

  void check_cancel() const {
    if (cancel_ && cancel_->load()) throw Error("pipeline", ErrorKind::cancelled, "cancelled");
    if (failed_) throw Error("pipeline", ErrorKind::cancelled, "stopped by another stage");
  }

  // Trim: whether a packet of another stream (time base `tb`) overlaps the kept span; when it
  // does, its timestamps move with the video's so the streams stay in sync.
  bool keep_side_packet(AVPacket* p, AVRational tb) const {
    const EditSettings& e = job_.edits;
    if (!e.trims()) return true;
    const int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
    if (ts == AV_NOPTS_VALUE) return false;
    const double t = double(ts) * av_q2d(tb) - video_start_seconds_;
    const double d = double(std::max<int64_t>(p->duration, 0)) * av_q2d(tb);
    if (t + d <= e.start || (e.end >= 0 && t >= e.end)) return false;
    const int64_t shift = av_rescale_q(int64_t(std::llround(e.start * 1e6)), AVRational{1, 1000000}, tb);
    if (p->pts != AV_NOPTS_VALUE) p->pts -= shift;
    if (p->dts != AV_NOPTS_VALUE) p->dts -= shift;
    return true;
  }

  void decode_loop() {
    auto log = log_for("decode");
    AVPacketPtr pkt = make_av_packet();
    const EditSettings& edits = job_.edits;
    const AVRational video_tb = in_->video_stream()->time_base;
    video_start_seconds_ = double(in_->video_start_pts()) * av_q2d(video_tb);
    const int64_t trim_shift = av_rescale_q(int64_t(std::llround(edits.start * 1e6)), AVRational{1, 1000000}, video_tb);
    int64_t kept = 0;
    bool past_end = false;
    auto push_frame = [&](Frame f) {
      if (edits.trims()) {
        // A frame counts from its start; a half-frame tolerance absorbs timestamp rounding.
        const double slack = f.duration > 0 ? 0.5 * double(f.duration) * av_q2d(video_tb) : 1e-3;
        if (f.time < edits.start - slack) return;
        if (edits.end >= 0 && f.time >= edits.end - slack) {
          past_end = true;
          return;
        }
        f.av->pts -= trim_shift;
        f.time -= edits.start;
        f.index = kept;
      }
      ++kept;
      auto wait_start = Clock::now();
      if (!decoded_.push(std::move(f))) check_cancel();
      times_.decode_wait += seconds_since(wait_start);
    };
    const auto start = Clock::now();
    if (edits.start > 0) {
      // To the keyframe before the start; the frames decoded before it are dropped above.
      const int64_t target = in_->video_start_pts() + trim_shift;
      if (av_seek_frame(in_->format(), in_->video_index(), target, AVSEEK_FLAG_BACKWARD) < 0)
        log->warn("cannot seek to {:.3f} s: decoding from the start", edits.start);
    }
    int64_t video_packets = 0;
    for (;;) {
      check_cancel();
      if (!in_->read_packet(pkt.get())) break;
      StreamPlan& plan = plans_[size_t(pkt->stream_index)];
      AVRational tb = in_->format()->streams[pkt->stream_index]->time_base;
      // Past the end: stop once every stream's packets have passed it (interleaving lags a little).
      if (past_end && pkt->pts != AV_NOPTS_VALUE &&
          double(pkt->pts) * av_q2d(tb) - video_start_seconds_ > edits.end + 1.0)
        break;
      if (pkt->stream_index == in_->video_index()) ++video_packets;
      switch (plan.action) {
        case StreamAction::video:
          if (!past_end) decoder_->decode(pkt.get(), push_frame);
          break;
        case StreamAction::copy:
          if (keep_side_packet(pkt.get(), tb)) side_.push(pkt.get(), tb, plan.out_index);
          break;
        case StreamAction::transcode_audio:
          plan.transcoder->transcode(pkt.get(), [&](AVPacket* p) {
            if (keep_side_packet(p, plan.transcoder->context()->time_base))
              side_.push(p, plan.transcoder->context()->time_base, plan.out_index);
          });
          break;
        case StreamAction::transcode_subtitle:
          plan.subtitle_transcoder->transcode(pkt.get(), [&](AVPacket* p) {
            if (keep_side_packet(p, tb)) side_.push(p, tb, plan.out_index);
          });
          break;
        case StreamAction::drop:
          break;
      }
    }
    // A file cut short mid-download often reads to a clean end of file; its index knows better.
    // (A trimmed read stops early or starts late on purpose.)
    const int64_t indexed = in_->video_stream()->nb_frames;
    if (!edits.trims() && indexed > 0 && video_packets < indexed)
      throw Error("decode", ErrorKind::input,
                  "'" + job_.input + "' is truncated: its video ends after " +
                      std::to_string(video_packets) + " of " + std::to_string(indexed) + " frames");
    decoder_->decode(nullptr, push_frame);
    for (StreamPlan& plan : plans_) {
      if (plan.action != StreamAction::transcode_audio) continue;
      plan.transcoder->transcode(nullptr, [&](AVPacket* p) {
        if (keep_side_packet(p, plan.transcoder->context()->time_base))
          side_.push(p, plan.transcoder->context()->time_base, plan.out_index);
      });
    }
    times_.decode = seconds_since(start) - times_.decode_wait;
    const int64_t decoded = decoder_->frames_out();
    if (decoded == 0)
      throw Error("decode", ErrorKind::input, "no video frames could be decoded from '" + job_.input + "'");
    if (kept == 0)
      throw Error("decode", ErrorKind::usage,
                  "no frames between " + std::to_string(edits.start) + " s and the end asked for: the video is shorter");
    const AVStream* vs = in_->video_stream();
    const AVRational rate = vs->avg_frame_rate.num > 0 ? vs->avg_frame_rate : vs->r_frame_rate;
    stage_log("decode")->info("decoded {} frames ({}x{} @ {:.4g} fps)", decoded, report_.width, report_.height,
                              rate.num > 0 ? av_q2d(rate) : 0.0);
    decoded_.close();
  }

  void process_loop() {
    auto log = log_for("remove");
    if (!detection_.detector) {
      ScopedTimer t(times_.prepare);
      detection_ = choose_detector(job_.detection, job_.input, report_.width, report_.height, /*measure_later=*/true);
      report_.detector = detection_.description;
    }
    std::vector<Frame> measured_on;
    if (detection_.pending) measured_on = measure_on_first_frames();
    Detector& detector = *detection_.detector;
    SegmentAssembler assembler(segment_frames_, detector, {}, /*ramp=*/remover_->wanted_segment_frames() == 0);
    std::optional<PreviewSheet> preview;
    if (!job_.preview.empty()) preview.emplace(4, expected_frames_);
    // "segment k/n", as the old worker logged it (n from the expected frame count, when known).
    int64_t segment_index = 0;
    const std::string segments =
        expected_frames_ > 0 ? std::to_string((expected_frames_ + segment_frames_ - 1) / segment_frames_) : "?";
    auto emit = [&](std::vector<SegmentFrame> segment) {
      if (segment.empty()) return;
      for (SegmentFrame& sf : segment) {
        if (sf.marks.empty()) continue;
        ++report_.frames_with_marks;
        ScopedTimer t(times_.remove);
        frame_pool_.make_writable(sf.frame);  // removers write in place
      }
      std::vector<size_t> previewed;
      if (preview)
        for (size_t i = 0; i < segment.size(); ++i)
          if (preview->wants(segment[i])) {
            preview->capture_before(segment[i]);
            previewed.push_back(i);
          }
      {
        ScopedTimer t(times_.remove);
        remover_->remove(segment);
      }
      for (size_t i : previewed) preview->capture_after(segment[i]);
      stage_log()->debug("segment {}/{}: frames {}..{}", ++segment_index, segments, segment.front().frame.index,
                         segment.back().frame.index);
      for (SegmentFrame& sf : segment) {
        auto wait_start = Clock::now();
        if (!processed_.push(std::move(sf.frame))) check_cancel();
        times_.process_wait += seconds_since(wait_start);
      }
    };
    auto take = [&](Frame frame) {
      SegmentFrame sf{std::move(frame), {}};
      {
        ScopedTimer t(times_.detect);
        sf.marks = detector.detect(sf.frame);
        if (job_.detection.max_box_percent < 100) drop_large_marks(sf.marks);
      }
      std::vector<SegmentFrame> ready;
      {
        ScopedTimer t(times_.track);
        ready = assembler.push(std::move(sf));
      }
      emit(std::move(ready));
    };
    for (Frame& f : measured_on) take(std::move(f));
    measured_on.clear();
    measured_on.shrink_to_fit();
    while (std::optional<Frame> frame = next_decoded()) take(std::move(*frame));
    check_cancel();
    std::vector<SegmentFrame> rest;
    {
      ScopedTimer t(times_.track);
      rest = assembler.finish();
    }
    emit(std::move(rest));
    if (preview) preview->write(job_.preview);
    processed_.close();
  }

  // The next decoded frame (nullopt at the end, or when stopped), its wait counted.
  std::optional<Frame> next_decoded() {
    const auto wait_start = Clock::now();
    std::optional<Frame> frame = decoded_.pop();
    times_.process_wait += seconds_since(wait_start);
    return frame;
  }

  // Measures the chosen profile on the first frames as they are decoded (detect/refine.h) and
  // keeps them for removal, which starts once the measured profile is known: the video is decoded
  // once, not its start twice. The frames wait in memory, at most job.measure_memory's worth
  // (past that, the measuring uses the frames it has).
  std::vector<Frame> measure_on_first_frames() {
    auto log = log_for("detect");
    ProfileMeasurer& measurer = detection_.pending->measurer;
    const size_t budget = job_.measure_memory ? job_.measure_memory : measure_memory_budget();
    std::vector<Frame> kept;
    size_t bytes = 0;
    bool more = true;
    while (more && bytes < budget) {
      std::optional<Frame> frame = next_decoded();
      if (!frame) break;
      {
        ScopedTimer t(times_.measure);
        more = measurer.observe(*frame);
      }
      bytes += frame->bytes();
      kept.push_back(std::move(*frame));
    }
    check_cancel();
    if (more && bytes >= budget)
      log->info("measured on the first {} frames only: {:.0f} MB of frames waiting is the most allowed",
                kept.size(), double(budget) / (1 << 20));
    ScopedTimer t(times_.measure);
    finish_measuring(detection_, job_.input);
    report_.detector = detection_.description;
    return kept;
  }

  // Frames a remover looking across time may hold: 120 (4 s at 30 fps), fewer where they would
  // take more than the measuring may (4K: about 160 MB a second).
  int window_frames(const AVCodecParameters& par) const {
    const int frame_bytes = av_image_get_buffer_size(AVPixelFormat(par.format), par.width, par.height, 1);
    if (frame_bytes <= 0) return 0;
    const size_t budget = job_.measure_memory ? job_.measure_memory : measure_memory_budget();
    return int(std::clamp<size_t>(budget / size_t(frame_bytes), 24, 120));
  }

  // Frames held while measuring: at most a quarter of the memory, and never over 2 GiB (450
  // frames of 1080x1920 8-bit 4:2:0 hold 1.4 GB).
  static size_t measure_memory_budget() {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const size_t physical = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t(8) << 30;
    return std::min(size_t(2) << 30, physical / 4);
  }

  // The old worker's max_bbox_percent: a "mark" covering much of the frame is a false find.
  void drop_large_marks(std::vector<Mark>& marks) const {
    const double frame_area = double(report_.width) * report_.height;
    std::erase_if(marks, [&](const Mark& m) {
      return double(m.box.w) * m.box.h > frame_area * job_.detection.max_box_percent / 100.0;
    });
  }

  void encode_loop() {
    auto last_progress = Clock::now() - std::chrono::seconds(1);
    const auto start = Clock::now();
    for (;;) {
      auto wait_start = Clock::now();
      std::optional<Frame> frame = processed_.pop();
      times_.encode_wait += seconds_since(wait_start);
      if (!frame) break;
      if (scaler_) {
        ScopedTimer t(times_.encode);
        *frame = scaler_->scale(*frame);
      }
      if (!encoder_) open_encoder(*frame);
      if (rate_) {
        // The held frame goes out as often as the new one's start says; then this one is held.
        send_held(rate_->push(frame->time));
        held_ = std::move(*frame);
      } else {
        send(*frame);
      }
      write_side_packets();
      if (progress_ && seconds_since(last_progress) >= 0.1) {
        last_progress = Clock::now();
        report_progress(start);
      }
    }
    check_cancel();
    if (!encoder_) return;  // decode reported why there were no frames
    if (rate_ && held_.av) {
      const double frame_length = held_.duration > 0 ? double(held_.duration) * av_q2d(in_->video_stream()->time_base)
                                                     : 1.0 / job_.edits.fps;
      send_held(rate_->finish(held_.time + frame_length));
    }
    {
      ScopedTimer t(times_.encode);
      encoder_->encode(nullptr, [&](AVPacket* p) { write_video_packet(p); });
    }
    write_side_packets();
    {
      ScopedTimer t(times_.mux);
      out_->finish();
    }
    if (progress_) report_progress(start);
    log_for("encode")->info("encoded {} frames with {}", report_.frames, report_.encoder);
  }

  void send(const Frame& frame) {
    ScopedTimer t(times_.encode);
    encoder_->encode(&frame, [&](AVPacket* p) { write_video_packet(p); });
    ++report_.frames;
  }

  // Sends the held frame `copies` times, in the next slots of the constant rate.
  void send_held(int64_t copies) {
    for (int64_t i = 0; i < copies; ++i) {
      held_.av->pts = rate_->next_slot();
      held_.duration = 1;
      rate_->advance(1);
      send(held_);
    }
  }

  void open_encoder(const Frame& first) {
    const AVStream* is = in_->video_stream();
    const AVFrame* f = first.av.get();
    VideoFormat fmt;
    fmt.width = f->width;
    fmt.height = f->height;
    fmt.pix_fmt = f->format;
    fmt.time_base = is->time_base;
    fmt.frame_rate = is->avg_frame_rate.num > 0 ? is->avg_frame_rate : is->r_frame_rate;
    if (rate_) {
      fmt.frame_rate = av_d2q(job_.edits.fps, 1001000);
      fmt.time_base = av_inv_q(fmt.frame_rate);
    }
    fmt.sample_aspect_ratio = f->sample_aspect_ratio.num > 0 ? f->sample_aspect_ratio
                                                             : is->codecpar->sample_aspect_ratio;
    fmt.primaries = checked_primaries(f->color_primaries);
    fmt.transfer = checked_transfer(f->color_trc);
    fmt.matrix = checked_space(f->colorspace);
    fmt.range = checked_range(f->color_range);
    fmt.chroma_location = checked_chroma_location(f->chroma_location);
    fmt.global_header = out_->format()->oformat->flags & AVFMT_GLOBALHEADER;
    encoder_ = open_video_encoder(job_.encoder, fmt);
    report_.encoder = encoder_->name();
    if (!encoder_->passed_over.empty()) require_gpu("encode", encoder_->passed_over);
    if (!encoder_->passed_over.empty())
      report_.fallbacks.push_back("encode: " + encoder_->passed_over + " -> " + encoder_->name());

    AVStream* os = out_->format()->streams[plans_[size_t(in_->video_index())].out_index];
    check(avcodec_parameters_from_context(os->codecpar, encoder_->context()), "mux",
          ErrorKind::processing, "video stream parameters");
    os->time_base = encoder_->context()->time_base;
    ScopedTimer t(times_.mux);
    out_->write_header();
  }

  void write_video_packet(AVPacket* p) {
    ScopedTimer t(times_.mux);
    AVStream* os = out_->format()->streams[plans_[size_t(in_->video_index())].out_index];
    av_packet_rescale_ts(p, encoder_->context()->time_base, os->time_base);
    p->stream_index = os->index;
    out_->write_packet(p);
  }

  void write_side_packets() {
    ScopedTimer t(times_.mux);
    for (AVPacketPtr& p : side_.take_all()) {
      AVStream* os = out_->format()->streams[p->stream_index];
      av_packet_rescale_ts(p.get(), p->time_base, os->time_base);
      p->pos = -1;
      out_->write_packet(p.get());
    }
  }

  void report_progress(Clock::time_point start) {
    Progress pr;
    pr.frames_done = report_.frames;
    pr.frames_total = std::max(expected_frames_, report_.frames);
    double elapsed = seconds_since(start);
    pr.fps = elapsed > 0 ? double(report_.frames) / elapsed : 0;
    if (pr.fps > 0 && expected_frames_ > 0)
      pr.eta_seconds = double(std::max<int64_t>(0, expected_frames_ - report_.frames)) / pr.fps;
    progress_(pr);
  }

  const RemoveJob& job_;
  ProgressFn progress_;
  const std::atomic<bool>* cancel_;

  std::unique_ptr<InputFile> in_;
  std::unique_ptr<OutputFile> out_;
  std::unique_ptr<VideoDecoder> decoder_;
  DetectionChoice detection_;
  std::unique_ptr<Remover> remover_;
  int segment_frames_ = 8;  // job's, or longer where the remover wants it
  std::unique_ptr<VideoEncoder> encoder_;  // opened on the first frame, when its format is known
  std::unique_ptr<FrameScaler> scaler_;      // --scale
  std::unique_ptr<FrameRateConverter> rate_; // --fps
  Frame held_;                               // --fps: the frame whose repeats the next one decides
  double video_start_seconds_ = 0;
  std::vector<StreamPlan> plans_;
  int64_t expected_frames_ = 0;

  FramePool frame_pool_;  // before the queues: frames in them hold its buffers
  BoundedQueue<Frame> decoded_, processed_;
  SidePackets side_;

  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};

  RunReport report_;
  StageTimes& times_ = report_.stages;
};

}  // namespace

nlohmann::json to_json(const RunReport& r) {
  const StageTimes& s = r.stages;
  return {{"path", r.path},
          {"frames", r.frames},
          {"frames_with_marks", r.frames_with_marks},
          {"seconds", r.seconds},
          {"fps", r.fps},
          {"width", r.width},
          {"height", r.height},
          {"decoder", r.decoder},
          {"encoder", r.encoder},
          {"remover", r.remover},
          {"detector", r.detector},
          {"fallbacks", r.fallbacks},
          {"streams_changed", r.streams_changed},
          {"stages",
           {{"prepare", s.prepare}, {"measure", s.measure}, {"decode", s.decode}, {"detect", s.detect}, {"track", s.track}, {"remove", s.remove}, {"encode", s.encode},
            {"mux", s.mux}, {"decode_wait", s.decode_wait}, {"process_wait", s.process_wait},
            {"encode_wait", s.encode_wait}}}};
}

RunReport run_remove(const RemoveJob& job, const ProgressFn& progress,
                     const std::atomic<bool>* cancel) {
  return RemovePipeline(job, progress, cancel).run();
}

}  // namespace unmark
