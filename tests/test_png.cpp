// PNG through libavcodec (io/png_io): what it writes OpenCV reads back the same, and the reverse,
// at 8 and 16 bits with 1, 3 and 4 channels; a file that is not a PNG is an input error.
#include <gtest/gtest.h>

#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "io/png_io.h"
#include "support/media.h"

using namespace unmark;

TEST(Png, RoundTripsAndAgreesWithOpenCv) {
  const std::string dir = test::temp_dir("png");
  cv::RNG rng(7);
  for (int depth : {CV_8U, CV_16U})
    for (int channels : {1, 3, 4}) {
      cv::Mat image(37, 53, CV_MAKETYPE(depth, channels));
      rng.fill(image, cv::RNG::UNIFORM, 0, depth == CV_8U ? 256 : 65536);
      const std::string ours = dir + "/ours.png", theirs = dir + "/theirs.png";
      write_png(ours, image);
      cv::Mat back = read_png(ours);
      cv::Mat by_opencv = cv::imread(ours, cv::IMREAD_UNCHANGED);
      ASSERT_EQ(back.type(), image.type()) << depth << "x" << channels;
      EXPECT_EQ(cv::norm(back, image, cv::NORM_INF), 0) << "our reader, " << channels << " channels";
      EXPECT_EQ(cv::norm(by_opencv, image, cv::NORM_INF), 0) << "OpenCV reading ours, " << channels << " channels";
      cv::imwrite(theirs, image);
      EXPECT_EQ(cv::norm(read_png(theirs), image, cv::NORM_INF), 0) << "ours reading OpenCV's, " << channels;
    }
  std::ofstream(dir + "/not.png") << "plain text";
  EXPECT_THROW(read_png(dir + "/not.png"), Error);
  EXPECT_THROW(read_png(dir + "/missing.png"), Error);
}
