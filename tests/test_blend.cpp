// Judging and measuring a translucent mark's blend: the blend test (detect/blend_test.h), which
// finds a faint mark where the background's own structure swamps correlation, and the line fit
// of a pixel's pairs (detect/blend_fit.h), whose colour must not be darkened by noisy pairs.
#include <gtest/gtest.h>

#include <random>

#include <opencv2/imgproc.hpp>

#include "core/av_ptr.h"
#include "core/frame.h"
#include "detect/blend_fit.h"
#include "detect/blend_test.h"
#include "detect/detector.h"
#include "detect/match.h"
#include "detect/profile.h"

using namespace unmark;

namespace {

constexpr float kWhite = 231;  // 8-bit limited-range luma of a white mark

// A logo like Sora's: a translucent disc with two see-through eyes beside a fainter word,
// edges softened as a rendered mark's are.
cv::Mat translucent_alpha() {
  cv::Mat alpha = cv::Mat::zeros(36, 110, CV_32F);
  cv::circle(alpha, {18, 18}, 15, cv::Scalar(0.6), cv::FILLED, cv::LINE_AA);
  cv::circle(alpha, {13, 14}, 3, cv::Scalar(0), cv::FILLED, cv::LINE_AA);
  cv::circle(alpha, {23, 14}, 3, cv::Scalar(0), cv::FILLED, cv::LINE_AA);
  cv::putText(alpha, "Mark", {38, 27}, cv::FONT_HERSHEY_DUPLEX, 0.8, cv::Scalar(0.45), 2, cv::LINE_AA);
  cv::GaussianBlur(alpha, alpha, {3, 3}, 0.6);
  return alpha;
}

// A light card with dark printed lines of text: strokes swing ~180 levels where the mark adds
// at most ~10, which is what defeats correlation.
cv::Mat printed_card(cv::Size size, unsigned seed) {
  cv::Mat card(size, CV_32F, cv::Scalar(218));
  for (int y = 22, line = 0; y < size.height; y += 21, ++line)
    cv::putText(card, line % 2 ? "unmark removes marks 0123" : "lorem ipsum dolor sit amet", {6 - line % 3 * 4, y},
                cv::FONT_HERSHEY_SIMPLEX, 0.62, cv::Scalar(38), 2, cv::LINE_AA);
  cv::Mat noise(size, CV_32F);
  cv::RNG rng(seed);
  rng.fill(noise, cv::RNG::NORMAL, 0, 1.5);  // compression-like noise
  return card + noise;
}

cv::Mat blend(const cv::Mat& background, const cv::Mat& alpha, cv::Point at) {
  cv::Mat out = background.clone();
  cv::Mat roi = out(cv::Rect(at, alpha.size()));
  cv::Mat one_minus = 1.0f - alpha;
  roi = alpha * kWhite + one_minus.mul(roi);
  return out;
}

cv::Mat to_8bit(const cv::Mat& m) {
  cv::Mat out;
  m.convertTo(out, CV_8U);  // rounds and saturates
  return out;
}

Profile white_profile(const cv::Mat& alpha, int width, int height) {
  Profile p;
  p.name = "translucent";
  p.reference_width = width;
  p.reference_height = height;
  p.alpha = alpha.clone();
  p.color = cv::Mat(alpha.size(), CV_32FC3, cv::Scalar(kWhite, 128, 128));
  return p;
}

// A YUV 4:2:0 frame with `luma` as its Y plane and neutral chroma.
Frame frame_of(const cv::Mat& luma) {
  Frame f;
  f.av = make_av_frame();
  f.av->format = AV_PIX_FMT_YUV420P;
  f.av->width = luma.cols;
  f.av->height = luma.rows;
  if (av_frame_get_buffer(f.av.get(), 0) < 0) throw std::bad_alloc();
  for (int p = 0; p < 3; ++p) {
    PlaneView pv = f.plane(p);
    for (int y = 0; y < pv.height; ++y)
      for (int x = 0; x < pv.width; ++x) pv.data[y * pv.stride + x] = p == 0 ? luma.at<uint8_t>(y, x) : 128;
  }
  return f;
}

}  // namespace

TEST(BlendTest, FindsATranslucentMarkOverPrintedTextWhereCorrelationDoesNot) {
  const cv::Mat alpha = translucent_alpha();
  cv::Mat colour(alpha.size(), CV_32F, cv::Scalar(kWhite));
  const BlendTest test(alpha, colour);
  ASSERT_TRUE(test.usable());

  const cv::Mat card = printed_card({300, 150}, 7);
  const cv::Point at(121, 57);
  const cv::Mat marked = to_8bit(blend(card, alpha, at)), clean = to_8bit(card);

  double best;
  cv::Point found;
  cv::minMaxLoc(test.scores(marked), nullptr, &best, nullptr, &found);
  EXPECT_GE(best, 0.1);
  EXPECT_LE(std::abs(found.x - at.x), 1);
  EXPECT_LE(std::abs(found.y - at.y), 1);

  // Without the mark no placement scores as blended.
  double best_clean;
  cv::minMaxLoc(test.scores(clean), nullptr, &best_clean);
  EXPECT_LT(best_clean, 0.02);
  std::printf("blend test: %.2f at the mark, best %.2f on the card without it\n", best, best_clean);

  // Correlation with the mark's template does not single it out: its best placement over the
  // marked card is elsewhere or scores no better than on the clean card.
  const cv::Mat templ = alpha * (kWhite - 128);
  const MatchResult on_marked = best_match(marked, templ), on_clean = best_match(clean, templ);
  std::printf("correlation: %.2f at (%d, %d) on the marked card, %.2f on the clean one\n", on_marked.score,
              on_marked.at.x, on_marked.at.y, on_clean.score);
  const bool correlation_finds_it =
      std::abs(on_marked.at.x - at.x) <= 1 && std::abs(on_marked.at.y - at.y) <= 1 && on_marked.score > on_clean.score + 0.1;
  EXPECT_FALSE(correlation_finds_it);
}

TEST(BlendTest, AnOpaqueMarkHasNoTranslucentEdgesToJudge) {
  cv::Mat alpha = cv::Mat::zeros(30, 60, CV_32F);
  cv::rectangle(alpha, cv::Rect(5, 5, 50, 20), cv::Scalar(1), cv::FILLED);
  EXPECT_FALSE(BlendTest(alpha, cv::Mat(alpha.size(), CV_32F, cv::Scalar(kWhite))).usable());
}

TEST(ProfileDetector, FindsATranslucentMarkOverPrintedText) {
  const cv::Mat alpha = translucent_alpha();
  const cv::Mat card = printed_card({480, 270}, 11);
  const Profile profile = white_profile(alpha, card.cols, card.rows);
  const cv::Point at(203, 131);
  const Frame marked = frame_of(to_8bit(blend(card, alpha, at)));
  auto detector = make_profile_detector(profile, card.cols, card.rows);
  const std::vector<Mark> found = detector->detect(marked);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_LE(std::abs(found[0].box.x - at.x), 1);
  EXPECT_LE(std::abs(found[0].box.y - at.y), 1);

  auto fresh = make_profile_detector(profile, card.cols, card.rows);
  EXPECT_TRUE(fresh->detect(frame_of(to_8bit(card))).empty());
}

TEST(BlendFit, NoisyClearFramesDoNotDarkenTheMeasuredColour) {
  // Pairs over a quiet background (a face: 70-100), the clear frame off by noise of 4 levels (a
  // little motion the alignment left). A plain regression on the clear frame flattens the slope,
  // reading too much alpha and too dark a colour; taking b's noise out of its variance does not.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> background(70, 100);
  std::normal_distribution<float> clear_error(0, 4), seen_noise(0, 1);
  const float alpha = 0.6f;
  std::vector<double> plain, corrected;
  for (int pixel = 0; pixel < 400; ++pixel) {
    std::vector<float> b, o;
    for (int pair = 0; pair < 15; ++pair) {
      const float truth = background(rng);
      o.push_back(alpha * kWhite + (1 - alpha) * truth + seen_noise(rng));
      b.push_back(truth + clear_error(rng));
    }
    const std::vector<double> prior(b.size(), 1.0);
    const BlendLine raw = fit_blend_line(b, o, -1, prior), fixed = fit_blend_line(b, o, -1, prior, 16.0);
    if (raw.alpha() > 0.3) plain.push_back(raw.intercept / raw.alpha());
    if (fixed.alpha() > 0.3) corrected.push_back(fixed.intercept / fixed.alpha());
    // With the colour known, alpha is well measured without any correction.
    EXPECT_NEAR(fit_blend_line(b, o, kWhite, prior).alpha(), alpha, 0.03);
  }
  auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  ASSERT_GT(corrected.size(), 300u);
  std::printf("measured colour: %.1f plain, %.1f corrected (truth %.0f)\n", median(plain), median(corrected),
              double(kWhite));
  EXPECT_NEAR(median(corrected), kWhite, 3);
  EXPECT_LT(median(plain), kWhite - 8);  // what the correction is for
}

TEST(BlendFit, ABackgroundThatNeverVariedMeasuresNothing) {
  const std::vector<float> b(10, 80.f), o(10, 170.f);
  EXPECT_EQ(fit_blend_line(b, o, -1, std::vector<double>(10, 1.0)).alpha(), 0.0);
}
