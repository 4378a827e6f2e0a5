// A fuzzing driver for compilers without libFuzzer: replays every seed file given (files or
// folders), then mutates the seeds at random (bit flips, byte changes, insertions, deletions,
// copies within an input, splices of two seeds) until -max_total_time=S seconds or -runs=N
// inputs, calling LLVMFuzzerTestOneInput on each. A crash or sanitizer report ends the process,
// as under libFuzzer; the input that did it is written to ./crash-input first.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Set by the sanitizers' runtime when it is linked: called before a report ends the process.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

std::vector<uint8_t> g_current;

// Writes the input being run to ./crash-input (with write(2): called from a signal handler).
void save_current() {
  int fd = ::open("crash-input", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  for (size_t done = 0; done < g_current.size();) {
    ssize_t n = ::write(fd, g_current.data() + done, g_current.size() - done);
    if (n <= 0) break;
    done += size_t(n);
  }
  ::close(fd);
}

void on_fatal_signal(int sig) {
  save_current();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void run(const std::vector<uint8_t>& input) {
  g_current = input;
  LLVMFuzzerTestOneInput(input.data(), input.size());
}

std::vector<uint8_t> mutate(std::vector<uint8_t> in, const std::vector<std::vector<uint8_t>>& seeds, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t(0) : size_t(rng() % n); };
  const int steps = 1 + int(rng() % 4);
  for (int s = 0; s < steps; ++s) {
    switch (rng() % 7) {
      case 0:
        if (!in.empty()) in[pick(in.size())] ^= uint8_t(1u << (rng() % 8));
        break;
      case 1:
        if (!in.empty()) in[pick(in.size())] = uint8_t(rng());
        break;
      case 2: {  // an interesting byte: a bracket, a quote, a digit, a boundary value
        static const uint8_t kBytes[] = {'{', '}', '[', ']', '"', ',', ':', '-', '0', '9', 0, 0xff, 0x7f, '\r', '\n'};
        in.insert(in.begin() + long(pick(in.size() + 1)), kBytes[rng() % sizeof kBytes]);
        break;
      }
      case 3:
        if (!in.empty()) {
          size_t at = pick(in.size()), n = 1 + pick(std::min<size_t>(in.size() - at, 64));
          in.erase(in.begin() + long(at), in.begin() + long(at + n));
        }
        break;
      case 4:
        if (!in.empty() && in.size() < (1u << 20)) {  // repeat a piece
          size_t at = pick(in.size()), n = 1 + pick(std::min<size_t>(in.size() - at, 256));
          std::vector<uint8_t> piece(in.begin() + long(at), in.begin() + long(at + n));
          int times = 1 + int(rng() % 8);
          for (int t = 0; t < times; ++t) in.insert(in.begin() + long(pick(in.size() + 1)), piece.begin(), piece.end());
        }
        break;
      case 5:
        if (!seeds.empty()) {  // splice another seed
          const auto& other = seeds[pick(seeds.size())];
          if (!other.empty()) {
            size_t from = pick(other.size());
            in.resize(pick(in.size() + 1));
            in.insert(in.end(), other.begin() + long(from), other.end());
          }
        }
        break;
      case 6:
        if (in.size() > 1) in.resize(pick(in.size()));  // truncate
        break;
    }
  }
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  double max_seconds = 10;
  long max_runs = -1;
  std::vector<std::vector<uint8_t>> seeds;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("-max_total_time=", 0) == 0) max_seconds = std::atof(a.c_str() + 16);
    else if (a.rfind("-runs=", 0) == 0) max_runs = std::atol(a.c_str() + 6);
    else if (a[0] == '-') continue;  // libFuzzer flags this driver does not take
    else {
      std::vector<std::filesystem::path> files;
      if (std::filesystem::is_directory(a))
        for (const auto& e : std::filesystem::directory_iterator(a)) files.push_back(e.path());
      else files.emplace_back(a);
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
    }
  }
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(save_current);
  for (int sig : {SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL}) std::signal(sig, on_fatal_signal);
  long runs = 0;
  for (const auto& s : seeds) {
    run(s);
    ++runs;
  }
  std::mt19937_64 rng(0x756e6d61726bULL);  // fixed: a run is repeatable
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(max_seconds);
  while ((max_runs < 0 || runs < max_runs) && std::chrono::steady_clock::now() < until) {
    std::vector<uint8_t> base = seeds.empty() ? std::vector<uint8_t>{} : seeds[size_t(rng() % seeds.size())];
    run(mutate(std::move(base), seeds, rng));
    ++runs;
  }
  std::printf("fuzz driver: %ld inputs (%zu seeds), no crash\n", runs, seeds.size());
  std::fflush(stdout);
  std::_Exit(0);
}
