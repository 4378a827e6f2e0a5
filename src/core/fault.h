// Fault injection for the fallback paths: UNMARK_FAULT=nvdec,nvenc,cuda,oom makes the named part
// fail as if the hardware or driver had, so machines without a GPU (CI) run every fallback branch.
#pragma once

namespace unmark {

// Whether UNMARK_FAULT (comma-separated) names `what`.
bool fault_injected(const char* what);

}  // namespace unmark
