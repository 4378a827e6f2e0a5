// A profile file (`unmark remove --profile FILE`): its JSON, with the built-in profile's image
// beside it. Only unmark::Error (a clear message) may come out of a bad file.
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "detect/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("unmark-fuzz-profile-" + std::to_string(getpid()));
    fs::create_directories(d);
    fs::copy_file(fs::path(UNMARK_SOURCE_DIR) / "profiles" / "sora2.png", d / "sora2.png",
                  fs::copy_options::overwrite_existing);
    return d;
  }();
  const fs::path file = dir / "profile.json";
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
  try {
    unmark::Profile p = unmark::load_profile(file.string());
    if (p.reference_width > 0 && p.reference_width < 20000) unmark::scale_profile(p, p.reference_width);
  } catch (const unmark::Error&) {
  }
  return 0;
}
