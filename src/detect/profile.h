// A watermark profile: the mark's appearance at a reference frame width, which is what lets the
// detector find it and the remover undo its blend.
//
// On disk: NAME.json (this struct's fields, documented in profiles/README.md) beside NAME.png, a
// 16-bit RGBA image of the mark at the reference size: RGB is the mark's colour, A its opacity.
// Built-in profiles are compiled into the binary; `--profile NAME` finds those, a path loads a file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace unmark {

struct Profile {
  std::string name;
  int reference_width = 0, reference_height = 0;  // frame size the mark was learned at
  cv::Mat alpha;   // CV_32F, 0..1, the mark's size at the reference width
  cv::Mat color;   // CV_32FC3, the mark's Y, U, V (8-bit scale, limited range), same size
  // Where the mark's centre was seen, as fractions of the frame's width and height.
  std::vector<cv::Point2d> places;
  std::string learned_from;  // how it was made (the command), for the record
  // The mark is also drawn with its text on the other side of its glyph (Sora 2's right-hand
  // places in some videos: the word left of the cloud). Its detector then looks for both.
  bool mirrors = false;
  // The other layout as measured on this video (detect/refine.h, a glyph found alone), used
  // instead of mirrored_layout where set. Not saved.
  std::shared_ptr<const Profile> mirror;
  // Set when the profile was measured on the video being processed, on its own pixel grid
  // (detect/refine.h): CV_8U, the alpha's size; 255 where undoing the blend was measured to beat
  // inpainting, 0 where the remover should inpaint instead. Not saved: it holds for that video.
  cv::Mat undo;
  bool measured() const { return !undo.empty(); }
  // Found by discovery on this video at `places`: its detector looks there only, never over the
  // whole frame (a mark learned from the video alone is a weaker template than a built-in one,
  // and content elsewhere that resembles it is content). Not saved.
  bool places_only = false;
  // The luma the mark is matched against (mark_template): mid-grey for a mark seen over every
  // kind of picture; for one discovered on this video, the mean of the picture around it (a blue
  // word over a black bar is brighter than what is around it, though darker than grey). Not saved.
  float template_grey = 128.f;

  int width() const { return alpha.cols; }
  int height() const { return alpha.rows; }
  // The mark's width as a fraction of the frame width (it scales with the frame).
  double relative_width() const { return double(alpha.cols) / reference_width; }
};

// The mark resampled for one frame size.
struct ScaledMark {
  cv::Mat alpha;  // CV_32F
  cv::Mat color;  // CV_32FC3 (Y, U, V)
  double scale = 1;  // frame pixels per reference pixel
  cv::Mat undo;  // the profile's, when measured and the scale is 1 (else empty)
  float template_grey = 128.f;  // the profile's
  bool measured() const { return !undo.empty(); }
};
ScaledMark scale_profile(const Profile& profile, int frame_width);

// The profile resampled by `scale` (frame pixels per reference pixel) for frames of this size:
// its reference size becomes the frame's, so scale_profile(result, frame_width) is the mark at
// that scale. How a mark whose size the frame does not fix (detect/scale_search.h) is used.
Profile profile_at_scale(const Profile& profile, double scale, int frame_width, int frame_height);

// A mark drawn as a glyph with text beside it (Sora's cloud and word): their boxes in the alpha.
// The glyph is the largest blob of near-opaque alpha, the text the inked columns on one side of
// it. nullopt when the mark has no such parts (a single blob, or text on both sides).
struct MarkParts {
  cv::Rect glyph, text;
  bool text_right = true;
};
std::optional<MarkParts> mark_parts(const cv::Mat& alpha);

// The mark's glyph alone (its text cut away): what is found where the text beside it differs
// from the profile's (a smaller word, a handle line under it). nullopt without such parts.
std::optional<Profile> glyph_profile(const Profile& profile);

// The mark's other layout: its text moved to the other side of its glyph, in the same box. The
// glyph is the largest blob of near-opaque alpha, the text everything else beside it. nullopt
// when the mark has no such parts (a single blob, or text above or below the glyph).
std::optional<Profile> mirrored_layout(const Profile& profile);

// The mark's expected luma change, alpha * (colour - mid-grey) (Profile::template_grey): what
// matching looks for, since it does not depend on the background (the same template for
// detection and measuring).
cv::Mat mark_template(const ScaledMark& mark);

// Loads a built-in profile by name ("sora2") or a profile file by path (NAME.json).
// Throws Error{usage} for an unknown name, Error{input} for a file that is not a profile.
Profile load_profile(const std::string& name_or_path);
// Writes PATH (.json) and the PNG beside it. Throws Error{output}.
void save_profile(const Profile& profile, const std::string& json_path);
// Names of the built-in profiles.
std::vector<std::string> builtin_profiles();

}  // namespace unmark
