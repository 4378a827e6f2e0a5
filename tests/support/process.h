// A child process for end-to-end tests: the real binary with arguments and extra environment,
// its stdout and stderr in a log file. Killed by the destructor unless it already ended.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace unmark::test {

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env,
               std::string log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits up to `seconds` for the process to end; its exit code, or -1 (still running: killed).
  int wait(double seconds);
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

}  // namespace unmark::test
