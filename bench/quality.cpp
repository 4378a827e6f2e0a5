// Removal quality against ground truth, per ../shared/docs/QUALITY.md.
//
//   build/bench/unmark_quality [--frames N] [--case NAME] [--unmark PATH] [--shared DIR] [--out DIR]
//
// Each case composites a mark of known RGBA (designed here) over the clean shared clip, encodes it
// near-losslessly (libx264 crf 12, the clip's audio copied) and then scores, against the clean
// frames, unmark in full auto mode (not told where the mark is: it must find it) beside ffmpeg's
// delogo over the true box and OpenCV's Telea over the true mask (both told where it is).
// Figures per method, over the frames that carry the mark:
//   wm_psnr   PSNR (RGB) inside the mark's box grown by 6 px: mean over frames, and 10th percentile
//   wm_ssim   SSIM of luma inside the same box (mean)
//   keep_psnr PSNR (RGB) against the input outside every box (only the re-encode may change it)
//   flicker   frame-to-frame change inside the box, over that of the clean clip (1 = as steady)
//   frames    frames decoded from the output (must equal the input's)
// Needs ffmpeg on PATH (composite encode and delogo).
#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/video_encoder.h"
#include "support/bench_media.h"

namespace fs = std::filesystem;
using namespace unmark;
using namespace unmark::bench;

namespace {

constexpr int kGrow = 6;  // QUALITY.md: the box grown by 6 px

// A mark of known appearance: colour (BGR, 0..255 float) and alpha (0..1), shown at `places`
// (top-left corners at the clip's size) in turn, `period` frames each, absent for `gap` frames at
// the start and at every jump.
struct MarkDesign {
  std::string name, description;
  cv::Mat color, alpha;  // CV_32FC3, CV_32F
  std::vector<cv::Point> places;
  int period = 1 << 30, gap = 0;

  std::optional<cv::Rect> box_at(int frame) const {
    if (frame < gap) return std::nullopt;
    int k = (frame - gap) / (period + gap), in = (frame - gap) % (period + gap);
    if (in >= period) return std::nullopt;
    cv::Point p = places[size_t(k) % places.size()];
    return cv::Rect(p.x, p.y, alpha.cols, alpha.rows);
  }
};

// Text drawn as alpha (anti-aliased), `opacity` at full coverage.
void draw_text(cv::Mat& alpha, const std::string& text, cv::Point at, double scale, int thickness,
               float opacity, int font = cv::FONT_HERSHEY_DUPLEX) {
  cv::Mat cover = cv::Mat::zeros(alpha.size(), CV_8U);
  cv::putText(cover, text, at, font, scale, cv::Scalar(255), thickness, cv::LINE_AA);
  cv::Mat a;
  cover.convertTo(a, CV_32F, opacity / 255.0);
  alpha = cv::max(alpha, a);
}

// Shapes drawn at 4x and averaged down, for anti-aliased edges.
cv::Mat smooth_shape(cv::Size size, const std::function<void(cv::Mat&)>& draw) {
  cv::Mat big = cv::Mat::zeros(size * 4, CV_8U), small;
  draw(big);
  cv::resize(big, small, size, 0, 0, cv::INTER_AREA);
  small.convertTo(small, CV_32F, 1 / 255.0);
  return small;
}

std::vector<MarkDesign> designs(int width) {
  const double s = width / 704.0;  // places and sizes are designed at 704x1280
  auto at = [&](int x, int y) { return cv::Point(int(x * s), int(y * s)); };
  std::vector<MarkDesign> out;
  {
    // Like Sora's: a logo (a disc with two see-through eyes) beside a word, jumping between places
    // over the face, the printed text and the hair; but translucent all through.
    MarkDesign m;
    m.name = "translucent";
    m.description = "translucent logo (alpha 0.6) + word (0.45), white, jumping over face, text, hair";
    cv::Size size(int(150 * s), int(46 * s));
    m.alpha = smooth_shape(size, [&](cv::Mat& big) {
      const int r = int(19 * s * 4);
      cv::Point c(int(23 * s * 4), big.rows / 2);
      cv::circle(big, c, r, cv::Scalar(153), cv::FILLED);  // 0.6
      cv::circle(big, c + cv::Point(-r / 3, -r / 4), r / 5, cv::Scalar(0), cv::FILLED);
      cv::circle(big, c + cv::Point(r / 3, -r / 4), r / 5, cv::Scalar(0), cv::FILLED);
    });
    draw_text(m.alpha, "Mark", {int(48 * s), int(33 * s)}, 0.95 * s, std::max(1, int(2 * s)), 0.45f);
    m.color = cv::Mat(size, CV_32FC3, cv::Scalar(250, 250, 250));
    m.places = {at(262, 430), at(236, 812), at(300, 196)};
    m.period = 70;
    m.gap = 2;
    out.push_back(m);
  }
  {
    MarkDesign m;
    m.name = "faint";
    m.description = "faint static handle (alpha 0.3), white text low over the shirt, hands and card";
    cv::Size size(int(196 * s), int(30 * s));
    m.alpha = cv::Mat::zeros(size, CV_32F);
    draw_text(m.alpha, "@unmark.demo", {int(3 * s), int(22 * s)}, 0.8 * s, std::max(1, int(2 * s)), 0.3f,
              cv::FONT_HERSHEY_SIMPLEX);
    m.color = cv::Mat(size, CV_32FC3, cv::Scalar(255, 255, 255));
    m.places = {at(250, 1150)};
    out.push_back(m);
  }
  {
    MarkDesign m;
    m.name = "opaque";
    m.description = "nearly opaque badge (alpha 0.92), orange with white text, static over the hair";
    cv::Size size(int(112 * s), int(42 * s));
    m.alpha = smooth_shape(size, [&](cv::Mat& big) {
      cv::Rect r(8, 8, big.cols - 16, big.rows - 16);
      int rad = big.rows / 4;
      cv::rectangle(big, cv::Rect(r.x + rad, r.y, r.width - 2 * rad, r.height), cv::Scalar(235), cv::FILLED);
      cv::rectangle(big, cv::Rect(r.x, r.y + rad, r.width, r.height - 2 * rad), cv::Scalar(235), cv::FILLED);
      for (cv::Point c : {cv::Point(r.x + rad, r.y + rad), cv::Point(r.br().x - rad, r.y + rad),
                          cv::Point(r.x + rad, r.br().y - rad), cv::Point(r.br().x - rad, r.br().y - rad)})
        cv::circle(big, c, rad, cv::Scalar(235), cv::FILLED);
    });
    // Orange body, white letters (the letters are as opaque as the body).
    cv::Mat letters = cv::Mat::zeros(size, CV_32F);
    draw_text(letters, "LIVE", {int(20 * s), int(30 * s)}, 0.9 * s, std::max(1, int(2 * s)), 1.0f);
    m.color = cv::Mat(size, CV_32FC3);
    for (int y = 0; y < size.height; ++y)
      for (int x = 0; x < size.width; ++x) {
        float t = letters.at<float>(y, x);
        m.color.at<cv::Vec3f>(y, x) = cv::Vec3f(30, 140, 245) * (1 - t) + cv::Vec3f(255, 255, 255) * t;
      }
    m.places = {at(296, 214)};
    out.push_back(m);
  }
  return out;
}

double ssim_luma(const cv::Mat& a_bgr, const cv::Mat& b_bgr) {
  cv::Mat a, b;
  cv::cvtColor(a_bgr, a, cv::COLOR_BGR2GRAY);
  cv::cvtColor(b_bgr, b, cv::COLOR_BGR2GRAY);
  a.convertTo(a, CV_32F);
  b.convertTo(b, CV_32F);
  const double c1 = 6.5025, c2 = 58.5225;
  cv::Mat mu_a, mu_b, s_aa, s_bb, s_ab;
  cv::GaussianBlur(a, mu_a, {11, 11}, 1.5);
  cv::GaussianBlur(b, mu_b, {11, 11}, 1.5);
  cv::GaussianBlur(a.mul(a), s_aa, {11, 11}, 1.5);
  cv::GaussianBlur(b.mul(b), s_bb, {11, 11}, 1.5);
  cv::GaussianBlur(a.mul(b), s_ab, {11, 11}, 1.5);
  s_aa -= mu_a.mul(mu_a);
  s_bb -= mu_b.mul(mu_b);
  s_ab -= mu_a.mul(mu_b);
  cv::Mat num = (2 * mu_a.mul(mu_b) + c1).mul(2 * s_ab + c2);
  cv::Mat den = (mu_a.mul(mu_a) + mu_b.mul(mu_b) + c1).mul(s_aa + s_bb + c2);
  cv::Mat map;
  cv::divide(num, den, map);
  return cv::mean(map)[0];
}

struct Score {
  double wm_psnr = 0, wm_p10 = 0, wm_ssim = 0, keep_psnr = 0, flicker = 0;
  int frames = 0;
  struct Place { cv::Point at; double psnr_sum = 0; int frames = 0; };
  std::vector<Place> places;  // wm_psnr per place the mark takes (a moving mark's weak spot)
};

Score score(const std::vector<cv::Mat>& out, const std::vector<cv::Mat>& input,
            const std::vector<cv::Mat>& clean, const MarkDesign& mark) {
  Score s;
  s.frames = int(out.size());
  const int n = int(std::min({out.size(), input.size(), clean.size()}));
  const cv::Rect frame_rect(0, 0, clean[0].cols, clean[0].rows);
  std::vector<double> psnrs;
  double ssim_sum = 0, keep_se = 0, keep_count = 0, flicker_out = 0, flicker_clean = 0;
  cv::Mat keep_mask(clean[0].size(), CV_8U, cv::Scalar(255));
  auto scored_box = [&](const cv::Rect& b) {
    return cv::Rect(b.x - kGrow, b.y - kGrow, b.width + 2 * kGrow, b.height + 2 * kGrow) & frame_rect;
  };
  for (int i = 0; i < n; ++i)  // every place the mark ever takes is excluded from keep
    if (auto b = mark.box_at(i)) keep_mask(scored_box(*b)) = 0;
  const double keep_samples = 3.0 * cv::countNonZero(keep_mask);
  for (int i = 0; i < n; ++i) {
    keep_se += cv::norm(out[i], input[i], cv::NORM_L2SQR, keep_mask);
    keep_count += keep_samples;
    auto b = mark.box_at(i);
    if (!b) continue;
    const cv::Rect r = scored_box(*b);
    psnrs.push_back(psnr_from_mse(mse(out[i](r), clean[i](r))));
    auto place = std::find_if(s.places.begin(), s.places.end(), [&](const Score::Place& p) { return p.at == b->tl(); });
    if (place == s.places.end()) place = s.places.insert(s.places.end(), Score::Place{b->tl()});
    place->psnr_sum += psnrs.back();
    ++place->frames;
    ssim_sum += ssim_luma(out[i](r), clean[i](r));
    if (i > 0 && mark.box_at(i - 1) == b) {
      flicker_out += cv::norm(out[i](r), out[i - 1](r), cv::NORM_L1);
      flicker_clean += cv::norm(clean[i](r), clean[i - 1](r), cv::NORM_L1);
    }
  }
  if (psnrs.empty()) return s;
  double sum = 0;
  for (double p : psnrs) sum += p;
  s.wm_psnr = sum / double(psnrs.size());
  std::vector<double> sorted = psnrs;
  std::sort(sorted.begin(), sorted.end());
  s.wm_p10 = sorted[size_t(0.1 * double(sorted.size() - 1))];
  s.wm_ssim = ssim_sum / double(psnrs.size());
  s.keep_psnr = psnr_from_mse(keep_se / std::max(1.0, keep_count));
  s.flicker = flicker_clean > 0 ? flicker_out / flicker_clean : 0;
  return s;
}

// --- baselines ------------------------------------------------------------------------------------

std::vector<cv::Mat> telea(const std::vector<cv::Mat>& input, const MarkDesign& mark) {
  cv::Mat footprint = mark.alpha > 0.01f;
  cv::dilate(footprint, footprint, cv::getStructuringElement(cv::MORPH_ELLIPSE, {5, 5}));
  std::vector<cv::Mat> out;
  for (size_t i = 0; i < input.size(); ++i) {
    auto b = mark.box_at(int(i));
    if (!b) {
      out.push_back(input[i]);
      continue;
    }
    cv::Mat mask = cv::Mat::zeros(input[i].size(), CV_8U);
    footprint.copyTo(mask(*b));
    cv::Mat painted;
    cv::inpaint(input[i], mask, painted, 3, cv::INPAINT_TELEA);
    out.push_back(painted);
  }
  return out;
}

// delogo over the true box at each place, on the frames where the mark is there.
std::string delogo_filter(const MarkDesign& mark, int frames, int width, int height) {
  std::string chain;
  int start = -1;
  std::optional<cv::Rect> current;
  auto flush = [&](int end) {
    if (!current) return;
    cv::Rect r = *current & cv::Rect(1, 1, width - 2, height - 2);
    if (!chain.empty()) chain += ",";
    chain += "delogo=x=" + std::to_string(r.x) + ":y=" + std::to_string(r.y) + ":w=" + std::to_string(r.width) +
             ":h=" + std::to_string(r.height) + ":enable='between(n," + std::to_string(start) + "," +
             std::to_string(end) + ")'";
  };
  for (int i = 0; i <= frames; ++i) {
    auto b = i < frames ? mark.box_at(i) : std::nullopt;
    if (b != current) {
      flush(i - 1);
      current = b;
      start = i;
    }
  }
  return chain;
}

void print_row(const std::string& method, const Score& s, int expected_frames) {
  std::printf("  %-22s %7.2f %7.2f %8.4f %9.2f %8.2f  %d%s\n", method.c_str(), s.wm_psnr, s.wm_p10, s.wm_ssim,
              s.keep_psnr, s.flicker, s.frames, s.frames == expected_frames ? "" : " (WRONG)");
  if (s.places.size() < 2) return;
  std::printf("  %-22s", "  by place (x,y: dB)");
  for (const Score::Place& p : s.places)
    std::printf("  %d,%d: %.2f", p.at.x, p.at.y, p.psnr_sum / std::max(1, p.frames));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string shared = UNMARK_SHARED_DIR, unmark = UNMARK_BINARY, out_dir = "bench/out/quality", only;
  std::string extra;  // more unmark arguments (e.g. "--remove inpaint")
  int max_frames = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--frames") max_frames = std::stoi(next());
    else if (a == "--case") only = next();
    else if (a == "--unmark") unmark = next();
    else if (a == "--shared") shared = next();
    else if (a == "--out") out_dir = next();
    else if (a == "--unmark-args") extra = next();
    else {
      std::cerr << "usage: unmark_quality [--frames N] [--case translucent|faint|opaque] [--unmark PATH] "
                   "[--unmark-args ARGS] [--shared DIR] [--out DIR]\n";
      return 2;
    }
  }
  const std::string clean_path = shared + "/media/clean_portrait_704x1280.mp4";
  if (!fs::exists(clean_path)) {
    std::cerr << "missing " << clean_path << " (the shared media)\n";
    return 2;
  }
  try {
    fs::create_directories(out_dir);
    double fps = 30;
    std::vector<cv::Mat> clean = read_bgr(clean_path, max_frames, &fps);
    const int n = int(clean.size());
    std::printf("clean clip: %s, %d frames, %dx%d; marks composited in RGB, encoded libx264 crf 12\n",
                clean_path.c_str(), n, clean[0].cols, clean[0].rows);
    std::printf("unmark: %s remove IN -o OUT %s (full auto: not told where the mark is; default crf %d)\n",
                unmark.c_str(), extra.c_str(), EncoderSettings::kDefaultCrf);
    std::printf("delogo and telea are TOLD the true box / mask; telea's frames are scored unencoded\n");
    for (const MarkDesign& mark : designs(clean[0].cols)) {
      if (!only.empty() && only != mark.name) continue;
      // The case: the mark composited over the clean frames.
      std::vector<cv::Mat> composite;
      for (int i = 0; i < n; ++i) {
        cv::Mat f = clean[size_t(i)].clone();
        if (auto b = mark.box_at(i)) {
          cv::Mat roi = f(*b), bg;
          roi.convertTo(bg, CV_32FC3);
          cv::Mat a3;
          cv::merge(std::vector<cv::Mat>{mark.alpha, mark.alpha, mark.alpha}, a3);
          cv::Mat blended = mark.color.mul(a3) + bg.mul(cv::Scalar(1, 1, 1) - a3);
          blended.convertTo(roi, CV_8UC3);
        }
        composite.push_back(f);
      }
      const std::string case_path = out_dir + "/" + mark.name + ".mp4";
      encode_bgr(composite, fps, case_path, 12, clean_path);
      composite.clear();
      std::vector<cv::Mat> input = read_bgr(case_path, 0);

      std::printf("\ncase %s: %s\n", mark.name.c_str(), mark.description.c_str());
      std::printf("  %-22s %7s %7s %8s %9s %8s  %s\n", "method", "wm_psnr", "p10", "wm_ssim", "keep_psnr",
                  "flicker", "frames");
      print_row("input (untouched)", score(input, input, clean, mark), n);

      const std::string unmark_out = out_dir + "/" + mark.name + ".unmark.mp4";
      run_or_throw(shell_quote(unmark) + " -q remove " + shell_quote(case_path) + " -o " + shell_quote(unmark_out) + " " + extra);
      print_row("unmark auto", score(read_bgr(unmark_out, 0), input, clean, mark), n);

      const std::string delogo_out = out_dir + "/" + mark.name + ".delogo.mp4";
      run_or_throw("ffmpeg -v error -y -i " + shell_quote(case_path) + " -vf \"" +
                   delogo_filter(mark, n, clean[0].cols, clean[0].rows) +
                   "\" -c:v libx264 -preset veryfast -crf " + std::to_string(EncoderSettings::kDefaultCrf) +
                   " -c:a copy " + shell_quote(delogo_out));
      print_row("ffmpeg delogo (told)", score(read_bgr(delogo_out, 0), input, clean, mark), n);
      print_row("opencv telea (told)", score(telea(input, mark), input, clean, mark), n);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::cerr << "unmark_quality: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
