// Media from outside: probed as `unmark probe` does, then its first frames decoded as the
// pipeline does. Only unmark::Error may come out of a bad file.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/frame_reader.h"
#include "io/probe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("unmark-fuzz-media-" + std::to_string(getpid()))).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
  try {
    unmark::probe_media(path);
  } catch (const unmark::Error&) {
  }
  try {
    int frames = 0;
    unmark::read_frames(path, [&](unmark::Frame&) { return ++frames < 4; });
  } catch (const unmark::Error&) {
  }
  return 0;
}
