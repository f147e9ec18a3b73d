// The admin API's transport: the Unix socket is 0600 and answers; the
// optional TCP listener answers on loopback (it binds 127.0.0.1: http_server.cpp)
// and marks its requests; oversized and malformed requests get 4xx; a throwing
// handler costs one request, not the server; what is at the socket path is
// replaced only when it is a stale socket, and stop() removes only its own.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "control/api/http_server.h"
#include "tests/control/loopback.h"

namespace anylb {
namespace {

// A directory of this test's own, removed with everything in it.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& name)
      : path("/tmp/anylb-api-test-" + std::to_string(getpid()) + "-" + name) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

HttpResponse echo(const HttpRequest& r) {
  return HttpResponse{200, "text/plain", r.method + " " + r.path + " " + r.body};
}

TEST(HttpServer, UnixSocketIsPrivateAndTcpAnswersOnLoopback) {
  TempDir dir("private");
  const std::string path = dir.path + "/api.sock";
  const uint16_t port = free_port();
  ASSERT_NE(port, 0);
  HttpServer server;
  auto ok = server.start(path, port, echo);
  ASSERT_TRUE(ok.ok()) << ok.error().message;

  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto r = http_call(path, "POST", "/drain", "x");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /drain x");

  const std::string t = tcp_exchange(port, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(t.rfind("HTTP/1.1 200 OK", 0), 0u) << t;
  EXPECT_NE(t.find("GET /status"), std::string::npos);

  const std::string bad = tcp_exchange(port, "NONSENSE\r\n\r\n");
  EXPECT_EQ(bad.rfind("HTTP/1.1 400", 0), 0u) << bad;
  const std::string big = tcp_exchange(
      port, "POST /weight HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n" + std::string(70000, 'x'));
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big.substr(0, 40);

  server.stop();
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "the socket file is removed on stop";
  EXPECT_FALSE(http_call(path, "GET", "/status").ok());
}

// The routes decide what the TCP port may do (admin_api.cpp); they can only
// if the server says where each request came from.
TEST(HttpServer, RequestsSayWhichListenerTheyCameIn) {
  TempDir dir("listener");
  const std::string path = dir.path + "/api.sock";
  const uint16_t port = free_port();
  ASSERT_NE(port, 0);
  HttpServer server;
  auto ok = server.start(path, port, [](const HttpRequest& r) {
    return HttpResponse{200, "text/plain", r.from_tcp ? "tcp" : "unix"};
  });
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  auto u = http_call(path, "GET", "/metrics");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->body, "unix");
  const std::string t = tcp_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(t.find("\r\n\r\ntcp"), std::string::npos) << t;
}

TEST(HttpServer, AThrowingHandlerCostsOneRequestNotTheServer) {
  TempDir dir("throw");
  const std::string path = dir.path + "/api.sock";
  HttpServer server;
  auto ok = server.start(path, 0, [](const HttpRequest& r) -> HttpResponse {
    // What nlohmann's dump throws on a request's invalid UTF-8, quoting bytes.
    if (r.path == "/boom") throw std::runtime_error("bad \"byte\" \xe9\n");
    if (r.path == "/int") throw 42;
    return echo(r);
  });
  ASSERT_TRUE(ok.ok()) << ok.error().message;

  for (const char* target : {"/boom", "/int"}) {
    auto r = http_call(path, "GET", target);
    ASSERT_TRUE(r.ok()) << target << ": " << r.error().message;
    EXPECT_EQ(r->status, 500) << target;
    nlohmann::json body;
    ASSERT_NO_THROW(body = nlohmann::json::parse(r->body)) << target << ": " << r->body;
    ASSERT_TRUE(body.contains("error")) << r->body;
    EXPECT_NE(body["error"].get<std::string>().find("internal error"), std::string::npos);
  }
  auto boom = http_call(path, "GET", "/boom");
  ASSERT_TRUE(boom.ok());
  EXPECT_NE(boom->body.find("bad \\\"byte\\\""), std::string::npos) << boom->body;

  auto after = http_call(path, "GET", "/status");
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->body, "GET /status ");
}

// A second daemon started with the same config must not take the socket of
// the one running, neither at start nor at its stop.
TEST(HttpServer, ALiveSocketIsNotTakenOver) {
  TempDir dir("live");
  const std::string path = dir.path + "/api.sock";
  HttpServer first;
  auto ok = first.start(path, 0, echo);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  struct stat before{};
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  {
    HttpServer second;
    auto again = second.start(path, 0, echo);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().message.find("another process is listening on " + path),
              std::string::npos)
        << again.error().message;
    second.stop();
  }
  struct stat after{};
  ASSERT_EQ(stat(path.c_str(), &after), 0) << "the running server's socket is still there";
  EXPECT_EQ(after.st_ino, before.st_ino);
  auto r = http_call(path, "GET", "/status");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, AFileAtTheSocketPathIsLeftAlone) {
  TempDir dir("file");
  const std::string path = dir.path + "/api.sock";
  std::ofstream(path) << "not a socket\n";
  HttpServer server;
  auto ok = server.start(path, 0, echo);
  ASSERT_FALSE(ok.ok());
  EXPECT_NE(ok.error().message.find(path), std::string::npos) << ok.error().message;
  EXPECT_NE(ok.error().message.find("not a socket"), std::string::npos) << ok.error().message;
  server.stop();
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "not a socket");
}

// What a killed daemon leaves behind: nothing listens, so it is replaced.
TEST(HttpServer, AStaleSocketIsReplaced) {
  TempDir dir("stale");
  const std::string path = dir.path + "/api.sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  close(fd);
  ASSERT_EQ(access(path.c_str(), F_OK), 0);

  HttpServer server;
  auto ok = server.start(path, 0, echo);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  auto r = http_call(path, "GET", "/status");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

// Someone removed our socket and another server bound the path since: our
// stop() must leave theirs.
TEST(HttpServer, StopRemovesOnlyItsOwnSocket) {
  TempDir dir("own");
  const std::string path = dir.path + "/api.sock";
  HttpServer old_server;
  ASSERT_TRUE(old_server.start(path, 0, echo).ok());
  ASSERT_EQ(unlink(path.c_str()), 0);
  HttpServer new_server;
  auto ok = new_server.start(path, 0, echo);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  old_server.stop();
  EXPECT_EQ(access(path.c_str(), F_OK), 0) << "the new server's socket is still there";
  auto r = http_call(path, "GET", "/status");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace anylb
