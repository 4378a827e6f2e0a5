// A one-line progress bar on a terminal: frames, fps, ETA. Silent when stderr is not a TTY.
#pragma once

#include "pipeline/pipeline.h"

namespace unmark {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled);
  ~ProgressBar();
  void update(const Progress& p);
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace unmark
