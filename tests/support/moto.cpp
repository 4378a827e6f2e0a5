#include "support/moto.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <httplib.h>

namespace unmark::test {

namespace {

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    if (access((dirs.substr(start, end - start) + "/" + name).c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

std::string between(const std::string& text, const std::string& open, const std::string& close) {
  size_t a = text.find(open);
  if (a == std::string::npos) return "";
  a += open.size();
  size_t b = text.find(close, a);
  return b == std::string::npos ? "" : text.substr(a, b - a);
}

}  // namespace

std::unique_ptr<MotoServer> MotoServer::start(bool auth, const std::string& bucket, std::string* why) {
  if (!on_path("moto_server")) {
    *why = "moto_server is not installed (pip install 'moto[server]')";
    return nullptr;
  }
  std::unique_ptr<MotoServer> m(new MotoServer());
  m->port_ = free_port();
  m->pid_ = fork();
  if (m->pid_ == 0) {
    setpgid(0, 0);  // the pyenv shim and python under it go down together
    if (auth) setenv("INITIAL_NO_AUTH_ACTION_COUNT", "4", 1);  // the set-up below, then signatures checked
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    std::string port = std::to_string(m->port_);
    execlp("moto_server", "moto_server", "-H", "127.0.0.1", "-p", port.c_str(), nullptr);
    _exit(127);
  }
  httplib::Client c("127.0.0.1", m->port_);
  c.set_connection_timeout(1, 0);
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    // Any answer will do; moto counts it as one of the unauthenticated actions only when it is
    // an AWS action, which a bare GET of /moto-api/ is not.
    if (auto r = c.Get("/moto-api/data.json")) up = true;
    else std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!up) {
    *why = "moto_server did not start on port " + std::to_string(m->port_);
    return nullptr;
  }
  if (auth) {
    // moto routes an unsigned request by the service named in its credential scope.
    httplib::Headers iam = {{"Authorization", "AWS4-HMAC-SHA256 Credential=AKIAX/20260101/us-east-1/iam/aws4_request, "
                                              "SignedHeaders=host, Signature=0"}};
    auto call = [&](const std::string& form) {
      auto r = c.Post("/", iam, form, "application/x-www-form-urlencoded");
      return r && r->status == 200 ? r->body : std::string();
    };
    bool ok = !call("Action=CreateUser&UserName=unmark&Version=2010-05-08").empty();
    std::string key = call("Action=CreateAccessKey&UserName=unmark&Version=2010-05-08");
    m->access_key_ = between(key, "<AccessKeyId>", "</AccessKeyId>");
    m->secret_key_ = between(key, "<SecretAccessKey>", "</SecretAccessKey>");
    const std::string policy =
        "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A"
        "%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";  // {"Effect":"Allow","Action":"s3:*","Resource":"*"}
    ok = ok && !call("Action=PutUserPolicy&UserName=unmark&PolicyName=s3&Version=2010-05-08&PolicyDocument=" + policy).empty();
    if (!ok || m->access_key_.empty() || m->secret_key_.empty()) {
      *why = "moto_server's IAM set-up failed";
      return nullptr;
    }
  }
  auto r = c.Put(("/" + bucket).c_str(), "", "text/plain");
  if (!r || r->status != 200) {
    *why = "moto_server did not create the bucket";
    return nullptr;
  }
  return m;
}

MotoServer::~MotoServer() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

}  // namespace unmark::test
