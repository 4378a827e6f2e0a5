#include "serve/storage.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "serve/job.h"

namespace unmark::serve {

namespace fs = std::filesystem;

void StorageBackend::check_target(const std::string& uri, bool, const JobAccess&) const {
  throw ApiError(422, "invalid_target", "'" + uri.substr(0, 40) + "' cannot be a target_uri");
}

std::string StorageBackend::store(const std::string&, const std::string& uri, bool, const JobAccess&,
                                  const std::atomic<bool>*) const {
  throw Error("store", ErrorKind::output, "'" + uri + "' cannot be a target");
}

Storage::Storage(StorageOptions options) : options_(std::move(options)) {
  backends_.push_back(make_inline_storage(options_));
  backends_.push_back(make_http_storage(options_));
  backends_.push_back(make_s3_storage(options_));
  backends_.push_back(make_file_storage(options_));  // last: it takes plain paths
}

Storage::~Storage() = default;

const StorageBackend& Storage::backend_for(const std::string& uri) const {
  for (const auto& b : backends_)
    if (b->handles(uri)) return *b;
  std::string scheme = uri.substr(0, uri.find(':'));
  throw ApiError(422, "unsupported_uri",
                 "'" + scheme + ":' URIs are not supported (use a path, file://, http(s)://, s3://, data: or base64:)");
}

void Storage::check_source(const std::string& uri, const JobAccess& access) const {
  backend_for(uri).check_source(uri, access);
}
void Storage::check_target(const std::string& uri, bool overwrite, const JobAccess& access) const {
  backend_for(uri).check_target(uri, overwrite, access);
}
std::string Storage::local_path(const std::string& uri) const { return backend_for(uri).local_path(uri); }
void Storage::fetch(const std::string& uri, const JobAccess& access, const std::string& dest,
                    const std::atomic<bool>* cancel) const {
  backend_for(uri).fetch(uri, access, dest, cancel);
}
std::string Storage::store(const std::string& local, const std::string& uri, bool overwrite, const JobAccess& access,
                           const std::atomic<bool>* cancel) const {
  return backend_for(uri).store(local, uri, overwrite, access, cancel);
}

// -- addresses ------------------------------------------------------------------------------------

namespace {

bool private_v4(uint32_t a) {  // host byte order
  auto in = [&](uint32_t net, int bits) { return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits)); };
  return in(0x00000000, 8) ||      // "this network", 0.0.0.0
         in(0x0A000000, 8) ||      // 10/8
         in(0x64400000, 10) ||     // 100.64/10 carrier-grade NAT
         in(0x7F000000, 8) ||      // loopback
         in(0xA9FE0000, 16) ||     // link-local, cloud metadata 169.254.169.254
         in(0xAC100000, 12) ||     // 172.16/12
         in(0xC0000000, 24) ||     // 192.0.0/24 protocol assignments
         in(0xC0A80000, 16) ||     // 192.168/16
         in(0xC6120000, 15) ||     // 198.18/15 benchmarking
         in(0xE0000000, 4) ||      // multicast
         in(0xF0000000, 4);        // reserved and broadcast
}

}  // namespace

bool is_private_address(const std::string& text) {
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return private_v4(ntohl(v4.s_addr));
  in6_addr v6{};
  std::string t = text;
  if (t.size() > 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
  if (inet_pton(AF_INET6, t.c_str(), &v6) != 1) return false;
  const uint8_t* b = v6.s6_addr;
  bool zero_prefix = true;
  for (int i = 0; i < 10; ++i) zero_prefix &= b[i] == 0;
  if (zero_prefix && b[10] == 0xff && b[11] == 0xff)  // IPv4-mapped
    return private_v4(uint32_t(b[12]) << 24 | uint32_t(b[13]) << 16 | uint32_t(b[14]) << 8 | b[15]);
  bool all_zero = zero_prefix && b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0;
  if (all_zero && (b[15] == 0 || b[15] == 1)) return true;  // :: and ::1
  if ((b[0] & 0xfe) == 0xfc) return true;                   // fc00::/7 unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;   // fe80::/10 link-local
  if (b[0] == 0xff) return true;                            // multicast
  return false;
}

std::string decode_base64(const std::string& text) {
  auto value = [](unsigned char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : text) {
    if (c == '=' ) break;
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    int v = value(c);
    if (v < 0) throw ApiError(422, "invalid_base64", "the base64 source has a character that is not base64");
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  return out;
}

// -- file:// and plain paths ------------------------------------------------------------------------

namespace {

// A file descriptor closed when it goes out of scope.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

class FileStorage : public StorageBackend {
 public:
  explicit FileStorage(const StorageOptions& options) {
    for (const std::string& dir : options.allow_dirs) {
      std::error_code ec;
      fs::path root = fs::canonical(dir, ec);
      if (ec) throw Error("serve", ErrorKind::usage, "--allow-dir '" + dir + "' does not exist");
      roots_.push_back(root);
    }
  }

  bool handles(const std::string& uri) const override {
    return uri.rfind("file://", 0) == 0 || uri.find("://") == std::string::npos;
  }

  void check_source(const std::string& uri, const JobAccess&) const override {
    fs::path p = resolve(uri);
    std::error_code ec;
    if (!fs::exists(p, ec)) throw ApiError(404, "source_not_found", "source '" + uri + "' does not exist");
    if (!fs::is_regular_file(p, ec)) throw ApiError(422, "invalid_source", "source '" + uri + "' is not a file");
  }

  std::string local_path(const std::string& uri) const override { return resolve(uri).string(); }

  void fetch(const std::string& uri, const JobAccess&, const std::string& dest,
             const std::atomic<bool>*) const override {
    std::error_code ec;
    fs::copy_file(resolve(uri), dest, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error("fetch", ErrorKind::input, "cannot copy '" + uri + "': " + ec.message());
  }

  void check_target(const std::string& uri, bool overwrite, const JobAccess&) const override {
    fs::path p = resolve(uri);
    std::error_code ec;
    if (fs::is_directory(p, ec)) throw ApiError(422, "invalid_target", "target '" + uri + "' is a directory");
    if (!overwrite && fs::exists(p, ec))
      throw ApiError(409, "target_exists", "target '" + uri + "' exists (set overwrite to replace it)");
  }

  // The copy is made under a fresh name beside the target, created with O_EXCL|O_NOFOLLOW (a link
  // planted at a name we might pick is never followed), then renamed over the target's name in
  // the same directory, which replaces whatever is there (a symlink included) without following
  // it; without `overwrite` the rename refuses an existing name. The directory is opened once and
  // checked, after opening, to still lie inside a root.
  std::string store(const std::string& local, const std::string& uri, bool overwrite, const JobAccess&,
                    const std::atomic<bool>*) const override {
    const fs::path target = resolve(uri);
    const std::string name = target.filename().string();
    if (name.empty() || name == "." || name == "..")
      throw Error("store", ErrorKind::output, "target '" + uri + "' names no file");
    auto fail = [&](const std::string& why) -> Error {
      return Error("store", ErrorKind::output, "cannot write '" + uri + "': " + why);
    };
    UniqueFd dir(::open(target.parent_path().c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (dir.get() < 0) throw fail(std::strerror(errno));
    std::error_code ec;
    const fs::path opened = fs::read_symlink("/proc/self/fd/" + std::to_string(dir.get()), ec);
    if (ec || !inside_a_root(opened))
      throw ApiError(403, "path_not_allowed", "'" + uri + "' is outside the directories this server may use");

    UniqueFd in(::open(local.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) throw fail("cannot read the result: " + std::string(std::strerror(errno)));
    std::string temp;
    UniqueFd out;
    for (int attempt = 0; attempt < 16 && out.get() < 0; ++attempt) {
      temp = "." + name.substr(0, 200) + ".unmark-" + random_suffix() + ".part";
      out.reset(::openat(dir.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
      if (out.get() < 0 && errno != EEXIST) throw fail(std::strerror(errno));
    }
    if (out.get() < 0) throw fail("no free temporary name beside it");
    auto discard = [&] { ::unlinkat(dir.get(), temp.c_str(), 0); };
    char buffer[1 << 16];
    for (;;) {
      ssize_t n = ::read(in.get(), buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string why = std::strerror(errno);
        discard();
        throw fail(why);
      }
      if (n == 0) break;
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(out.get(), buffer + done, size_t(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          const std::string why = std::strerror(errno);
          discard();
          throw fail(why);
        }
        done += w;
      }
    }
    if (::fsync(out.get()) != 0 || ::close(out.release()) != 0) {
      const std::string why = std::strerror(errno);
      discard();
      throw fail(why);
    }
    const int renamed = overwrite ? ::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str())
                                  : ::renameat2(dir.get(), temp.c_str(), dir.get(), name.c_str(), RENAME_NOREPLACE);
    if (renamed != 0) {
      const int e = errno;
      discard();
      if (e == EEXIST) throw Error("store", ErrorKind::output, "target '" + uri + "' exists (set overwrite to replace it)");
      if (e == EISDIR) throw Error("store", ErrorKind::output, "target '" + uri + "' is a directory");
      throw fail(std::strerror(e));
    }
    return "";
  }

 private:
  // The absolute, symlink-free path of `uri`, or ApiError 403 when it is outside every root.
  // A target need not exist yet: its directory is resolved instead.
  fs::path resolve(const std::string& uri) const {
    std::string path = uri.rfind("file://", 0) == 0 ? uri.substr(7) : uri;
    if (roots_.empty())
      throw ApiError(403, "path_not_allowed", "file paths are not allowed on this server (start it with --allow-dir)");
    if (path.empty() || path.front() != '/')
      throw ApiError(422, "invalid_path", "'" + uri + "' is not an absolute path");
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::path(path), ec);  // resolves .. and every symlink that exists
    if (ec) throw ApiError(422, "invalid_path", "'" + uri + "': " + ec.message());
    if (inside_a_root(p)) return p;
    throw ApiError(403, "path_not_allowed", "'" + uri + "' is outside the directories this server may use");
  }

  bool inside_a_root(const fs::path& p) const {
    return std::any_of(roots_.begin(), roots_.end(), [&](const fs::path& root) {
      return std::mismatch(root.begin(), root.end(), p.begin(), p.end()).first == root.end();
    });
  }

  static std::string random_suffix() {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(rng()));
    return text;
  }

  std::vector<fs::path> roots_;
};

// data:[<type>][;base64],<data> and base64:<data>
class InlineStorage : public StorageBackend {
 public:
  explicit InlineStorage(const StorageOptions& options) : max_bytes_(options.max_inline_bytes) {}

  bool handles(const std::string& uri) const override {
    return uri.rfind("data:", 0) == 0 || uri.rfind("base64:", 0) == 0;
  }

  void check_source(const std::string& uri, const JobAccess&) const override {
    std::string payload = payload_of(uri);
    if (int64_t(payload.size()) / 4 * 3 > max_bytes_)
      throw ApiError(413, "source_too_large",
                     "inline sources are limited to " + std::to_string(max_bytes_ >> 20) + " MiB; upload the file instead");
    decode_base64(payload);  // a bad character answers now, not in the job
  }

  void fetch(const std::string& uri, const JobAccess&, const std::string& dest,
             const std::atomic<bool>*) const override {
    std::string bytes = decode_base64(payload_of(uri));
    std::ofstream out(dest, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) throw Error("fetch", ErrorKind::output, "cannot write the inline source to '" + dest + "'");
  }

 private:
  static std::string payload_of(const std::string& uri) {
    if (uri.rfind("base64:", 0) == 0) return uri.substr(7);
    size_t comma = uri.find(',');
    if (comma == std::string::npos) throw ApiError(422, "invalid_data_uri", "a data: URI needs a ',' before its data");
    if (uri.substr(0, comma).find(";base64") == std::string::npos)
      throw ApiError(422, "invalid_data_uri", "data: URIs must be base64 (data:video/mp4;base64,...)");
    return uri.substr(comma + 1);
  }

  int64_t max_bytes_;
};

}  // namespace

std::unique_ptr<StorageBackend> make_file_storage(const StorageOptions& options) {
  return std::make_unique<FileStorage>(options);
}

std::unique_ptr<StorageBackend> make_inline_storage(const StorageOptions& options) {
  return std::make_unique<InlineStorage>(options);
}

}  // namespace unmark::serve
