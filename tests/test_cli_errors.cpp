// The `unmark` binary on bad input: one clear line on stderr, the right exit code, and nothing
// left at (or beside) the output path. Also the CLI's happy path.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/media.h"

using namespace unmark::test;
namespace fs = std::filesystem;

namespace {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

CliResult run_cli(const std::string& dir, const std::string& args) {
  std::string cmd = "( " + std::string(UNMARK_BINARY) + " " + args + " ) >" + dir + "/cli.out 2>" + dir + "/cli.err";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(dir + "/cli.out");
  r.err = slurp(dir + "/cli.err");
  fs::remove(dir + "/cli.out");
  fs::remove(dir + "/cli.err");
  return r;
}

// Nothing but the inputs the test made: no output, no temporary file.
void expect_clean(const std::string& dir, const std::string& output) {
  EXPECT_FALSE(fs::exists(output)) << output;
  for (auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".unmark-"), std::string::npos) << e.path();
}

void expect_one_error_line(const CliResult& r, int code, const std::string& needle) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << r.err;
}

class CliErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir(std::string("cli_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    out = dir + "/out.mp4";
  }
  std::string good_input() {
    std::string in = dir + "/good.mp4";
    MediaSpec spec;
    spec.frames = 20;
    write_media(in, spec);
    return in;
  }
  // `remove IN -o OUT ARGS` fails with one error line holding `needle` and leaves no output.
  void expect_refused(const std::string& in, const std::string& args, const std::string& needle) {
    auto r = run_cli(dir, "remove " + in + " -o " + out + " " + args);
    EXPECT_NE(r.exit_code, 0);
    expect_one_error_line(r, r.exit_code, needle);
    expect_clean(dir, out);
  }
  std::string dir, out;
};

// UNMARK_FAULT for a scope; the CLI's child processes inherit it.
struct ScopedFault {
  explicit ScopedFault(const char* faults) { setenv("UNMARK_FAULT", faults, 1); }
  ~ScopedFault() { unsetenv("UNMARK_FAULT"); }
};

}  // namespace

TEST_F(CliErrors, MissingFile) {
  auto r = run_cli(dir, "remove " + dir + "/nope.mp4 -o " + out + " --region 1,1,10,10");
  expect_one_error_line(r, 3, "does not exist");
  expect_clean(dir, out);
}

TEST_F(CliErrors, EmptyFile) {
  std::ofstream(dir + "/empty.mp4").close();
  auto r = run_cli(dir, "remove " + dir + "/empty.mp4 -o " + out + " --region 1,1,10,10");
  expect_one_error_line(r, 3, "is empty");
  expect_clean(dir, out);
}

TEST_F(CliErrors, NotAVideo) {
  std::ofstream(dir + "/notes.mp4") << "these are my notes, not a video\n";
  auto r = run_cli(dir, "remove " + dir + "/notes.mp4 -o " + out + " --region 1,1,10,10");
  expect_one_error_line(r, 3, "not a video");
  expect_clean(dir, out);
}

TEST_F(CliErrors, TruncatedWithIndexAtTheEnd) {
  std::string in = good_input();
  fs::resize_file(in, fs::file_size(in) / 2);  // the index (moov) is lost
  auto r = run_cli(dir, "remove " + in + " -o " + out + " --region 1,1,10,10");
  expect_one_error_line(r, 3, "good.mp4");
  expect_clean(dir, out);
}

TEST_F(CliErrors, TruncatedStreamableFile) {
  std::string in = dir + "/fast.mp4";
  MediaSpec spec;
  spec.frames = 60;
  spec.faststart = true;  // index first: the file opens, the data stops early
  write_media(in, spec);
  fs::resize_file(in, fs::file_size(in) * 6 / 10);
  auto r = run_cli(dir, "remove " + in + " -o " + out + " --region 1,1,10,10");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(r.err.find("truncated") != std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  expect_clean(dir, out);
}

TEST_F(CliErrors, CorruptStream) {
  std::string in = dir + "/corrupt.mp4";
  MediaSpec spec;
  spec.frames = 60;
  spec.faststart = true;
  write_media(in, spec);
  {
    std::fstream f(in, std::ios::in | std::ios::out | std::ios::binary);
    auto size = fs::file_size(in);
    uint32_t x = 12345;
    for (auto pos = size / 3; pos < size * 2 / 3; pos += 61) {  // garbage through the middle
      x = x * 1103515245u + 12345u;
      f.seekp(std::streamoff(pos));
      f.put(char(x >> 16));
    }
  }
  auto r = run_cli(dir, "remove " + in + " -o " + out + " --region 1,1,10,10");
  expect_one_error_line(r, 3, "damaged");
  expect_clean(dir, out);
}

TEST_F(CliErrors, NoVideoStream) {
  std::string in = dir + "/audio.m4a";
  MediaSpec spec;
  spec.video = false;
  spec.frames = 30;
  write_media(in, spec);
  auto r = run_cli(dir, "remove " + in + " -o " + out + " --region 1,1,10,10");
  expect_one_error_line(r, 3, "no video stream");
  expect_clean(dir, out);
}

TEST_F(CliErrors, RegionOutsideTheFrame) {
  auto r = run_cli(dir, "remove " + good_input() + " -o " + out + " --region 300,200,40,40");
  expect_one_error_line(r, 2, "outside the 320x240 frame");
  expect_clean(dir, out);
}

TEST_F(CliErrors, BadRegionText) {
  auto r = run_cli(dir, "remove " + good_input() + " -o " + out + " --region 1,2,3");
  expect_one_error_line(r, 2, "--region");
  expect_clean(dir, out);
}

TEST_F(CliErrors, NoRegionMeansAutoDetection) {
  // Nothing to find in a clip without a mark: a plain transcode, and one warning saying so.
  auto r = run_cli(dir, "remove " + good_input() + " -o " + out + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no mark found"), std::string::npos) << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["frames_with_marks"], 0);
  EXPECT_NE(report["detector"].get<std::string>().find("no built-in profile matched"), std::string::npos);
}

TEST_F(CliErrors, UnknownProfileAndDetectMode) {
  auto r = run_cli(dir, "remove " + good_input() + " -o " + out + " --profile nosuch");
  expect_one_error_line(r, 2, "--profile");
  r = run_cli(dir, "remove " + good_input() + " -o " + out + " --detect magic");
  expect_one_error_line(r, 2, "--detect");
  std::ofstream(dir + "/fake.json") << "{\"format\": \"something else\"}";
  r = run_cli(dir, "remove " + good_input() + " -o " + out + " --profile " + dir + "/fake.json");
  expect_one_error_line(r, 3, "not an unmark profile");
  expect_clean(dir, out);
}

TEST_F(CliErrors, UnwritableOutput) {
  auto r = run_cli(dir, "remove " + good_input() + " -o /sys/kernel/out.mp4 --region 1,1,10,10");
  expect_one_error_line(r, 4, "cannot write");
  r = run_cli(dir, "remove " + good_input() + " -o " + dir + "/no/such/dir/out.mp4 --region 1,1,10,10");
  expect_one_error_line(r, 4, "does not exist");
  expect_clean(dir, out);
}

TEST_F(CliErrors, UnknownEncoder) {
  auto r = run_cli(dir, "remove " + good_input() + " -o " + out + " --region 1,1,10,10 --encoder vp9x");
  expect_one_error_line(r, 2, "--encoder");
  expect_clean(dir, out);
}

TEST_F(CliErrors, UnknownContainer) {
  auto r = run_cli(dir, "remove " + good_input() + " -o " + dir + "/out.xyz --region 1,1,10,10");
  expect_one_error_line(r, 2, "container");
  expect_clean(dir, dir + "/out.xyz");
}

TEST_F(CliErrors, OddSizeCannotBeEncodedAs420) {
  std::string in = dir + "/odd.mkv";
  MediaSpec spec;
  spec.width = 321;
  spec.height = 241;
  spec.video_codec = "ffv1";
  spec.frames = 5;
  write_media(in, spec);
  auto r = run_cli(dir, "remove " + in + " -o " + out + " --region 1,1,10,10");
  expect_one_error_line(r, 5, "even dimensions");
  expect_clean(dir, out);
}

TEST_F(CliErrors, JsonErrorLineIsJson) {
  auto r = run_cli(dir, "--log-format json remove " + dir + "/nope.mp4 -o " + out + " --region 1,1,10,10");
  EXPECT_EQ(r.exit_code, 3);
  auto j = nlohmann::json::parse(r.err);
  EXPECT_EQ(j["stage"], "input");
  EXPECT_EQ(j["level"], "error");
}

TEST_F(CliErrors, HappyPathAndProbe) {
  std::string in = good_input();
  auto r = run_cli(dir, "-v remove " + in + " -o " + out + " --region 10,10,40,40 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out));
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["frames"], 20);
  // -v shows stage lines that name their stage.
  for (const char* stage : {"decode: ", "encode: ", "mux: ", "pipeline: "})
    EXPECT_NE(r.err.find(stage), std::string::npos) << stage << " missing in:\n" << r.err;

  r = run_cli(dir, "probe " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto p = nlohmann::json::parse(r.out);
  EXPECT_EQ(p["streams"][0]["codec"], "h264");
  EXPECT_EQ(p["streams"][0]["width"], 320);
  EXPECT_EQ(p["streams"][1]["codec"], "aac");
}

TEST_F(CliErrors, InterruptLeavesNothing) {
  std::string in = dir + "/long.mp4";
  MediaSpec spec;
  spec.frames = 300;
  spec.audio = false;
  write_media(in, spec);
  // Ctrl-C once the run is under way (its temporary output exists; before that, a background job
  // of a non-interactive shell may still ignore SIGINT): exit 130, no output, no temporary file.
  auto r = run_cli(dir, "remove " + in + " -o " + out + " --region 10,10,50,50 --preset placebo & pid=$!; "
                   "for i in $(seq 200); do [ -e " + dir + "/.out.mp4.unmark-$pid.part ] && break; sleep 0.05; done; "
                   "sleep 0.2; kill -INT $pid; wait $pid; exit $?");
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("cancelled"), std::string::npos) << r.err;
  expect_clean(dir, out);
}

TEST_F(CliErrors, LearnChecksItsOutputFirst) {
  auto r = run_cli(dir, "learn " + good_input() + " -o " + dir + "/no/such/dir/mark.json");
  expect_one_error_line(r, 4, "cannot write");
  r = run_cli(dir, "learn " + good_input() + " -o " + dir + "/mark.txt");
  expect_one_error_line(r, 2, ".json");
  r = run_cli(dir, "learn " + dir + "/missing.mp4 -o " + dir + "/mark.json");
  expect_one_error_line(r, 3, "does not exist");
  EXPECT_FALSE(fs::exists(dir + "/mark.json"));
}

// UNMARK_FAULT=nvdec,nvenc: NVDEC and NVENC fail as on a machine without them. "auto" falls back
// one level each (CPU decode, x264) and the report names each fallback and why; asking for either
// by name is a one-line error and leaves no output.
TEST_F(CliErrors, InjectedNvdecAndNvencFaultsFallBackOrFailWhenAskedFor) {
  std::string in = good_input();
  ScopedFault fault("nvdec,nvenc");
  auto r = run_cli(dir, "-q remove " + in + " -o " + out + " --region 1,1,10,10 --encoder auto --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json report = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << r.out;
  EXPECT_EQ(report["encoder"], "x264");
  EXPECT_EQ(report["path"], "cpu");
  EXPECT_NE(report["decoder"].get<std::string>().find("(cpu"), std::string::npos) << report.dump();
  ASSERT_EQ(report["fallbacks"].size(), 2u) << report.dump();
  EXPECT_EQ(report["fallbacks"][0], "decode: nvdec not used: NVDEC failed (injected by UNMARK_FAULT=nvdec) -> cpu");
  const std::string fallback = report["fallbacks"][1];
  EXPECT_NE(fallback.find("encode: nvenc not used: NVENC failed (injected by UNMARK_FAULT=nvenc)"), std::string::npos)
      << fallback;
  EXPECT_NE(fallback.find("-> x264"), std::string::npos) << fallback;
  EXPECT_TRUE(fs::exists(out));
  fs::remove(out);

  expect_refused(in, "--region 1,1,10,10 --encoder nvenc --decoder cpu",
                 "nvenc is not available: NVENC failed (injected by UNMARK_FAULT=nvenc)");
  expect_refused(in, "--region 1,1,10,10 --decoder nvdec", "decode: NVDEC failed (injected by UNMARK_FAULT=nvdec)");
}

// --require-gpu: where the GPU path would give a level up, the run fails instead, naming the stage
// and why, and writes nothing. UNMARK_FAULT=cuda makes any machine one without a usable GPU; on a
// GPU machine the same flags also stop at a missing NVDEC or NVENC (see the closing notes).
TEST_F(CliErrors, RequireGpuTurnsAFallbackIntoAnError) {
  std::string in = good_input();
  ScopedFault fault("cuda,nvdec,nvenc");
  expect_refused(in, "--region 1,1,10,10 --require-gpu",
                 "gpu: no usable GPU (CUDA failed (injected by UNMARK_FAULT=cuda)), and --require-gpu forbids");
  expect_refused(in, "--region 1,1,10,10 --require-gpu --decoder cpu", "--require-gpu and --decoder cpu contradict each other");
  // The same job without the flag falls back and says so.
  auto r = run_cli(dir, "-q remove " + in + " -o " + out + " --region 1,1,10,10 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["path"], "cpu");
  EXPECT_TRUE(fs::exists(out));
}
