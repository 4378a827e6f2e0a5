// One error type for all library code: the stage that failed, what kind of failure it is (the CLI
// maps kinds to exit codes, the servers to HTTP statuses) and one human sentence. Library code
// throws it and never prints or exits.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace unmark {

enum class ErrorKind {
  usage,        // bad option or argument
  input,        // the input is missing, unreadable, not a video, truncated or corrupt
  output,       // the output cannot be written
  unsupported,  // a valid request this build or machine cannot do (encoder, size, format)
  processing,   // a stage failed on valid input
  cancelled,    // the caller asked to stop
  internal,     // a bug
};

std::string_view to_string(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(std::string stage, ErrorKind kind, const std::string& message)
      : std::runtime_error(message), stage_(std::move(stage)), kind_(kind) {}

  const std::string& stage() const { return stage_; }
  ErrorKind kind() const { return kind_; }
  // "stage: message", the one line the CLI prints.
  std::string line() const { return stage_ + ": " + what(); }

 private:
  std::string stage_;
  ErrorKind kind_;
};

// libav's text for an AVERROR code.
std::string av_error_text(int averr);

// Throws Error{stage, kind, "<what>: <libav reason>"} when a libav call returned a negative code.
// Returns the code otherwise, so `int n = check(av_read_frame(...), ...)` reads naturally.
int check(int averr, std::string_view stage, ErrorKind kind, std::string_view what);

}  // namespace unmark
