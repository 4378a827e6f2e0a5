#include "bench_media.h"

extern "C" {
#include <libswscale/swscale.h>
}

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "detect/plane_copy.h"
#include "io/frame_reader.h"
#include "core/av_ptr.h"

namespace unmark::bench {

std::vector<cv::Mat> read_bgr(const std::string& path, int max_frames, double* fps) {
  std::vector<cv::Mat> frames;
  SwsContextPtr sws;  // one for the whole video
  VideoInfo info = read_frames(path, [&](Frame& f) {
    const AVFrame* av = f.av.get();
    sws.reset(sws_getCachedContext(sws.release(), av->width, av->height, AVPixelFormat(av->format), av->width,
                                   av->height, AV_PIX_FMT_BGR24, SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr,
                                   nullptr));
    if (!sws) throw std::runtime_error("sws_getCachedContext failed");
    cv::Mat bgr(av->height, av->width, CV_8UC3);
    uint8_t* dst[1] = {bgr.data};
    int dst_stride[1] = {int(bgr.step)};
    sws_scale(sws.get(), av->data, av->linesize, 0, av->height, dst, dst_stride);
    frames.push_back(bgr);
    return max_frames <= 0 || int(frames.size()) < max_frames;
  });
  if (fps) *fps = info.fps;
  return frames;
}

std::vector<cv::Mat> read_luma(const std::string& path) {
  std::vector<cv::Mat> frames;
  read_frames(path, [&](Frame& f) {
    frames.push_back(plane_8bit(f.plane(0), {0, 0, f.width(), f.height()}).clone());
    return true;
  });
  return frames;
}

void encode_bgr(const std::vector<cv::Mat>& frames, double fps, const std::string& path, int crf,
                const std::string& audio_from) {
  if (frames.empty()) throw std::runtime_error("no frames to encode for " + path);
  const cv::Mat& f0 = frames.front();
  std::string cmd = "ffmpeg -v error -y -f rawvideo -pix_fmt bgr24 -s " + std::to_string(f0.cols) + "x" +
                    std::to_string(f0.rows) + " -framerate " + std::to_string(fps) + " -i -";
  if (!audio_from.empty()) cmd += " -i " + shell_quote(audio_from) + " -map 0:v -map 1:a? -c:a copy -shortest";
  cmd += " -c:v libx264 -preset medium -crf " + std::to_string(crf) + " -pix_fmt yuv420p " + shell_quote(path);
  FILE* pipe = popen(cmd.c_str(), "w");
  if (!pipe) throw std::runtime_error("cannot run ffmpeg");
  for (const cv::Mat& f : frames) fwrite(f.data, 1, f.total() * f.elemSize(), pipe);
  if (pclose(pipe) != 0) throw std::runtime_error("ffmpeg failed: " + cmd);
}

std::string option_value(int argc, char** argv, int& i) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "%s needs a value\n", argv[i]);
    std::exit(2);
  }
  return argv[++i];
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::optional<std::string> run_capture(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) return std::nullopt;
  return out;
}

void run_or_throw(const std::string& command) {
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

double psnr_from_mse(double mse) { return mse <= 1e-10 ? 99.0 : 10 * std::log10(255.0 * 255.0 / mse); }

double mse(const cv::Mat& a, const cv::Mat& b) { return cv::norm(a, b, cv::NORM_L2SQR) / double(a.total() * a.channels()); }

double psnr_masked(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask) {
  if (mask.empty()) return psnr_from_mse(mse(a, b));
  const double kept = double(cv::countNonZero(mask)) * a.channels();
  if (kept <= 0) return NAN;
  return psnr_from_mse(cv::norm(a, b, cv::NORM_L2SQR, mask) / kept);
}

cv::Rect grown(const cv::Rect& box, int by, cv::Size frame) {
  return cv::Rect(box.x - by, box.y - by, box.width + 2 * by, box.height + 2 * by) & cv::Rect({0, 0}, frame);
}

}  // namespace unmark::bench
