// The BGP speaker drivers against stand-ins: a Unix socket speaking BIRD's
// control protocol, and a named pipe read as ExaBGP reads its process API.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "control/announce/speaker.h"
#include "control/config/config.h"

namespace anylb {
namespace {

// Answers like `bird`: a greeting, then one reply per command line. Enabling
// a known protocol answers 0011, an unknown one 8003.
class FakeBird {
 public:
  explicit FakeBird(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path_.c_str());
    unlink(path_.c_str());
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 4);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 20) != 1) continue;
        const int c = accept(fd_, nullptr, nullptr);
        const std::string hello = "0001 BIRD 2.0.12 ready.\n";
        (void)!write(c, hello.data(), hello.size());
        char buf[256] = {};
        const ssize_t n = read(c, buf, sizeof buf - 1);
        std::string cmd(buf, n > 0 ? static_cast<size_t>(n) : 0);
        commands.push_back(cmd);
        std::string reply;
        if (cmd == "enable anylb_web\n" || cmd == "disable anylb_web\n") {
          reply = cmd.rfind("enable", 0) == 0 ? "0011-anylb_web: enabled\n 2nd line\n0011 done\n"
                                              : "0012 anylb_web: disabled\n";
        } else {
          reply = "8003 No protocols match\n";
        }
        (void)!write(c, reply.data(), reply.size());
        close(c);
      }
    });
  }
  ~FakeBird() {
    stop_ = true;
    thread_.join();
    close(fd_);
    unlink(path_.c_str());
  }
  std::vector<std::string> commands;

 private:
  std::string path_;
  int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string temp_path(const char* name) {
  return "/tmp/anylb-speaker-" + std::to_string(getpid()) + "-" + name;
}

TEST(BirdSpeaker, EnablesAndDisablesTheVipsProtocol) {
  FakeBird bird(temp_path("bird.ctl"));
  BirdSpeaker s(temp_path("bird.ctl"), "anylb_");
  VipRoute web{"web", *parse_ip_address("192.0.2.10")};
  auto on = s.set(web, true);
  ASSERT_TRUE(on.ok()) << on.error().message;
  ASSERT_TRUE(s.set(web, false).ok());
  ASSERT_EQ(bird.commands.size(), 2u);
  EXPECT_EQ(bird.commands[0], "enable anylb_web\n");
  EXPECT_EQ(bird.commands[1], "disable anylb_web\n");
}

TEST(BirdSpeaker, BirdsErrorsComeBackWithTheirCode) {
  FakeBird bird(temp_path("bird2.ctl"));
  BirdSpeaker s(temp_path("bird2.ctl"), "anylb_");
  auto r = s.set({"web6", *parse_ip_address("2001:db8::10")}, true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("8003 No protocols match"), std::string::npos) << r.error().message;
}

TEST(BirdSpeaker, NoBirdIsAnErrorNotACrash) {
  BirdSpeaker s(temp_path("nobody.ctl"), "anylb_");
  auto r = s.set({"web", *parse_ip_address("192.0.2.10")}, true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("BIRD socket"), std::string::npos) << r.error().message;
}

TEST(BirdSpeaker, ProtocolNamesAreBirdSymbols) {
  BirdSpeaker s("", "anylb_");
  EXPECT_EQ(s.protocol_name("web-tls.v2"), "anylb_web_tls_v2");
}

// The speaker drives the protocol the validator checks for collisions: one
// function, bird_protocol_name. These three VIP names are one protocol, which
// is why a config with bgp.speaker = "bird" may hold only one of them.
TEST(BirdSpeaker, ProtocolNameIsTheValidatorsMapping) {
  BirdSpeaker s("", "anylb_");
  for (const char* vip : {"web-1", "web.1", "web_1"}) {
    EXPECT_EQ(bird_protocol_name("anylb_", vip), "anylb_web_1") << vip;
    EXPECT_EQ(s.protocol_name(vip), bird_protocol_name("anylb_", vip)) << vip;
  }
  BirdSpeaker other("", "lb");
  EXPECT_EQ(other.protocol_name("Web.2"), bird_protocol_name("lb", "Web.2"));
  EXPECT_EQ(other.protocol_name("Web.2"), "lbWeb_2");
}

TEST(ExaBgpSpeaker, WritesAnnounceAndWithdrawLines) {
  const std::string fifo = temp_path("exabgp");
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  ExaBgpSpeaker s(fifo);
  ASSERT_TRUE(s.set({"web", *parse_ip_address("192.0.2.10")}, true).ok());
  ASSERT_TRUE(s.set({"web6", *parse_ip_address("2001:db8::10")}, false).ok());
  char buf[256] = {};
  const ssize_t n = read(reader, buf, sizeof buf - 1);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0),
            "announce route 192.0.2.10/32 next-hop self\n"
            "withdraw route 2001:db8::10/128 next-hop self\n");
  close(reader);
  // No reader: an error now, not a blocked daemon.
  EXPECT_FALSE(s.set({"web", *parse_ip_address("192.0.2.10")}, true).ok());
  unlink(fifo.c_str());
}

}  // namespace
}  // namespace anylb
