// The admin API's transport: the Unix socket is 0600 and answers; the
// optional TCP listener answers on loopback (it binds 127.0.0.1: http_server.cpp); oversized and malformed
// requests get 4xx.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "control/api/http_server.h"

namespace anylb {
namespace {

std::string tcp_exchange(uint16_t port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    (void)!write(fd, request.data(), request.size());
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return reply;
}

TEST(HttpServer, UnixSocketIsPrivateAndTcpAnswersOnLoopback) {
  const std::string path = "/tmp/anylb-api-test-" + std::to_string(getpid()) + "/api.sock";
  const uint16_t port = static_cast<uint16_t>(40000 + getpid() % 20000);
  HttpServer server;
  auto ok = server.start(path, port, [](const HttpRequest& r) {
    return HttpResponse{200, "text/plain", r.method + " " + r.path + " " + r.body};
  });
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

}  // namespace
}  // namespace anylb
