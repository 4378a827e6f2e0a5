// The spatial remover: membrane inpainting of each mark's box on every plane.
#pragma once

#include <memory>

#include "remove/remover.h"

namespace unmark {

std::unique_ptr<Remover> make_inpaint_remover(const RemoverOptions& options);
// Draws each mark's box (a two-pixel white and black frame) instead of removing it.
std::unique_ptr<Remover> make_outline_remover(const RemoverOptions& options);

}  // namespace unmark
