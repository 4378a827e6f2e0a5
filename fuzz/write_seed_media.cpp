// Writes the demux fuzz target's seeds into a folder: tiny clips made here (the repository holds
// no media), in the containers and codecs the fuzzer should start from.
#include <cstdio>
#include <string>

#include "support/media.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  unmark::test::MediaSpec spec;
  spec.width = 32;
  spec.height = 32;
  spec.frames = 3;
  unmark::test::write_media(dir + "/tiny.mp4", spec);
  spec.video_codec = "mpeg4";
  spec.audio = false;
  unmark::test::write_media(dir + "/tiny.mkv", spec);
  return 0;
}
