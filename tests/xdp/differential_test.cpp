// The XDP program against the C++ model, frame for frame: verdict, drop
// reason and output bytes must be equal, across a long sequence that builds
// up flow-table state and flips tables in the middle. Runs the program with
// BPF_PROG_TEST_RUN on one CPU (its per-CPU flow table is the model's one).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <random>

#include "dataplane/core/checksum.h"
#include "dataplane/core/decide.h"
#include "dataplane/core/flow_key.h"
#include "dataplane/core/packet_view.h"
#include "dataplane/replay/frame_decider.h"
#include "tests/unit/frames.h"
#include "tests/unit/mixed_traffic.h"
#include "xdp/xdp_decider.h"

namespace anylb::test {
namespace {

std::string hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%02x", x);
    s += buf;
  }
  return s;
}

// Every test here loads the program and the model with one state and compares
// them; without root there is nothing to load.
class XdpDifferential : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  }
  // The program and the model, on the same state and timeouts.
  void load(const ForwardingState& st, const FlowTimeoutsMs& t) {
    auto loaded = XdpDecider::create(st, 1 << 16, t);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    xdp = std::move(*loaded);
    model.emplace(st, 1 << 16, t);
  }
  std::unique_ptr<XdpDecider> xdp;
  std::optional<ModelDecider> model;
};

template <typename T>
T on_this_cpu(int fd, uint32_t key) {
  std::vector<T> values(static_cast<size_t>(libbpf_num_possible_cpus()));
  if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) ADD_FAILURE() << "read counters";
  return values[static_cast<size_t>(sched_getcpu())];
}

struct Mismatch {
  size_t index;
  std::string what;
};

// Runs `n` frames through both; returns the first mismatch, if any.
std::optional<Mismatch> compare(FrameDecider& model, FrameDecider& xdp, FrameSource& src, size_t n,
                                size_t base) {
  for (size_t i = 0; i < n; ++i) {
    const Bytes frame = src.next();
    auto m = model.decide(frame, monotonic_ms());
    auto x = xdp.decide(frame, 0);
    if (!m || !x) return Mismatch{base + i, !m ? m.error().message : x.error().message};
    if (m->verdict != x->verdict || m->reason != x->reason || m->out != x->out) {
      return Mismatch{base + i, std::string("model ") + verdict_name(m->verdict) + "/" +
                                    drop_reason_name(m->reason) + " xdp " +
                                    verdict_name(x->verdict) + "/" + drop_reason_name(x->reason) +
                                    "\n frame " + hex(frame) + "\n model " + hex(m->out) +
                                    "\n xdp   " + hex(x->out)};
    }
  }
  return std::nullopt;
}

TEST_F(XdpDifferential, TwoHundredThousandFramesWithTableFlips) {
  const FlowTimeoutsMs t = long_timeouts();
  ForwardingState st = build(spec());
  ASSERT_NO_FATAL_FAILURE(load(st, t));
  FrameSource src(20261128);

  auto m1 = compare(*model, *xdp, src, 80'000, 0);
  ASSERT_FALSE(m1) << "frame " << m1->index << ": " << m1->what;

  // Flip: drain one backend, take one down, add one; existing flows must
  // follow the same rules on both paths.
  StateSpec changed = spec();
  changed.vips[0].backends[1].state = ANYLB_BACKEND_DRAINING;
  changed.vips[1].backends[0].state = ANYLB_BACKEND_DOWN;
  changed.vips[2].backends.push_back({ip("fd00:1::9"), 100, ANYLB_BACKEND_ACTIVE});
  ForwardingState st2 = build(changed, &st);
  ASSERT_TRUE(model->publish(st2));
  ASSERT_TRUE(xdp->publish(st2));
  auto m2 = compare(*model, *xdp, src, 70'000, 80'000);
  ASSERT_FALSE(m2) << "frame " << m2->index << ": " << m2->what;

  // Flip again: a backend removed outright, a VIP removed, the table resized.
  StateSpec again = changed;
  again.vips[0].backends.erase(again.vips[0].backends.begin());
  again.vips[0].table_size = 1013;
  again.vips.erase(again.vips.begin() + 5);  // two-80 goes
  ForwardingState st3 = build(again, &st2);
  ASSERT_TRUE(model->publish(st3));
  ASSERT_TRUE(xdp->publish(st3));
  auto m3 = compare(*model, *xdp, src, 60'000, 150'000);
  ASSERT_FALSE(m3) << "frame " << m3->index << ": " << m3->what;

  // The counters agree too: every path counter, every drop reason, and every
  // VIP's and backend's packets and bytes (the program's, on this CPU).
  const Counters& c = model->counters();
  const XdpMaps& maps = xdp->program().maps();
  const auto path = on_this_cpu<anylb_path_stats>(maps.path_stats, 0);
  EXPECT_EQ(std::memcmp(&path, &c.path, sizeof path), 0)
      << "passed " << path.passed << "/" << c.path.passed << " transmitted " << path.transmitted
      << "/" << c.path.transmitted << " hits " << path.flow_hits << "/" << c.path.flow_hits;
  // Runts (< 14 bytes) never reach an XDP program (see XdpDecider), so only
  // the model counts eth_truncated.
  for (uint32_t r = ANYLB_DROP_ETH_TRUNCATED + 1; r < ANYLB_DROP_REASON_COUNT; ++r) {
    EXPECT_EQ(on_this_cpu<uint64_t>(maps.drop_stats, r), c.drops[r])
        << drop_reason_name(static_cast<anylb_drop_reason>(r));
  }
  for (uint32_t id = 0; id < 32; ++id) {
    const auto v = on_this_cpu<anylb_vip_stats>(maps.vip_stats, id);
    EXPECT_EQ(std::memcmp(&v, &c.vip[id], sizeof v), 0) << "vip " << id;
    const auto b = on_this_cpu<anylb_backend_stats>(maps.backend_stats, id);
    EXPECT_EQ(std::memcmp(&b, &c.backend[id], sizeof b), 0) << "backend " << id;
  }
  EXPECT_GT(c.path.transmitted, 100'000u);
  EXPECT_GT(c.path.flow_hits, 50'000u);
}

// The tunnel source in its other forms: spec() has an IPv4 prefix and one IPv6
// address; here one IPv4 address with an IPv6 prefix, then prefixes of 2^32
// addresses and more (the whole flow hash as the index).
TEST_F(XdpDifferential, TunnelSourcesOfEveryKind) {
  const FlowTimeoutsMs t = long_timeouts();
  struct Sources {
    const char* v4;
    const char* v4_prefix;
    const char* v6;
    const char* v6_prefix;
  };
  const Sources cases[] = {{"10.100.0.1", nullptr, nullptr, "fd00:100::/104"},
                           {nullptr, "0.0.0.0/0", nullptr, "fd00:100::/64"}};
  for (const Sources& c : cases) {
    StateSpec s = spec();
    s.encap.source_v4.reset();
    s.encap.source_v4_prefix.reset();
    s.encap.source_v6.reset();
    s.encap.source_v6_prefix.reset();
    if (c.v4) s.encap.source_v4 = ip(c.v4);
    if (c.v4_prefix) s.encap.source_v4_prefix = *parse_ip_prefix(c.v4_prefix);
    if (c.v6) s.encap.source_v6 = ip(c.v6);
    if (c.v6_prefix) s.encap.source_v6_prefix = *parse_ip_prefix(c.v6_prefix);
    ForwardingState st = build(s);
    ASSERT_NO_FATAL_FAILURE(load(st, t));
    FrameSource src(7);
    auto m = compare(*model, *xdp, src, 20'000, 0);
    ASSERT_FALSE(m) << (c.v4 ? c.v4 : c.v4_prefix) << ": frame " << m->index << ": " << m->what;
  }
}

// The program takes a shortcut for plain frames (Ethernet, IPv4 without
// options, not a fragment, a whole TCP or UDP header) and the general parser
// for everything else. Frames on both sides of each rule the shortcut checks;
// each must come out as the model has it, in this order (the flows repeat).
TEST_F(XdpDifferential, PlainFrameShortcutBoundaries) {
  const FlowTimeoutsMs t = long_timeouts();
  ForwardingState st = build(spec());
  ASSERT_NO_FATAL_FAILURE(load(st, t));
  const IpAddress client = ip("198.51.100.7"), web = ip("192.0.2.10"), dns = ip("192.0.2.53");
  auto web_tcp = [&](uint8_t flags, const Bytes& payload = {}) {
    return eth_ipv4(ipv4(client, web, kIpProtoTcp, tcp(40000, 80, flags, payload)));
  };
  auto dns_udp = [&](const Bytes& payload) {
    return eth_ipv4(ipv4(client, dns, kIpProtoUdp, udp(40001, 53, payload)));
  };
  auto with = [](Bytes f, size_t at, uint8_t value) {
    f.at(at) = value;
    return f;
  };
  auto padded = [](Bytes f, size_t n) {
    f.insert(f.end(), n, 0xee);
    return f;
  };
  auto cut = [](Bytes f, size_t n) {
    f.resize(f.size() - n);
    return f;
  };
  const Bytes syn = web_tcp(kTcpSyn), ack = web_tcp(kTcpAck), q = dns_udp(Bytes(12, 1));
  struct Case {
    const char* what;
    Bytes frame;
  };
  const Case cases[] = {
      {"SYN, 54 bytes", syn},
      {"ACK padded to 60 (trailer trimmed)", padded(ack, 6)},
      {"ACK with 18 bytes of trailer", padded(ack, 18)},
      {"ACK with data", web_tcp(kTcpAck, Bytes(100, 7))},
      {"data offset 4 (below 20 bytes)", with(ack, 46, 0x40)},
      {"data offset 6, header past the packet", with(ack, 46, 0x60)},
      {"data offset 15 inside a longer packet", with(web_tcp(kTcpAck, Bytes(40, 0)), 46, 0xf0)},
      {"FIN", web_tcp(kTcpFin | kTcpAck)},
      {"RST", web_tcp(kTcpRst)},
      {"DF set", with(ack, 20, 0x40)},
      {"MF set (a first fragment)", with(ack, 20, 0x20)},
      {"offset 8 (a later fragment)", with(ack, 21, 0x01)},
      {"reserved flag bit", with(ack, 20, 0x80)},
      {"IHL 6 (options) without room", with(ack, 14, 0x46)},
      {"IHL 4", with(ack, 14, 0x44)},
      {"version 6 in an IPv4 ethertype", with(ack, 14, 0x65)},
      {"total length 39 (TCP cut short)", with(ack, 17, 39)},
      {"total length past the frame", with(ack, 17, 41)},
      {"total length 20 (no TCP at all)", with(ack, 17, 20)},
      {"53 bytes (one short of the shortcut)", cut(syn, 1)},
      {"UDP query", q},
      {"UDP total length 28 (empty datagram)", with(q, 17, 28)},
      {"UDP total length 27", with(q, 17, 27)},
      {"UDP with 6 bytes of trailer", padded(q, 6)},
      {"ICMP to a VIP (not the shortcut)", with(ack, 23, 1)},
      {"protocol 47 to a VIP", with(ack, 23, 47)},
      {"TOS 0xb8 carried to the outer header", with(ack, 15, 0xb8)},
      {"to a non-VIP", eth_ipv4(ipv4(client, ip("192.0.2.99"), kIpProtoTcp, tcp(1, 80, kTcpAck)))},
      {"the SYN again (a hit)", syn},
  };
  for (const Case& c : cases) {
    auto m = model->decide(c.frame, monotonic_ms());
    auto x = xdp->decide(c.frame, 0);
    ASSERT_TRUE(m && x) << c.what;
    EXPECT_EQ(verdict_name(x->verdict), verdict_name(m->verdict)) << c.what;
    EXPECT_EQ(drop_reason_name(x->reason), drop_reason_name(m->reason)) << c.what;
    EXPECT_EQ(hex(x->out), hex(m->out)) << c.what;
  }
}

// Echo replies whose checksum lands on zero: both paths must write 0xffff
// (the only value that verifies over an all-zero message), not 0x0000.
TEST_F(XdpDifferential, EchoRepliesWhoseChecksumSumsToZero) {
  const FlowTimeoutsMs t = long_timeouts();
  ForwardingState st = build(spec());
  ASSERT_NO_FATAL_FAILURE(load(st, t));
  const IpAddress client = ip("198.51.100.7"), web = ip("192.0.2.10");
  struct Case {
    const char* what;
    Bytes frame;
    size_t check_at;  // the reply's ICMP checksum
    uint16_t check;
  };
  const Case cases[] = {
      {"IPv4, id 0, sequence 0, no payload",
       eth_ipv4(ipv4(client, web, kIpProtoIcmp, icmp_echo(false, 0, 0))), 36, 0xffff},
      {"IPv4, all-zero payload", eth_ipv4(ipv4(client, web, kIpProtoIcmp,
                                               icmp_echo(false, 0, 0, Bytes(32, 0)))),
       36, 0xffff},
      {"IPv4, id 0xffff (data sums to zero, not all zero)",
       eth_ipv4(ipv4(client, web, kIpProtoIcmp, icmp_echo(false, 0xffff, 0))), 36, 0xffff},
  };
  for (const Case& c : cases) {
    auto m = model->decide(c.frame, monotonic_ms());
    auto x = xdp->decide(c.frame, 0);
    ASSERT_TRUE(m && x) << c.what;
    ASSERT_EQ(verdict_name(m->verdict), std::string("reply")) << c.what;
    EXPECT_EQ(hex(x->out), hex(m->out)) << c.what;
    ASSERT_GT(m->out.size(), c.check_at + 1) << c.what;
    EXPECT_EQ(load_be16(m->out.data() + c.check_at), c.check) << c.what;
  }
}

TEST_F(XdpDifferential, FullTableEvictsAndCountsAlike) {
  const FlowTimeoutsMs t = long_timeouts();
  ForwardingState st = build(spec());
  // 64 entries (8 buckets of 8 ways): 500 new flows must evict.
  auto x = XdpDecider::create(st, 64, t);
  ASSERT_TRUE(x.ok()) << x.error().message;
  ModelDecider small(st, 64, t);
  // Which entry goes may differ (the two read their clocks apart), but not
  // how many: with nothing expiring, a full bucket pair stays full, and the
  // pairs fill alike (same hash, same first-free-way rule).
  const uint32_t now = monotonic_ms();
  for (uint16_t p = 1000; p < 1500; ++p) {
    const Bytes f = eth_ipv4(ipv4(ip("198.51.100.9"), ip("192.0.2.10"), kIpProtoTcp, tcp(p, 80, kTcpSyn)));
    auto m = small.decide(f, now);
    auto xd = (*x)->decide(f, now);
    ASSERT_TRUE(m && xd);
    ASSERT_EQ(m->out, xd->out) << "port " << p;
  }
  const auto path = on_this_cpu<anylb_path_stats>((*x)->program().maps().path_stats, 0);
  EXPECT_GT(small.counters().path.flow_evictions, 400u);
  EXPECT_EQ(path.flow_evictions, small.counters().path.flow_evictions);
}

TEST_F(XdpDifferential, IdleTimeoutsExpireAlike) {
  FlowTimeoutsMs t = long_timeouts();
  t.tcp_syn = 200;  // a SYN-only flow is forgotten after 200 ms
  ForwardingState st = build(spec());
  ASSERT_NO_FATAL_FAILURE(load(st, t));
  // SYNs, then the table changes so Maglev would now pick differently for
  // some; after 400 ms idle both must have forgotten the SYN-only flows.
  std::vector<Bytes> syns;
  for (uint16_t p = 1000; p < 1300; ++p) {
    syns.push_back(eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp, tcp(p, 80, kTcpSyn))));
  }
  for (const auto& f : syns) {
    auto m = model->decide(f, monotonic_ms());
    auto x = xdp->decide(f, 0);
    ASSERT_TRUE(m && x);
    ASSERT_EQ(m->out, x->out);
  }
  StateSpec changed = spec();
  changed.vips[0].backends.push_back({ip("10.1.0.4"), 300, ANYLB_BACKEND_ACTIVE});
  ForwardingState st2 = build(changed, &st);
  ASSERT_TRUE(model->publish(st2));
  ASSERT_TRUE(xdp->publish(st2));
  usleep(400'000);
  int moved = 0;
  for (const auto& f : syns) {
    Bytes ack = f;
    auto m = model->decide(ack, monotonic_ms());
    auto x = xdp->decide(ack, 0);
    ASSERT_TRUE(m && x);
    ASSERT_EQ(m->out, x->out);
    moved += m->out.size() > 33 && m->out[33] == 4;  // outer destination 10.1.0.4
  }
  EXPECT_GT(moved, 0) << "expired SYN flows should have been re-picked onto the new backend";
}

// A flow whose backend went down while no other can take it is dropped, but
// its packets still renew its entry (FlowTable::lookup() renews before the
// backend is checked). When backends return, it is still on its old one.
TEST_F(XdpDifferential, AFlowWithNoBackendLeftKeepsItsEntryWhileItSends) {
  FlowTimeoutsMs t = long_timeouts();
  t.udp = 1000;
  StateSpec s = spec();
  VipSpec& dns = s.vips[1];
  ASSERT_EQ(dns.name, "dns");
  dns.backends[1].state = ANYLB_BACKEND_DOWN;  // every flow to the first
  const ForwardingState one = build(s);
  ASSERT_NO_FATAL_FAILURE(load(one, t));
  std::vector<Bytes> flows;
  for (uint16_t p = 3000; p < 3100; ++p) {
    flows.push_back(eth_ipv4(ipv4(ip("198.51.100.8"), ip("192.0.2.53"), kIpProtoUdp, udp(p, 53))));
  }
  auto send_all = [&](const char* phase, anylb_verdict want) {
    for (const Bytes& f : flows) {
      auto m = model->decide(f, monotonic_ms());
      auto x = xdp->decide(f, 0);
      ASSERT_TRUE(m && x);
      ASSERT_EQ(m->verdict, want) << phase;
      ASSERT_EQ(x->verdict, m->verdict) << phase;
      ASSERT_EQ(x->reason, m->reason) << phase;
      ASSERT_EQ(hex(x->out), hex(m->out)) << phase;
    }
  };
  ASSERT_NO_FATAL_FAILURE(send_all("first backend only", ANYLB_VERDICT_TX));
  // Both down: dropped, for longer than the UDP timeout, a round every 200 ms.
  dns.backends[0].state = ANYLB_BACKEND_DOWN;
  const ForwardingState none = build(s, &one);
  ASSERT_TRUE(model->publish(none) && xdp->publish(none));
  for (int round = 0; round < 7; ++round) {
    ASSERT_NO_FATAL_FAILURE(send_all("no backend", ANYLB_VERDICT_DROP));
    usleep(200'000);
  }
  // Both back: Maglev would give about half the flows to the second, but
  // every flow is still known, on the first.
  dns.backends[0].state = ANYLB_BACKEND_ACTIVE;
  dns.backends[1].state = ANYLB_BACKEND_ACTIVE;
  const ForwardingState both = build(s, &none);
  ASSERT_TRUE(model->publish(both) && xdp->publish(both));
  const uint64_t hits = model->counters().path.flow_hits;
  ASSERT_NO_FATAL_FAILURE(send_all("both back", ANYLB_VERDICT_TX));
  EXPECT_EQ(model->counters().path.flow_hits - hits, flows.size());
}

}  // namespace
}  // namespace anylb::test
