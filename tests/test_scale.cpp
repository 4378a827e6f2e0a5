// A mark whose size the frame does not fix, its mirrored layout, and a glyph found alone whose
// text is measured on the video (detect/scale_search.h, detect/profile.h, detect/refine.h).
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "core/log.h"
#include "detect/profile.h"
#include "detect/refine.h"
#include "detect/scale_search.h"
#include "io/frame_reader.h"
#include "support/media.h"

namespace unmark {
namespace {

using test::MediaSpec;

Profile profile_of(const std::vector<float>& alpha, int w, int h, int reference_width, int reference_height) {
  Profile p;
  p.name = "test";
  p.reference_width = reference_width;
  p.reference_height = reference_height;
  p.alpha = cv::Mat(h, w, CV_32F, const_cast<float*>(alpha.data())).clone();
  p.color = cv::Mat(p.alpha.size(), CV_32FC3, cv::Scalar(235, 128, 128));
  return p;
}

std::vector<float> to_vector(const cv::Mat& alpha) {
  cv::Mat a = alpha.isContinuous() ? alpha : alpha.clone();
  return std::vector<float>(a.ptr<float>(0), a.ptr<float>(0) + a.total());
}

// The ScaleSearch's answer after looking at every 10th frame from frame 2.
std::optional<ScaleFound> search(const std::string& path, const Profile& profile, const ScaleSearchOptions& options = {}) {
  std::unique_ptr<ScaleSearch> s;
  int i = 0;
  read_frames(path, [&](Frame& f) {
    if (!s) s = std::make_unique<ScaleSearch>(profile, f.width(), f.height(), options);
    if (i++ % 10 == 2 && s->observe(f)) return false;
    return true;
  });
  return s ? s->result() : std::nullopt;
}

TEST(Profile, TheMirroredLayoutPutsTheTextOnTheGlyphsOtherSide) {
  const Profile p = profile_of(test::synthetic_mark_alpha(72, 24), 72, 24, 360, 240);
  auto parts = mark_parts(p.alpha);
  ASSERT_TRUE(parts);
  EXPECT_TRUE(parts->text_right);
  EXPECT_LT(parts->glyph.br().x, parts->text.x);
  auto mirrored = mirrored_layout(p);
  ASSERT_TRUE(mirrored);
  EXPECT_EQ(mirrored->alpha.size(), p.alpha.size());
  auto moved = mark_parts(mirrored->alpha);
  ASSERT_TRUE(moved);
  EXPECT_FALSE(moved->text_right);
  EXPECT_EQ(moved->glyph.width, parts->glyph.width);
  EXPECT_EQ(moved->text.width, parts->text.width);
  EXPECT_LT(moved->text.br().x, moved->glyph.x);
  // The same ink, moved: as much alpha in all.
  EXPECT_NEAR(cv::sum(mirrored->alpha)[0], cv::sum(p.alpha)[0], 1e-3);
  // The glyph alone is the disc, a margin of 2 around it.
  auto glyph = glyph_profile(p);
  ASSERT_TRUE(glyph);
  EXPECT_LE(glyph->width(), parts->glyph.width + 4);
  EXPECT_FALSE(mark_parts(glyph->alpha));  // no text beside it
}

TEST(ScaleSearch, FindsAMarkAtASizeTheFrameDoesNotFix) {
  // The profile knows the mark at 60x20 in a 360-wide frame; this 360-wide video shows it 40%
  // larger, jumping between three places.
  const Profile profile = profile_of(test::synthetic_mark_alpha(60, 20), 60, 20, 360, 240);
  MediaSpec spec;
  spec.width = 360;
  spec.height = 240;
  spec.frames = 90;
  spec.audio = false;
  spec.overlay_w = 84;
  spec.overlay_h = 28;
  spec.overlay_alpha = test::synthetic_mark_alpha(84, 28);
  spec.overlay_places = {{20, 20}, {250, 100}, {24, 190}};
  spec.overlay_period = 40;
  const std::string dir = test::temp_dir("scale_search");
  test::write_media(dir + "/marked.mp4", spec);
  auto found = search(dir + "/marked.mp4", profile);
  ASSERT_TRUE(found);
  std::printf("scale %.3f (truth 1.4), correlation %.2f in %d of %d frames\n", found->scale, found->score,
              found->frames, found->looked);
  EXPECT_NEAR(found->scale, 1.4, 1.4 * 0.04);

  // The same video without the mark: no scale.
  spec.overlay_alpha.clear();
  test::write_media(dir + "/clean.mp4", spec);
  EXPECT_FALSE(search(dir + "/clean.mp4", profile));
}

TEST(Refine, AGlyphFoundAloneGetsItsTextMeasuredOnEitherSide) {
  // The video's mark: the glyph and word of the profile plus a handle line under the word, with
  // its text right of the glyph at the left places and left of it, against the glyph, at the
  // right one (the drawing flipped: the glyph and the bars are symmetric).
  const int w = 72, h = 29;
  cv::Mat drawn(h, w, CV_32F, cv::Scalar(0));
  const std::vector<float> top = test::synthetic_mark_alpha(w, 24);
  cv::Mat(24, w, CV_32F, const_cast<float*>(top.data())).copyTo(drawn(cv::Rect(0, 0, w, 24)));
  for (int x = 28; x < 68; ++x)
    if (x % 5 < 3) drawn(cv::Rect(x, 23, 1, 5)).setTo(0.6f);  // the handle's letters, 3 rows under the word
  cv::Mat flipped;
  cv::flip(drawn, flipped, 1);
  MediaSpec spec;
  spec.width = 360;
  spec.height = 240;
  spec.frames = 160;
  spec.audio = false;
  spec.crf = 8;
  spec.overlay_w = w;
  spec.overlay_h = h;
  spec.overlay_alpha = to_vector(drawn);
  spec.overlay_alpha_per_place = {to_vector(drawn), to_vector(flipped), to_vector(drawn)};
  spec.overlay_places = {{20, 20}, {270, 100}, {20, 190}};
  spec.overlay_period = 40;
  const std::string dir = test::temp_dir("refine_glyph");
  test::write_media(dir + "/marked.mp4", spec);

  // What is known beforehand: the glyph of a mark without the handle line.
  const auto glyph = glyph_profile(profile_of(top, w, 24, 360, 240));
  ASSERT_TRUE(glyph);
  RefineOptions options;
  options.grow_x = 4.0;
  options.grow_y = 0.1;
  options.split_sides = true;
  RefineReport report;
  if (getenv("UNMARK_TEST_DEBUG")) setup_logging(spdlog::level::debug, LogFormat::text);
  auto measured = refine_profile(*glyph, dir + "/marked.mp4", spec.width, spec.height, options, &report);
  ASSERT_TRUE(measured) << report.summary;
  std::printf("%s\n", report.summary.c_str());
  if (getenv("UNMARK_TEST_DEBUG")) {
    save_profile(*measured, dir + "/measured.json");
    if (measured->mirror) save_profile(*measured->mirror, dir + "/mirror.json");
  }
  // Each layout measured whole: glyph, word and handle line, and nothing of the background.
  auto parts = mark_parts(measured->alpha);
  ASSERT_TRUE(parts);
  EXPECT_TRUE(parts->text_right);
  EXPECT_NEAR(measured->width(), w, 6);
  EXPECT_NEAR(measured->height(), h, 6);
  ASSERT_TRUE(measured->mirror);
  auto mirror_parts = mark_parts(measured->mirror->alpha);
  ASSERT_TRUE(mirror_parts);
  EXPECT_FALSE(mirror_parts->text_right);
  EXPECT_NEAR(measured->mirror->width(), w, 6);
  EXPECT_NEAR(measured->mirror->height(), h, 6);
}

}  // namespace
}  // namespace unmark
