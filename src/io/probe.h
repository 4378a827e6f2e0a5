// `unmark probe`: what a file holds, as JSON (streams and format), for users and for tests.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

struct AVStream;

namespace unmark {

// Throws Error{input} when the file cannot be opened as media.
nlohmann::json probe_media(const std::string& path);

// Degrees the player rotates the picture (counter-clockwise, as in the display matrix), 0 if none.
double stream_rotation(const AVStream* stream);

}  // namespace unmark
