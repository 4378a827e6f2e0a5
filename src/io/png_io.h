// PNG files through libavcodec's PNG codec, which unmark links anyway: OpenCV's imgcodecs would
// pull ~140 more shared libraries (GDAL, DICOM, ...) into every start of the binary and image.
// Images are cv::Mats in OpenCV's conventions (BGR order, native-endian 16-bit samples), as
// cv::imread(IMREAD_UNCHANGED) and cv::imwrite use them.
#pragma once

#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace unmark {

// 8- or 16-bit, 1, 3 or 4 channels. Throws Error{output} when it cannot write.
void write_png(const std::string& path, const cv::Mat& image);

// Gray, BGR or BGRA at the file's depth (8 or 16 bits). Throws Error{input} when it is not a PNG
// unmark can read. `data`/`size`: the same from bytes in memory.
cv::Mat read_png(const std::string& path);
cv::Mat decode_png(const uint8_t* data, size_t size);

}  // namespace unmark
