// anylbctl replay: a capture through the model and through the program gives
// the same lines and the same output capture.
#include "control/cli/replay.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "control/cli/pcap_file.h"
#include "control/config/config.h"
#include "control/tables/state_spec.h"
#include "dataplane/core/packet_view.h"
#include "tests/unit/frames.h"
#include "xdp/xdp_decider.h"

namespace anylb::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string capture_lines(FrameDecider& d, const std::string& in, const std::string& out,
                          ReplaySummary& sum) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* mem = open_memstream(&buf, &len);
  auto r = replay_pcap(d, in, out, /*capture_clock=*/false, mem);
  std::fclose(mem);
  std::string text(buf, len);
  std::free(buf);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (r) sum = *r;
  return text;
}

TEST(XdpReplay, ModelAndProgramWriteTheSameCapture) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  auto cfg = parse_config(embedded_default_config(), "<embedded>");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  auto state = build_state_from_config(*cfg, nullptr);
  ASSERT_TRUE(state.ok());
  const std::string dir = ::testing::TempDir();
  const std::string in = dir + "/anylb-replay-in.pcap";
  {
    auto w = PcapWriter::create(in);
    ASSERT_TRUE(w.ok()) << w.error().message;
    uint64_t t = 1'700'000'000'000'000;
    for (uint16_t p = 1000; p < 1400; ++p) {
      const Bytes web = eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp,
                                      tcp(p, 80, p % 3 ? kTcpAck : kTcpSyn)));
      const Bytes dns = eth_ipv4(ipv4(ip("198.51.100.8"), ip("192.0.2.53"), kIpProtoUdp,
                                      udp(p, 53, Bytes(40, 1))));
      const Bytes web6 = eth_ipv6(ipv6(ip("2001:db8:ffff::1"), ip("2001:db8::10"), kIpProtoTcp,
                                       tcp(p, 443, kTcpSyn)));
      const Bytes other = eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.99"), kIpProtoUdp, udp(p, 9)));
      const Bytes ping = eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoIcmp,
                                       icmp_echo(false, p, 1)));
      const Bytes wrong_port = eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp,
                                             tcp(p, 81, kTcpSyn)));
      for (const Bytes* f : {&web, &dns, &web6, &other, &ping, &wrong_port}) (*w)->write(t++, *f);
    }
  }
  const FlowTimeoutsMs timeouts = flow_timeouts_from_config(cfg->timeouts);
  ModelDecider model(*state, 1 << 16, timeouts);
  auto xdp = XdpDecider::create(*state, 1 << 16, timeouts);
  ASSERT_TRUE(xdp.ok()) << xdp.error().message;

  ReplaySummary ms, xs;
  const std::string model_lines = capture_lines(model, in, dir + "/anylb-replay-model.pcap", ms);
  const std::string xdp_lines = capture_lines(**xdp, in, dir + "/anylb-replay-xdp.pcap", xs);
  EXPECT_EQ(ms.frames, 2400u);
  EXPECT_EQ(ms.tx, 1200u);
  EXPECT_EQ(ms.reply, 400u);
  EXPECT_EQ(ms.pass, 400u);
  EXPECT_EQ(ms.drop, 400u);
  EXPECT_EQ(model_lines, xdp_lines);
  EXPECT_NE(model_lines.find("frame 6: drop vip_port_unknown"), std::string::npos) << model_lines.substr(0, 400);
  EXPECT_NE(model_lines.find("frame 1: tx to 10.1.0."), std::string::npos);
  const std::string a = read_file(dir + "/anylb-replay-model.pcap");
  const std::string b = read_file(dir + "/anylb-replay-xdp.pcap");
  EXPECT_GT(a.size(), 1600u * 50);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace anylb::test
