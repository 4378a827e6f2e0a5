// AWS Signature Version 4 for S3 (and any S3-compatible store): the Authorization header of a
// request, and presigned GET URLs. Pure functions of their inputs (the time is passed in), so the
// tests check them against AWS's published examples.
#pragma once

#include <ctime>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace unmark::serve {

struct SigV4Key {
  std::string access_key, secret_key;
  std::string session_token;  // temporary credentials only
};

struct SigV4Request {
  std::string method = "GET";
  std::string host;         // as sent in the Host header: "bucket.s3.amazonaws.com", "127.0.0.1:9000"
  std::string path = "/";   // raw (not yet encoded) path, e.g. "/bucket/a b.mp4"
  std::vector<std::pair<std::string, std::string>> query;  // raw names and values
  std::map<std::string, std::string> headers;  // lower-case names to sign, besides host (x-amz-date etc.)
  std::string payload_sha256;                  // hex; "UNSIGNED-PAYLOAD" for presigned URLs
  std::string region = "us-east-1";
  std::string service = "s3";
};

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, '/' stays only when
// `keep_slash` (object paths), everything else is %XX with upper-case hex.
std::string uri_encode(const std::string& text, bool keep_slash);

std::string sha256_hex(const std::string& data);
std::string sha256_hex(const void* data, size_t size);

// "20130524T000000Z" for `when` (UTC).
std::string amz_date(std::time_t when);

// The headers to send: `request.headers` plus x-amz-date, x-amz-content-sha256, the session token
// when there is one, and Authorization. `when` is the signing time.
std::map<std::string, std::string> sigv4_sign(const SigV4Request& request, const SigV4Key& key, std::time_t when);

// The query string (without '?') of a presigned URL for `request` (its method, host and path),
// valid `expires_s` seconds from `when`.
std::string sigv4_presign_query(const SigV4Request& request, const SigV4Key& key, std::time_t when, int expires_s);

}  // namespace unmark::serve
