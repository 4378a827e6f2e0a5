#include "cli/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace unmark {

ProgressBar::ProgressBar(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(const Progress& p) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  double fraction = p.frames_total > 0 ? double(p.frames_done) / double(p.frames_total) : 0.0;
  int filled = int(fraction * kWidth + 0.5);
  std::string bar(size_t(filled), '#');
  bar.resize(kWidth, '-');
  char eta[32] = "--:--";
  if (p.eta_seconds >= 0) {
    int s = int(p.eta_seconds + 0.5);
    std::snprintf(eta, sizeof eta, "%d:%02d", s / 60, s % 60);
  }
  std::fprintf(stderr, "\r[%s] %lld/%lld frames  %.1f fps  ETA %s ", bar.c_str(),
               (long long)p.frames_done, (long long)p.frames_total, p.fps, eta);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace unmark
