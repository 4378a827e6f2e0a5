// Whether a translucent mark is blended into an image at a placement, judged by its edges.
//
// Why not correlation alone: a translucent white mark over a light card with printed text adds
// ~18 levels, while the text under it swings ~190; the text's variance swamps normalized
// correlation (0.37 with the mark there, random placements elsewhere up to 0.45). This test asks
// a different question at each pair of neighbouring samples across the mark's alpha edges:
// does "no mark" (the two observed samples differ only by the background) or "the mark blended
// in" (the two samples, blend undone, differ only by the background) explain them better? Each
// pair's squared residual is capped (the background's own edges, text strokes, are large under
// both answers and so count for neither), and the score is (L_none - L_mark) / (L_none + L_mark):
// near +1 over a smooth background with the mark, near -1 over one without it, near 0 where the
// background's texture leaves no answer. Over the printed card of test_blend.cpp it is 0.51 at
// the mark and at most -0.33 anywhere on the card without it.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace unmark {

// Neighbouring samples a and b of a mark (offsets in its alpha) across a translucent edge: alpha
// steps by more than 0.08 between them and both are below 0.95 (above it, undoing the blend only
// amplifies noise). What judges a blend: the blend test here, and the remover's sub-pixel
// alignment (remove/deblend_remover.cpp).
struct AlphaEdge {
  int ax, ay, bx, by;
};
std::vector<AlphaEdge> translucent_edges(const cv::Mat& alpha);
// Fewer edges than this are too few to judge by (an opaque mark has none).
constexpr size_t kMinAlphaEdges = 24;

class BlendTest {
 public:
  BlendTest() = default;
  // The mark at the image's scale: alpha (CV_32F, 0..1) and its luma colour (CV_32F, 8-bit
  // levels), the same size.
  BlendTest(const cv::Mat& alpha, const cv::Mat& luma_colour);

  // Enough translucent edges to judge by (an opaque mark has none: undoing is ill-posed there).
  bool usable() const { return pairs_.size() >= kMinAlphaEdges; }
  cv::Size size() const { return size_; }

  // The score of every placement of the mark in `image` (8-bit or float luma at the mark's
  // scale): CV_32F, (rows - h + 1) x (cols - w + 1), in -1..1.
  cv::Mat scores(const cv::Mat& image) const;

 private:
  // An alpha edge with its residual under "blended": (blend undone at a - at b) * weight =
  // ka*o_a - kb*o_b + k0, in observed levels.
  struct Pair {
    AlphaEdge at;
    float ka, kb, k0;
  };
  std::vector<Pair> pairs_;
  cv::Size size_;
};

// The mark's alpha and luma colour resampled by `scale` (area averaging; the colour weighted by
// alpha, so the transparent surround does not dilute it), for a BlendTest at a search scale.
void resize_for_blend_test(const cv::Mat& alpha, const cv::Mat& luma_colour, double scale, cv::Mat& alpha_out,
                           cv::Mat& luma_colour_out);

}  // namespace unmark
