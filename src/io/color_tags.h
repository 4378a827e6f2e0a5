// A file's colour tags as libav hands them over: its enum fields hold whatever the file says (a
// mov 'colr' atom's 16-bit values go into codecpar unchecked), and reading a value outside an
// enum's range is undefined behaviour. These read the field's bits as an int and give `fallback`
// (unspecified) for a value libav has no name for.
#pragma once

#include <cstring>
#include <type_traits>

extern "C" {
#include <libavutil/pixfmt.h>
}

namespace unmark {

template <typename Enum>
Enum checked_tag(const Enum& field, int count, Enum fallback) {
  static_assert(std::is_enum_v<Enum> && sizeof(Enum) == sizeof(int));
  int raw = 0;
  std::memcpy(&raw, &field, sizeof raw);
  return raw >= 0 && raw < count ? static_cast<Enum>(raw) : fallback;
}

inline AVColorRange checked_range(const AVColorRange& v) { return checked_tag(v, AVCOL_RANGE_NB, AVCOL_RANGE_UNSPECIFIED); }
inline AVColorPrimaries checked_primaries(const AVColorPrimaries& v) {
  return checked_tag(v, AVCOL_PRI_NB, AVCOL_PRI_UNSPECIFIED);
}
inline AVColorTransferCharacteristic checked_transfer(const AVColorTransferCharacteristic& v) {
  return checked_tag(v, AVCOL_TRC_NB, AVCOL_TRC_UNSPECIFIED);
}
inline AVColorSpace checked_space(const AVColorSpace& v) { return checked_tag(v, AVCOL_SPC_NB, AVCOL_SPC_UNSPECIFIED); }
inline AVChromaLocation checked_chroma_location(const AVChromaLocation& v) {
  return checked_tag(v, AVCHROMA_LOC_NB, AVCHROMA_LOC_UNSPECIFIED);
}

}  // namespace unmark
