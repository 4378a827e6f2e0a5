// What the benchmarks share: reading a video's frames for scoring, encoding composited frames as
// a user's upload would be, running the product, and the scores themselves.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace unmark::bench {

// Every frame (at most `max_frames` when > 0) as 8-bit BGR; the frame rate into `fps`.
std::vector<cv::Mat> read_bgr(const std::string& path, int max_frames = 0, double* fps = nullptr);
// Every frame's luma, 8-bit.
std::vector<cv::Mat> read_luma(const std::string& path);

// Encodes BGR frames with libx264 at `crf` (preset medium), with the audio of `audio_from` when
// it is not empty. Throws on failure.
void encode_bgr(const std::vector<cv::Mat>& frames, double fps, const std::string& path, int crf,
                const std::string& audio_from = "");

// The value after option argv[i] (i moves on to it); a one-line error and exit 2 when it is missing.
std::string option_value(int argc, char** argv, int& i);

std::string shell_quote(const std::string& s);
// Runs `command`; its stdout, or nullopt when it could not run or exited non-zero.
std::optional<std::string> run_capture(const std::string& command);
void run_or_throw(const std::string& command);

double psnr_from_mse(double mse);
double mse(const cv::Mat& a, const cv::Mat& b);
// PSNR of all channels over the pixels `mask` keeps (all when it is empty).
double psnr_masked(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask = {});

// `box` grown by `by` pixels on every side, clipped to `frame`.
cv::Rect grown(const cv::Rect& box, int by, cv::Size frame);

}  // namespace unmark::bench
