// The built-in profiles (profiles/*.json and their PNGs), compiled into the binary by CMake
// (cmake/embed_profiles.cmake) so that `--profile sora2` needs no files at run time.
#pragma once

#include <cstddef>
#include <vector>

namespace unmark {

struct EmbeddedProfile {
  const char* name;
  const char* json;
  std::size_t json_size;
  const unsigned char* png;
  std::size_t png_size;
};

const std::vector<EmbeddedProfile>& embedded_profiles();

}  // namespace unmark
