#include "serve/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <stdexcept>

namespace unmark::serve {

namespace {

std::string hex(const unsigned char* data, size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

std::string hmac_sha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out, &size))
    throw std::runtime_error("HMAC-SHA256 failed");
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string scope_of(const SigV4Request& r, const std::string& date) {
  return date.substr(0, 8) + "/" + r.region + "/" + r.service + "/aws4_request";
}

std::string canonical_query(std::vector<std::pair<std::string, std::string>> query) {
  for (auto& [name, value] : query) {
    name = uri_encode(name, false);
    value = uri_encode(value, false);
  }
  std::sort(query.begin(), query.end());
  std::string out;
  for (const auto& [name, value] : query) out += (out.empty() ? "" : "&") + name + "=" + value;
  return out;
}

// The signature over `canonical_request` (SigV4's string to sign, with the derived key).
std::string signature(const SigV4Request& r, const SigV4Key& key, const std::string& date,
                      const std::string& canonical_request) {
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + date + "\n" + scope_of(r, date) + "\n" + sha256_hex(canonical_request);
  std::string k = hmac_sha256("AWS4" + key.secret_key, date.substr(0, 8));
  k = hmac_sha256(k, r.region);
  k = hmac_sha256(k, r.service);
  k = hmac_sha256(k, "aws4_request");
  const std::string mac = hmac_sha256(k, string_to_sign);
  return hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

// Canonical headers and the signed-header list for `headers` (names lower case) plus host.
std::pair<std::string, std::string> canonical_headers(const SigV4Request& r,
                                                      const std::map<std::string, std::string>& headers) {
  std::map<std::string, std::string> all = headers;
  all["host"] = r.host;
  std::string canonical, names;
  for (const auto& [name, value] : all) {  // std::map: sorted by name
    std::string v = value;
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t") + 1);
    canonical += name + ":" + v + "\n";
    names += (names.empty() ? "" : ";") + name;
  }
  return {canonical, names};
}

}  // namespace

std::string uri_encode(const std::string& text, bool keep_slash) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

std::string sha256_hex(const void* data, size_t size) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest(data, size, out, &n, EVP_sha256(), nullptr)) throw std::runtime_error("SHA-256 failed");
  return hex(out, n);
}

std::string sha256_hex(const std::string& data) { return sha256_hex(data.data(), data.size()); }

std::string amz_date(std::time_t when) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

std::map<std::string, std::string> sigv4_sign(const SigV4Request& r, const SigV4Key& key, std::time_t when) {
  const std::string date = amz_date(when);
  std::map<std::string, std::string> headers = r.headers;
  headers["x-amz-date"] = date;
  headers["x-amz-content-sha256"] = r.payload_sha256;
  if (!key.session_token.empty()) headers["x-amz-security-token"] = key.session_token;
  auto [canonical, names] = canonical_headers(r, headers);
  const std::string request = r.method + "\n" + uri_encode(r.path, true) + "\n" + canonical_query(r.query) + "\n" +
                              canonical + "\n" + names + "\n" + r.payload_sha256;
  headers["authorization"] = "AWS4-HMAC-SHA256 Credential=" + key.access_key + "/" + scope_of(r, date) +
                             ", SignedHeaders=" + names + ", Signature=" + signature(r, key, date, request);
  return headers;
}

std::string sigv4_presign_query(const SigV4Request& r, const SigV4Key& key, std::time_t when, int expires_s) {
  const std::string date = amz_date(when);
  std::vector<std::pair<std::string, std::string>> query = r.query;
  query.emplace_back("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
  query.emplace_back("X-Amz-Credential", key.access_key + "/" + scope_of(r, date));
  query.emplace_back("X-Amz-Date", date);
  query.emplace_back("X-Amz-Expires", std::to_string(expires_s));
  if (!key.session_token.empty()) query.emplace_back("X-Amz-Security-Token", key.session_token);
  query.emplace_back("X-Amz-SignedHeaders", "host");
  auto [canonical, names] = canonical_headers(r, {});
  const std::string cq = canonical_query(query);
  const std::string request = r.method + "\n" + uri_encode(r.path, true) + "\n" + cq + "\n" + canonical + "\n" +
                              names + "\n" + "UNSIGNED-PAYLOAD";
  return cq + "&X-Amz-Signature=" + signature(r, key, date, request);
}

}  // namespace unmark::serve
