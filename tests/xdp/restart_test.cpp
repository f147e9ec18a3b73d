// A restarted control process (anylbd, `anylbctl xdp apply`) finds the maps a
// previous one filled, flow entries included, and those entries name backends
// by id. Its first state must be built over what the maps hold, or a removed
// backend would shift the ids of every backend after it and hand their flows
// to other backends.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

#include "dataplane/core/packet_view.h"
#include "tests/unit/frames.h"
#include "tests/unit/mixed_traffic.h"
#include "xdp/xdp_decider.h"

namespace anylb::test {
namespace {

uint32_t backend_id(const ForwardingState& st, const char* address) {
  for (const Backend& b : st.backends) {
    if (b.present && b.address == ip(address)) return b.id;
  }
  return ANYLB_INVALID_ID;
}

// The outer destination of an IPIP frame, or "" when the program did not send one.
std::string outer_destination(const FrameResult& r) {
  if (r.verdict != ANYLB_VERDICT_TX || r.out.size() < 34) return "";
  return std::to_string(r.out[30]) + "." + std::to_string(r.out[31]) + "." +
         std::to_string(r.out[32]) + "." + std::to_string(r.out[33]);
}

TEST(XdpRestart, TheFirstStateOfARestartKeepsTheIdsTheMapsHold) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  const ForwardingState before = build(spec());
  auto xdp = XdpDecider::create(before, 1 << 16, long_timeouts());
  ASSERT_TRUE(xdp.ok()) << xdp.error().message;

  // Flows to every backend of web, and to dns.
  std::map<uint16_t, std::string> web_backend;
  for (uint16_t port = 2000; port < 2300; ++port) {
    auto r = (*xdp)->decide(eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp,
                                          tcp(port, 80, kTcpSyn))),
                            0);
    ASSERT_TRUE(r.ok()) << r.error().message;
    web_backend[port] = outer_destination(*r);
    ASSERT_FALSE(web_backend[port].empty());
  }

  // The restart: a new writer reads the maps back.
  auto writer = XdpStateWriter::open((*xdp)->program().maps());
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  const ForwardingState running = writer->running_state();
  for (const Backend& b : before.backends) {
    if (!b.present) continue;
    const Backend* r = running.backend(b.id);
    ASSERT_NE(r, nullptr) << b.address.to_string();
    EXPECT_EQ(r->address, b.address);
    EXPECT_EQ(r->vip_id, b.vip_id);
  }
  for (const Vip& v : before.vips) {
    if (!v.present) continue;
    const Vip* r = running.vip(v.id);
    ASSERT_NE(r, nullptr) << v.name;
    EXPECT_EQ(r->address, v.address);
    EXPECT_EQ(r->port, v.port);
    EXPECT_EQ(r->table, v.table) << v.name;
  }

  // The new config drops web's first backend.
  StateSpec changed = spec();
  changed.vips[0].backends.erase(changed.vips[0].backends.begin());
  // Numbered afresh, everything after it would move: the case this is about.
  ASSERT_NE(backend_id(build(changed), "10.1.0.2"), backend_id(before, "10.1.0.2"));
  const ForwardingState after = build(changed, &running);
  for (const char* kept : {"10.1.0.2", "10.1.0.3", "10.2.0.1", "10.2.0.2", "fd00:1::1"}) {
    EXPECT_EQ(backend_id(after, kept), backend_id(before, kept)) << kept;
  }
  EXPECT_EQ(after.backend(backend_id(before, "10.1.0.1")), nullptr) << "a freed id is held back";
  ASSERT_TRUE(writer->publish(after).ok());

  // Every flow keeps its backend unless that backend is gone.
  int moved = 0;
  for (const auto& [port, was] : web_backend) {
    auto r = (*xdp)->decide(eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp,
                                          tcp(port, 80, kTcpAck))),
                            0);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const std::string now = outer_destination(*r);
    if (was == "10.1.0.1") {
      EXPECT_NE(now, "10.1.0.1") << "port " << port;
      ++moved;
    } else {
      EXPECT_EQ(now, was) << "port " << port;
    }
  }
  EXPECT_GT(moved, 0);
  EXPECT_LT(moved, 300);
}

}  // namespace
}  // namespace anylb::test
