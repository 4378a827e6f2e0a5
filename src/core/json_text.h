// JSON that crosses the program's edge: text parsed from outside (request bodies, RunPod input,
// stored rows, profile files) and text written out (responses, events, reports).
//
// Why a module of its own: nlohmann's parser builds any depth, and a few hundred thousand nested
// arrays in a 200 KB body then exhaust a thread's stack on the way out; and its dump() throws on
// a string that is not UTF-8 (an S3 error message, a Matroska tag, a form field), which made a
// stored job unlistable. Every parse of outside text and every serialization goes through here.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace unmark {

// Deeper JSON than this is refused: no request or file of ours nests more than a few levels.
constexpr int kMaxJsonDepth = 64;

// Parses `text`. Text that is not JSON, or nests deeper than `max_depth`, throws
// nlohmann::json::parse_error (or, when `allow_exceptions` is false, gives a discarded value).
nlohmann::json parse_json(std::string_view text, bool allow_exceptions = true, int max_depth = kMaxJsonDepth);

// `j` as text; bytes that are not UTF-8 in its strings become U+FFFD instead of throwing.
std::string dump_json(const nlohmann::json& j, int indent = -1);

// `text` with every byte that does not begin or continue a valid UTF-8 sequence replaced by
// U+FFFD: for strings from outside before they are stored.
std::string valid_utf8(std::string_view text);

}  // namespace unmark
