#include "pipeline/pipeline.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "core/bounded_queue.h"
#include "core/error.h"
#include "core/frame_pool.h"
#include "core/log.h"
#include "detect/detector.h"
#include "track/tracker.h"
#include "io/audio_transcoder.h"
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

    std::thread decode_thread([&] { guarded([&] { decode_loop(); }); });
    std::thread process_thread([&] { guarded([&] { process_loop(); }); });
    std::thread encode_thread([&] { guarded([&] { encode_loop(); }); });
    decode_thread.join();
    process_thread.join();
    encode_thread.join();
    if (error_) std::rethrow_exception(error_);

    report_.seconds = seconds_since(start);
    report_.fps = report_.seconds > 0 ? double(report_.frames) / report_.seconds : 0;
    log->info("completed {} frames in {:.2f} s ({:.1f} fps), mark found in {}", report_.frames,
              report_.seconds, report_.fps, report_.frames_with_marks);
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
    if (job_.encoder.name != "auto") {
      for (const EncoderInfo& e : list_video_encoders())
        if (e.name == job_.encoder.name && !e.available)
          throw Error("encode", ErrorKind::unsupported, e.name + " is not available: " + e.reason);
    }
    // Choosing by looking at the video (auto, static) reads its first frames: that runs on the
    // process thread while the decoder starts, so the look costs no time of its own.
    bool automatic = true;
    if (needs_input_sample(job_.detection)) {
      report_.detector = "auto (chosen from the first frames)";
    } else {
      DetectionChoice detection = choose_detector(job_.detection, job_.input, par->width, par->height);
      detector_ = std::move(detection.detector);
      report_.detector = detection.description;
      automatic = detection.automatic;
    }
    RemoverOptions remover_options = job_.remover_options;
    // A found mark's box is tight around what matched: give the remover a little slack for the
    // mark's anti-aliased edge and compression ringing. A user's region is taken as given.
    if (automatic && remover_options.margin < 0) remover_options.margin = 3;
    remover_ = make_remover(job_.remover, remover_options);
    report_.remover = remover_->name();
    expected_frames_ = in_->expected_frame_count();
    out_ = OutputFile::create(job_.output);
    plan_streams();
    decoder_ = open_cpu_video_decoder(in_->video_stream(), in_->video_start_pts(), job_.decode_threads);
    report_.decoder = decoder_->description();
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
      } else if (par->codec_type == AVMEDIA_TYPE_VIDEO && !(is->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        log->warn("{}: only the main video stream is kept; dropped", what);
        continue;
      } else if (out_->can_hold(par->codec_id)) {
        plan.action = StreamAction::copy;
      } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
        plan.action = StreamAction::transcode_audio;
        plan.transcoder = open_aac_transcoder(is, global_header);
        log->warn("{} cannot be stored in {}: re-encoding it to AAC", what, container);
      } else if (par->codec_type == AVMEDIA_TYPE_SUBTITLE && is_text_subtitle(par->codec_id) &&
                 text_subtitle_codec_for(out_->format()->oformat) != AV_CODEC_ID_NONE) {
        AVCodecID target = text_subtitle_codec_for(out_->format()->oformat);
        plan.action = StreamAction::transcode_subtitle;
        plan.subtitle_transcoder = open_subtitle_transcoder(is, target, global_header);
        log->warn("{} cannot be stored in {}: converting it to {}", what, container,
                  avcodec_get_name(target));
      } else {
        log->warn("{} cannot be stored in {}: dropped (use .mkv to keep it)", what, container);
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

  void decode_loop() {
    auto log = log_for("decode");
    AVPacketPtr pkt = make_av_packet();
    auto push_frame = [&](Frame f) {
      auto wait_start = Clock::now();
      if (!decoded_.push(std::move(f))) check_cancel();
      times_.decode_wait += seconds_since(wait_start);
    };
    const auto start = Clock::now();
    int64_t video_packets = 0;
    for (;;) {
      check_cancel();
      if (!in_->read_packet(pkt.get())) break;
      if (pkt->stream_index == in_->video_index()) ++video_packets;
      StreamPlan& plan = plans_[size_t(pkt->stream_index)];
      AVRational tb = in_->format()->streams[pkt->stream_index]->time_base;
      switch (plan.action) {
        case StreamAction::video:
          decoder_->decode(pkt.get(), push_frame);
          break;
        case StreamAction::copy:
          side_.push(pkt.get(), tb, plan.out_index);
          break;
        case StreamAction::transcode_audio:
          plan.transcoder->transcode(pkt.get(), [&](AVPacket* p) {
            side_.push(p, plan.transcoder->context()->time_base, plan.out_index);
          });
          break;
        case StreamAction::transcode_subtitle:
          plan.subtitle_transcoder->transcode(pkt.get(), [&](AVPacket* p) {
            side_.push(p, tb, plan.out_index);
          });
          break;
        case StreamAction::drop:
          break;
      }
    }
    // A file cut short mid-download often reads to a clean end of file; its index knows better.
    const int64_t indexed = in_->video_stream()->nb_frames;
    if (indexed > 0 && video_packets < indexed)
      throw Error("decode", ErrorKind::input,
                  "'" + job_.input + "' is truncated: its video ends after " +
                      std::to_string(video_packets) + " of " + std::to_string(indexed) + " frames");
    decoder_->decode(nullptr, push_frame);
    for (StreamPlan& plan : plans_) {
      if (plan.action != StreamAction::transcode_audio) continue;
      plan.transcoder->transcode(nullptr, [&](AVPacket* p) {
        side_.push(p, plan.transcoder->context()->time_base, plan.out_index);
      });
    }
    times_.decode = seconds_since(start) - times_.decode_wait;
    const int64_t decoded = decoder_->frames_out();
    if (decoded == 0)
      throw Error("decode", ErrorKind::input, "no video frames could be decoded from '" + job_.input + "'");
    log->info("decoded {} frames ({}x{})", decoded, report_.width, report_.height);
    decoded_.close();
  }

  void process_loop() {
    auto log = log_for("remove");
    if (!detector_) {
      ScopedTimer t(times_.prepare);
      DetectionChoice detection =
          choose_detector(job_.detection, job_.input, report_.width, report_.height);
      detector_ = std::move(detection.detector);
      report_.detector = detection.description;
    }
    SegmentAssembler assembler(job_.segment_frames, *detector_);
    std::optional<PreviewSheet> preview;
    if (!job_.preview.empty()) preview.emplace(4, expected_frames_);
    int64_t segment_index = 0;
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
      log->debug("segment {}: frames {}..{}", segment_index++, segment.front().frame.index,
                 segment.back().frame.index);
      for (SegmentFrame& sf : segment) {
        auto wait_start = Clock::now();
        if (!processed_.push(std::move(sf.frame))) check_cancel();
        times_.process_wait += seconds_since(wait_start);
      }
    };
    for (;;) {
      auto wait_start = Clock::now();
      std::optional<Frame> frame = decoded_.pop();
      times_.process_wait += seconds_since(wait_start);
      if (!frame) break;
      SegmentFrame sf{std::move(*frame), {}};
      {
        ScopedTimer t(times_.detect);
        sf.marks = detector_->detect(sf.frame);
        if (job_.detection.max_box_percent < 100) drop_large_marks(sf.marks);
      }
      std::vector<SegmentFrame> ready;
      {
        ScopedTimer t(times_.track);
        ready = assembler.push(std::move(sf));
      }
      emit(std::move(ready));
    }
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
      if (!encoder_) open_encoder(*frame);
      {
        ScopedTimer t(times_.encode);
        encoder_->encode(&*frame, [&](AVPacket* p) { write_video_packet(p); });
      }
      ++report_.frames;
      write_side_packets();
      if (progress_ && seconds_since(last_progress) >= 0.1) {
        last_progress = Clock::now();
        report_progress(start);
      }
    }
    check_cancel();
    if (!encoder_) return;  // decode reported why there were no frames
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

  void open_encoder(const Frame& first) {
    const AVStream* is = in_->video_stream();
    const AVFrame* f = first.av.get();
    VideoFormat fmt;
    fmt.width = f->width;
    fmt.height = f->height;
    fmt.pix_fmt = f->format;
    fmt.time_base = is->time_base;
    fmt.frame_rate = is->avg_frame_rate.num > 0 ? is->avg_frame_rate : is->r_frame_rate;
    fmt.sample_aspect_ratio = f->sample_aspect_ratio.num > 0 ? f->sample_aspect_ratio
                                                             : is->codecpar->sample_aspect_ratio;
    fmt.primaries = f->color_primaries;
    fmt.transfer = f->color_trc;
    fmt.matrix = f->colorspace;
    fmt.range = f->color_range;
    fmt.chroma_location = f->chroma_location;
    fmt.global_header = out_->format()->oformat->flags & AVFMT_GLOBALHEADER;
    encoder_ = open_video_encoder(job_.encoder, fmt);
    report_.encoder = encoder_->name();

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
  std::unique_ptr<Detector> detector_;
  std::unique_ptr<Remover> remover_;
  std::unique_ptr<VideoEncoder> encoder_;  // opened on the first frame, when its format is known
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
          {"stages",
           {{"prepare", s.prepare}, {"decode", s.decode}, {"detect", s.detect}, {"track", s.track}, {"remove", s.remove}, {"encode", s.encode},
            {"mux", s.mux}, {"decode_wait", s.decode_wait}, {"process_wait", s.process_wait},
            {"encode_wait", s.encode_wait}}}};
}

RunReport run_remove(const RemoveJob& job, const ProgressFn& progress,
                     const std::atomic<bool>* cancel) {
  return RemovePipeline(job, progress, cancel).run();
}

}  // namespace unmark
