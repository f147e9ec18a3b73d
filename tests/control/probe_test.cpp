// The probes against real servers on loopback: TCP, HTTP, UDP and commands,
// their failures and timeouts.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "control/health/probe.h"

namespace anylb {
namespace {

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// A loopback server on an ephemeral port, answering with `reply` (TCP: to
// each connection, after reading a request; UDP: to each datagram).
class Server {
 public:
  Server(int type, std::string reply, bool answer = true) : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, type, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (type == SOCK_STREAM) listen(fd_, 512);
    thread_ = std::thread([this, type, answer] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 20) != 1) continue;
        if (type == SOCK_STREAM) {
          const int c = accept(fd_, nullptr, nullptr);
          char buf[1024];
          if (!answer) {
            held_.push_back(c);  // open and silent until the server goes
            continue;
          }
          (void)!read(c, buf, sizeof buf);
          (void)!write(c, reply_.data(), reply_.size());
          close(c);
        } else {
          char buf[1024];
          sockaddr_in from{};
          socklen_t fl = sizeof from;
          const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
          received_.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
          if (answer) sendto(fd_, reply_.data(), reply_.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
        }
      }
    });
  }
  ~Server() {
    stop_ = true;
    thread_.join();
    for (int c : held_) close(c);
    close(fd_);
  }
  uint16_t port() const { return port_; }
  std::string received_;

 private:
  int fd_;
  uint16_t port_ = 0;
  std::string reply_;
  std::vector<int> held_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

ProbeResult run(const ProbeTarget& t) {
  Prober prober;
  prober.start(t, now_ms());
  ProbeResult out;
  bool got = false;
  const uint64_t deadline = now_ms() + 5000;
  while (!got && now_ms() < deadline) {
    prober.poll(20, now_ms(), [&](const ProbeResult& r) {
      out = r;
      got = true;
    });
  }
  EXPECT_TRUE(got) << "no result within 5 s";
  EXPECT_EQ(prober.in_flight(), 0u);
  return out;
}

ProbeTarget target(HealthCheckKind kind, uint16_t port) {
  ProbeTarget t;
  t.kind = kind;
  t.address = *parse_ip_address("127.0.0.1");
  t.port = port;
  t.timeout_ms = 300;
  return t;
}

// A port nothing listens on: bound, never listened to, so connects are refused.
uint16_t closed_port() {
  static int fd = [] {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    return s;
  }();
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

TEST(Probe, TcpConnects) {
  Server s(SOCK_STREAM, "");
  const ProbeResult r = run(target(HealthCheckKind::Tcp, s.port()));
  EXPECT_TRUE(r.ok) << r.detail;
}

TEST(Probe, TcpRefusedFails) {
  const ProbeResult r = run(target(HealthCheckKind::Tcp, closed_port()));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("refused"), std::string::npos) << r.detail;
}

TEST(Probe, HttpExpectedStatusPasses) {
  Server s(SOCK_STREAM, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ProbeTarget t = target(HealthCheckKind::Http, s.port());
  t.http_path = "/healthz";
  const ProbeResult r = run(t);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "HTTP 200");
}

TEST(Probe, HttpOtherStatusFails) {
  Server s(SOCK_STREAM, "HTTP/1.0 503 Service Unavailable\r\n\r\n");
  const ProbeResult r = run(target(HealthCheckKind::Http, s.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "HTTP 503");
}

TEST(Probe, HttpGarbageFails) {
  Server s(SOCK_STREAM, "SSH-2.0-OpenSSH\r\n");
  const ProbeResult r = run(target(HealthCheckKind::Http, s.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "no HTTP status line");
}

TEST(Probe, HttpSilentServerTimesOut) {
  Server s(SOCK_STREAM, "", false);
  const auto t0 = now_ms();
  const ProbeResult r = run(target(HealthCheckKind::Http, s.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_GE(now_ms() - t0, 250u);
}

TEST(Probe, UdpReplyWithTheExpectedBytesPasses) {
  Server s(SOCK_DGRAM, "pong from be1");
  ProbeTarget t = target(HealthCheckKind::Udp, s.port());
  t.udp_send = std::string("ping\0", 5);
  t.udp_expect = "pong";
  const ProbeResult r = run(t);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(s.received_, std::string("ping\0", 5));
}

TEST(Probe, UdpWrongReplyFailsAndNoReplyTimesOut) {
  Server s(SOCK_DGRAM, "nope");
  ProbeTarget t = target(HealthCheckKind::Udp, s.port());
  t.udp_send = "ping";
  t.udp_expect = "pong";
  EXPECT_FALSE(run(t).ok);
  Server silent(SOCK_DGRAM, "", false);
  ProbeTarget q = target(HealthCheckKind::Udp, silent.port());
  q.udp_send = "ping";
  const ProbeResult r = run(q);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("timeout"), std::string::npos) << r.detail;
}

TEST(Probe, CommandExitStatusDecidesAndGetsTheAddress) {
  ProbeTarget t = target(HealthCheckKind::Command, 0);
  t.timeout_ms = 2000;
  t.command = "test \"$1\" = 127.0.0.1";
  EXPECT_TRUE(run(t).ok);
  t.command = "exit 3";
  const ProbeResult r = run(t);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "exit 3");
}

TEST(Probe, SlowCommandIsKilledAtItsTimeout) {
  ProbeTarget t = target(HealthCheckKind::Command, 0);
  t.timeout_ms = 200;
  t.command = "sleep 10";
  const auto t0 = now_ms();
  const ProbeResult r = run(t);
  EXPECT_FALSE(r.ok);
  EXPECT_LT(now_ms() - t0, 3000u);
  EXPECT_NE(r.detail.find("timeout"), std::string::npos) << r.detail;
}

TEST(Probe, ManyAtOnceFromOneThread) {
  Server s(SOCK_STREAM, "");
  Prober prober;
  for (int i = 0; i < 200; ++i) prober.start(target(HealthCheckKind::Tcp, s.port()), now_ms());
  int ok = 0, done = 0;
  const uint64_t deadline = now_ms() + 5000;
  while (done < 200 && now_ms() < deadline) {
    prober.poll(20, now_ms(), [&](const ProbeResult& r) {
      ++done;
      ok += r.ok;
    });
  }
  EXPECT_EQ(done, 200);
  EXPECT_EQ(ok, 200);
}

TEST(Probe, EscapesDecode) {
  EXPECT_EQ(*decode_escapes("\\x00\\x01ab\\n"), std::string("\0\x01" "ab\n", 5));
  EXPECT_FALSE(decode_escapes("\\x0").ok());
  EXPECT_FALSE(decode_escapes("\\q").ok());
  EXPECT_FALSE(decode_escapes("abc\\").ok());
}

}  // namespace
}  // namespace anylb
