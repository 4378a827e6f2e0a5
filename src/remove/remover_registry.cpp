#include <functional>

#include "core/error.h"
#include "remove/inpaint_remover.h"
#include "remove/remover.h"

namespace unmark {
namespace {

struct Entry {
  RemoverInfo info;
  std::function<std::unique_ptr<Remover>(const RemoverOptions&)> make;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> list = {
      {{"inpaint", "membrane inpainting of the box from its surroundings (CPU)"}, make_inpaint_remover},
      {{"deblend", "reverse alpha blending where a profile gives the mark's alpha, inpainting where "
                   "it is nearly opaque (and for marks without a profile)"},
       make_deblend_remover},
      {{"temporal", "fills each mark's footprint (or box) from nearby frames that saw the spot, aligned "
                    "for motion and checked against the frame; inpaints what no frame saw"},
       make_temporal_remover},
      {{"outline", "draws each box instead of removing it (for checking detection by eye)"},
       make_outline_remover},
  };
  return list;
}

}  // namespace

std::vector<RemoverInfo> list_removers() {
  std::vector<RemoverInfo> out;
  for (const Entry& e : entries()) out.push_back(e.info);
  return out;
}

std::unique_ptr<Remover> make_remover(const std::string& name, const RemoverOptions& options) {
  // auto deblends where the profile was measured on the video (exact: 48 dB under a synthetic mark
  // of known alpha) and fills the rest from other frames, inpainting what none saw: a profile
  // learned elsewhere leaves a ghost when undone.
  if (name == "auto") return make_auto_remover(options);
  const std::string& wanted = name;
  for (const Entry& e : entries())
    if (e.info.name == wanted) return e.make(options);
  std::string choices = "auto";
  for (const Entry& e : entries()) choices += ", " + e.info.name;
  throw Error("cli", ErrorKind::usage, "--remove '" + name + "' is not known (choose " + choices + ")");
}

}  // namespace unmark
