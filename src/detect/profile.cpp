#include "detect/profile.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/json_text.h"
#include "embedded_profiles.h"
#include "io/png_io.h"

namespace unmark {
namespace {

// BT.709 limited range, the colour of nearly every video a profile is learned from.
cv::Vec3f yuv_to_rgb(cv::Vec3f yuv) {
  float y = (yuv[0] - 16.f) * 255.f / 219.f, u = (yuv[1] - 128.f) * 255.f / 224.f,
        v = (yuv[2] - 128.f) * 255.f / 224.f;
  return {y + 1.5748f * v, y - 0.1873f * u - 0.4681f * v, y + 1.8556f * u};
}
cv::Vec3f rgb_to_yuv(cv::Vec3f rgb) {
  float y = 0.2126f * rgb[0] + 0.7152f * rgb[1] + 0.0722f * rgb[2];
  float u = (rgb[2] - y) / 1.8556f, v = (rgb[0] - y) / 1.5748f;
  return {16.f + y * 219.f / 255.f, 128.f + u * 224.f / 255.f, 128.f + v * 224.f / 255.f};
}

Profile parse(const nlohmann::json& j, const cv::Mat& png, const std::string& where) {
  if (j.value("format", "") != "unmark-profile")
    throw Error("detect", ErrorKind::input, "'" + where + "' is not an unmark profile");
  if (png.empty() || png.channels() != 4)
    throw Error("detect", ErrorKind::input, "the image of profile '" + where + "' is missing or not RGBA");
  Profile p;
  p.name = j.value("name", "");
  p.reference_width = j.at("reference_width");
  p.reference_height = j.at("reference_height");
  p.learned_from = j.value("learned_from", "");
  p.mirrors = j.value("mirrors", false);
  for (const auto& place : j.value("places", nlohmann::json::array()))
    p.places.emplace_back(place.at("x").get<double>(), place.at("y").get<double>());
  const double scale = png.depth() == CV_16U ? 1.0 / 65535.0 : 1.0 / 255.0;
  p.alpha.create(png.rows, png.cols, CV_32F);
  p.color.create(png.rows, png.cols, CV_32FC3);
  for (int y = 0; y < png.rows; ++y)
    for (int x = 0; x < png.cols; ++x) {
      cv::Vec4d bgra;
      if (png.depth() == CV_16U) bgra = cv::Vec4d(png.at<cv::Vec4w>(y, x));
      else bgra = cv::Vec4d(png.at<cv::Vec4b>(y, x));
      p.alpha.at<float>(y, x) = float(bgra[3] * scale);
      p.color.at<cv::Vec3f>(y, x) =
          rgb_to_yuv({float(bgra[2] * scale * 255), float(bgra[1] * scale * 255), float(bgra[0] * scale * 255)});
    }
  if (p.reference_width <= 0 || p.alpha.cols > p.reference_width)
    throw Error("detect", ErrorKind::input, "profile '" + where + "' has a bad reference size");
  if (j.contains("color_yuv")) {
    // One colour for the whole mark (a measured profile), exact: the image's RGB clips colours
    // just outside its gamut (a white measured at Y 234 V 132).
    const nlohmann::json& c = j["color_yuv"];
    if (!c.is_array() || c.size() != 3 || !c[0].is_number() || !c[1].is_number() || !c[2].is_number())
      throw Error("detect", ErrorKind::input, "profile '" + where + "' has a bad color_yuv");
    p.color.setTo(cv::Scalar(c[0].get<double>(), c[1].get<double>(), c[2].get<double>()));
  }
  if (j.contains("undo")) {
    // A measured profile's undo map: one string per row, '1' where undoing beats painting.
    const nlohmann::json& rows = j["undo"];
    if (!rows.is_array() || int(rows.size()) != p.alpha.rows)
      throw Error("detect", ErrorKind::input, "profile '" + where + "' has a bad undo map");
    p.undo.create(p.alpha.size(), CV_8U);
    for (int y = 0; y < p.alpha.rows; ++y) {
      const std::string row = rows[size_t(y)].is_string() ? rows[size_t(y)].get<std::string>() : "";
      if (int(row.size()) != p.alpha.cols)
        throw Error("detect", ErrorKind::input, "profile '" + where + "' has a bad undo map");
      for (int x = 0; x < p.alpha.cols; ++x) p.undo.at<uint8_t>(y, x) = row[size_t(x)] == '1' ? 255 : 0;
    }
  }
  return p;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("detect", ErrorKind::input, "cannot read '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The mark's alpha and colour resampled by `scale` (area averaging down, bilinear up).
void resample(const Profile& profile, double scale, cv::Mat& alpha, cv::Mat& color) {
  const int w = std::max(4, int(std::lround(profile.width() * scale)));
  const int h = std::max(2, int(std::lround(profile.height() * scale)));
  const int interp = scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR;
  cv::resize(profile.alpha, alpha, {w, h}, 0, 0, interp);
  cv::resize(profile.color, color, {w, h}, 0, 0, interp);
}

}  // namespace

ScaledMark scale_profile(const Profile& profile, int frame_width) {
  ScaledMark m;
  m.scale = double(frame_width) / profile.reference_width;
  if (frame_width == profile.reference_width) m.undo = profile.undo;
  m.template_grey = profile.template_grey;
  resample(profile, m.scale, m.alpha, m.color);
  return m;
}

Profile profile_at_scale(const Profile& profile, double scale, int frame_width, int frame_height) {
  Profile p = profile;
  p.reference_width = frame_width;
  p.reference_height = frame_height;
  resample(profile, scale, p.alpha, p.color);
  if (!profile.undo.empty()) cv::resize(profile.undo, p.undo, p.alpha.size(), 0, 0, cv::INTER_NEAREST);
  return p;
}

std::optional<MarkParts> mark_parts(const cv::Mat& alpha) {
  if (alpha.empty()) return std::nullopt;
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(alpha >= 0.5f, labels, stats, centroids, 8, CV_32S);
  int glyph = 0;
  for (int i = 1; i < n; ++i)
    if (!glyph || stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(glyph, cv::CC_STAT_AREA)) glyph = i;
  if (!glyph) return std::nullopt;
  const int g0 = stats.at<int>(glyph, cv::CC_STAT_LEFT), g1 = g0 + stats.at<int>(glyph, cv::CC_STAT_WIDTH);
  // The text: the columns beside the glyph that hold any of the mark (faint alpha counts).
  const int w = alpha.cols;
  std::vector<bool> inked(size_t(w), false);
  for (int y = 0; y < alpha.rows; ++y)
    for (int x = 0; x < w; ++x) inked[size_t(x)] = inked[size_t(x)] || alpha.at<float>(y, x) >= 0.2f;
  auto extent = [&](int from, int to) {  // first and one past the last inked column in [from, to)
    int a = -1, b = -1;
    for (int x = from; x < to; ++x)
      if (inked[size_t(x)]) {
        if (a < 0) a = x;
        b = x + 1;
      }
    return std::pair{a, b};
  };
  const auto [r0, r1] = extent(g1, w);
  const auto [l0, l1] = extent(0, g0);
  const bool text_right = r0 >= 0 && (r1 - r0) * 2 >= g1 - g0;
  const bool text_left = l0 >= 0 && (l1 - l0) * 2 >= g1 - g0;
  if (text_right == text_left) return std::nullopt;  // no text beside it, or text on both sides
  MarkParts parts;
  parts.glyph = cv::Rect(g0, 0, g1 - g0, alpha.rows);
  parts.text = text_right ? cv::Rect(r0, 0, r1 - r0, alpha.rows) : cv::Rect(l0, 0, l1 - l0, alpha.rows);
  parts.text_right = text_right;
  return parts;
}

std::optional<Profile> glyph_profile(const Profile& profile) {
  const std::optional<MarkParts> parts = mark_parts(profile.alpha);
  if (!parts) return std::nullopt;
  // The glyph's columns, its rows where it has any alpha, and a margin of 2 samples (its edge).
  cv::Rect r = cv::boundingRect(profile.alpha(parts->glyph) >= 0.1f) + parts->glyph.tl();
  r = cv::Rect(r.x - 2, r.y - 2, r.width + 4, r.height + 4) & cv::Rect(0, 0, profile.width(), profile.height());
  Profile g = profile;
  g.alpha = profile.alpha(r).clone();
  g.color = profile.color(r).clone();
  g.undo = profile.undo.empty() ? cv::Mat() : profile.undo(r).clone();
  g.mirrors = false;
  g.mirror = nullptr;
  return g;
}

std::optional<Profile> mirrored_layout(const Profile& profile) {
  const std::optional<MarkParts> parts = mark_parts(profile.alpha);
  if (!parts) return std::nullopt;
  const int w = profile.width();
  const int g0 = parts->glyph.x, g1 = parts->glyph.br().x;
  const int t0 = parts->text.x, t1 = parts->text.br().x;
  // Columns in their new order: [margin][text][gap][glyph][margin] becomes its mirror image in
  // the order of the parts, each part kept as drawn.
  std::vector<int> order;
  auto take = [&](int a, int b) { for (int x = a; x < b; ++x) order.push_back(x); };
  if (parts->text_right) {
    take(t1, w);    // the right margin goes left
    take(t0, t1);   // the text
    take(g1, t0);   // the gap
    take(g0, g1);   // the glyph
    take(0, g0);    // the left margin goes right
  } else {
    take(0, t0);
    take(g0, g1);
    take(t1, g0);
    take(t0, t1);
    take(g1, w);
  }
  Profile m = profile;
  m.name = profile.name + " (mirrored)";
  auto permute = [&](const cv::Mat& src) {
    if (src.empty()) return cv::Mat();
    cv::Mat dst(src.size(), src.type());
    for (int x = 0; x < w; ++x) src.col(order[size_t(x)]).copyTo(dst.col(x));
    return dst;
  };
  m.alpha = permute(profile.alpha);
  m.color = permute(profile.color);
  m.undo = permute(profile.undo);
  return m;
}

cv::Mat mark_template(const ScaledMark& mark) {
  std::vector<cv::Mat> yuv;
  cv::split(mark.color, yuv);
  return mark.alpha.mul(yuv[0] - mark.template_grey);
}

std::vector<std::string> builtin_profiles() {
  std::vector<std::string> names;
  for (const EmbeddedProfile& e : embedded_profiles()) names.push_back(e.name);
  return names;
}

Profile load_profile(const std::string& name_or_path) {
  for (const EmbeddedProfile& e : embedded_profiles()) {
    if (name_or_path != e.name) continue;
    cv::Mat png = decode_png(e.png, e.png_size);
    return parse(parse_json(std::string_view(e.json, e.json_size)), png, e.name);
  }
  namespace fs = std::filesystem;
  if (!fs::exists(name_or_path)) {
    std::string names;
    for (const auto& n : builtin_profiles()) names += (names.empty() ? "" : ", ") + n;
    throw Error("cli", ErrorKind::usage,
                "--profile '" + name_or_path + "' is neither a built-in profile (" + names +
                    ") nor a file");
  }
  nlohmann::json j;
  try {
    j = parse_json(read_file(name_or_path));
  } catch (const nlohmann::json::exception&) {
    throw Error("detect", ErrorKind::input, "'" + name_or_path + "' is not an unmark profile (not JSON)");
  }
  if (!j.is_object() || !j.contains("image") || !j["image"].is_string())
    throw Error("detect", ErrorKind::input, "'" + name_or_path + "' is not an unmark profile");
  // The image lies beside the profile: a file name, never a path elsewhere.
  const std::string image = j["image"].get<std::string>();
  if (image.empty() || image.find('/') != std::string::npos || image == "." || image == "..")
    throw Error("detect", ErrorKind::input, "'" + name_or_path + "': its image must be a file name beside it");
  fs::path png_path = fs::path(name_or_path).parent_path() / image;
  cv::Mat png = read_png(png_path.string());
  try {
    return parse(j, png, name_or_path);
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong type or missing
    throw Error("detect", ErrorKind::input, "'" + name_or_path + "' is not an unmark profile: " + e.what());
  }
}

void save_profile(const Profile& p, const std::string& json_path) {
  namespace fs = std::filesystem;
  fs::path json_file(json_path);
  fs::path png_file = json_file;
  png_file.replace_extension(".png");
  cv::Mat png(p.alpha.rows, p.alpha.cols, CV_16UC4);
  for (int y = 0; y < png.rows; ++y)
    for (int x = 0; x < png.cols; ++x) {
      cv::Vec3f rgb = yuv_to_rgb(p.color.at<cv::Vec3f>(y, x));
      auto q = [](float v) { return cv::saturate_cast<uint16_t>(v / 255.f * 65535.f + 0.5f); };
      png.at<cv::Vec4w>(y, x) = {q(rgb[2]), q(rgb[1]), q(rgb[0]),
                                 cv::saturate_cast<uint16_t>(p.alpha.at<float>(y, x) * 65535.f + 0.5f)};
    }
  // Both files go to temporary names first and are renamed only when both are complete.
  const std::string png_tmp = png_file.string() + ".part.png", json_tmp = json_path + ".part";
  auto discard = [&] {
    std::error_code ec;
    fs::remove(png_tmp, ec);
    fs::remove(json_tmp, ec);
  };
  try {
    write_png(png_tmp, png);
  } catch (const Error&) {
    discard();
    throw Error("detect", ErrorKind::output, "cannot write '" + png_file.string() + "'");
  }
  nlohmann::json places = nlohmann::json::array();
  for (const auto& pl : p.places) places.push_back({{"x", pl.x}, {"y", pl.y}});
  nlohmann::json j = {{"format", "unmark-profile"},
                      {"version", 1},
                      {"name", p.name},
                      {"image", png_file.filename().string()},
                      {"reference_width", p.reference_width},
                      {"reference_height", p.reference_height},
                      {"mark_width", p.alpha.cols},
                      {"mark_height", p.alpha.rows},
                      {"relative_width", p.relative_width()},
                      {"places", places},
                      {"learned_from", p.learned_from}};
  if (p.mirrors) j["mirrors"] = true;
  if (!p.color.empty()) {
    const cv::Vec3f first = p.color.at<cv::Vec3f>(0, 0);
    bool uniform = true;
    p.color.forEach<cv::Vec3f>([&](const cv::Vec3f& c, const int*) { uniform = uniform && c == first; });
    if (uniform) j["color_yuv"] = {first[0], first[1], first[2]};
  }
  if (p.measured()) {
    nlohmann::json rows = nlohmann::json::array();
    for (int y = 0; y < p.undo.rows; ++y) {
      std::string row(size_t(p.undo.cols), '0');
      for (int x = 0; x < p.undo.cols; ++x) row[size_t(x)] = p.undo.at<uint8_t>(y, x) ? '1' : '0';
      rows.push_back(row);
    }
    j["undo"] = rows;
  }
  {
    std::ofstream f(json_tmp);
    f << dump_json(j, 2) << "\n";
    f.close();
    if (!f) {
      discard();
      throw Error("detect", ErrorKind::output, "cannot write '" + json_path + "'");
    }
  }
  std::error_code ec;
  fs::rename(png_tmp, png_file, ec);
  if (!ec) fs::rename(json_tmp, json_file, ec);
  if (ec) {
    discard();
    throw Error("detect", ErrorKind::output, "cannot write '" + json_path + "': " + ec.message());
  }
}

}  // namespace unmark
