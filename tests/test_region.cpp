#include <gtest/gtest.h>

#include "core/error.h"
#include "core/region.h"

using namespace unmark;

TEST(Region, ParsesBoxAndTimes) {
  TimedRegion r = parse_region("10,20,30,40");
  EXPECT_EQ(r.box, (Box{10, 20, 30, 40}));
  EXPECT_TRUE(r.active_at(0));
  EXPECT_TRUE(r.active_at(1e6));

  r = parse_region("1,2,3,4@1.5-3");
  EXPECT_FALSE(r.active_at(1.4));
  EXPECT_TRUE(r.active_at(1.5));
  EXPECT_TRUE(r.active_at(2.99));
  EXPECT_FALSE(r.active_at(3.0));

  r = parse_region("1,2,3,4@5-");
  EXPECT_FALSE(r.active_at(4.9));
  EXPECT_TRUE(r.active_at(100));
  r = parse_region("1,2,3,4@-2");
  EXPECT_TRUE(r.active_at(0));
  EXPECT_FALSE(r.active_at(2));
}

TEST(Region, RejectsBadText) {
  for (const char* bad : {"", "1,2,3", "1,2,3,4,5", "a,2,3,4", "1,2,0,4", "1,2,3,-4", "-1,2,3,4",
                          "1,2,3,4@", "1,2,3,4@3-1", "1,2,3,4@x-2", "1,2,3,4@-", "1,2,3,4@1"}) {
    try {
      parse_region(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::usage) << bad;
      EXPECT_NE(std::string(e.what()).find("--region"), std::string::npos) << e.what();
    }
  }
}

TEST(Region, ValidatesAgainstFrame) {
  std::vector<TimedRegion> ok = {parse_region("0,0,320,240"), parse_region("300,200,20,40")};
  EXPECT_NO_THROW(validate_regions(ok, 320, 240));
  std::vector<TimedRegion> out = {parse_region("300,200,21,40")};
  EXPECT_THROW(validate_regions(out, 320, 240), Error);
}

TEST(Box, SubsampledRoundsOutward) {
  Box b{3, 5, 4, 2};  // covers x 3..6, y 5..6
  Box c = b.subsampled(1, 1);
  EXPECT_EQ(c, (Box{1, 2, 3, 2}));  // chroma x 1..3 (luma 2..7), y 2..3 (luma 4..7)
  EXPECT_EQ(b.subsampled(0, 0), b);
  EXPECT_EQ((Box{2, 2, 2, 2}).subsampled(1, 1), (Box{1, 1, 1, 1}));
}
