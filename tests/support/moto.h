// A real S3 server on loopback for the tests: `moto_server` (Python moto) on a free port, started
// per test suite. With `auth`, it checks every request's SigV4 signature against an IAM user the
// fixture creates (so a wrong secret is refused as AWS would); without, it takes any key (moto
// cannot check presigned URLs while checking signatures, so presigned downloads use this one).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace unmark::test {

class MotoServer {
 public:
  // nullptr when moto_server is not installed or does not start; `why` says which.
  static std::unique_ptr<MotoServer> start(bool auth, const std::string& bucket, std::string* why);
  ~MotoServer();

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }

 private:
  MotoServer() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string access_key_ = "AKIAUNMARKTEST000000", secret_key_ = "unmark-test-secret";
};

}  // namespace unmark::test
