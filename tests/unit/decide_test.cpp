// The decision end to end: frames in, verdicts and frames out, over the fixed
// state of core_fixture.h.
#include "dataplane/core/decide.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tests/unit/core_fixture.h"

namespace anylb::test {
namespace {

// ---- Table of single-frame cases: description, frame, verdict, reason, VIP.

struct FrameCase {
  const char* description;
  Bytes frame;
  anylb_verdict verdict;
  anylb_drop_reason reason;
  const char* vip;  // expected VIP name, or nullptr
};

std::vector<FrameCase> frame_cases() {
  Bytes arp = eth(Bytes(28, 0), kEthertypeArp);
  Bytes truncated_tcp_to_vip = tcp4_frame("198.51.100.7", 1000, "192.0.2.10", 80, 0x02);
  truncated_tcp_to_vip.resize(14 + 20 + 10);
  truncated_tcp_to_vip[14 + 3] = 30;  // IP total length: 20 + 10
  truncated_tcp_to_vip[14 + 10] = truncated_tcp_to_vip[14 + 11] = 0;
  Bytes truncated_tcp_to_node = truncated_tcp_to_vip;
  truncated_tcp_to_node[14 + 19] = 99;  // destination 192.0.2.99: not a VIP
  Bytes short_eth(10, 0);
  return {
      {"arp is the kernel's", arp, ANYLB_VERDICT_PASS, ANYLB_DROP_NONE, nullptr},
      {"ipv4 to a non-VIP", tcp4_frame("198.51.100.7", 1000, "192.0.2.99", 80, 0x02),
       ANYLB_VERDICT_PASS, ANYLB_DROP_NONE, nullptr},
      {"ipv6 to a non-VIP", tcp6_frame("2001:db8:ffff::1", 1000, "2001:db8::99", 443, 0x02),
       ANYLB_VERDICT_PASS, ANYLB_DROP_NONE, nullptr},
      {"tcp syn to web", tcp4_frame("198.51.100.7", 1000, "192.0.2.10", 80, 0x02),
       ANYLB_VERDICT_TX, ANYLB_DROP_NONE, "web"},
      {"udp to dns", udp4_frame("198.51.100.7", 1000, "192.0.2.53", 53), ANYLB_VERDICT_TX,
       ANYLB_DROP_NONE, "dns"},
      {"tcp to web6", tcp6_frame("2001:db8:ffff::1", 1000, "2001:db8::10", 443, 0x02),
       ANYLB_VERDICT_TX, ANYLB_DROP_NONE, "web6"},
      {"udp any port to the port-less vip", udp4_frame("198.51.100.7", 1000, "192.0.2.20", 31337),
       ANYLB_VERDICT_TX, ANYLB_DROP_NONE, "any"},
      {"vip address, unknown port", tcp4_frame("198.51.100.7", 1000, "192.0.2.10", 81, 0x02),
       ANYLB_VERDICT_DROP, ANYLB_DROP_VIP_PORT_UNKNOWN, nullptr},
      {"vip address, wrong protocol", udp4_frame("198.51.100.7", 1000, "192.0.2.10", 80),
       ANYLB_VERDICT_DROP, ANYLB_DROP_VIP_PORT_UNKNOWN, nullptr},
      {"truncated tcp to a vip", truncated_tcp_to_vip, ANYLB_VERDICT_DROP, ANYLB_DROP_L4_TRUNCATED,
       nullptr},
      {"truncated tcp to the node", truncated_tcp_to_node, ANYLB_VERDICT_PASS, ANYLB_DROP_NONE,
       nullptr},
      {"runt frame", short_eth, ANYLB_VERDICT_DROP, ANYLB_DROP_ETH_TRUNCATED, nullptr},
      {"icmp timestamp to a vip",
       eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoIcmp, Bytes{13, 0, 0, 0, 0, 0, 0, 0})),
       ANYLB_VERDICT_DROP, ANYLB_DROP_ICMP_UNHANDLED, nullptr},
      {"icmp echo to a non-VIP",
       eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.99"), kIpProtoIcmp, icmp_echo(false, 1, 1))),
       ANYLB_VERDICT_PASS, ANYLB_DROP_NONE, nullptr},
      {"gre to a vip address",
       eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoGre, Bytes(8, 0))),
       ANYLB_VERDICT_DROP, ANYLB_DROP_VIP_PORT_UNKNOWN, nullptr},
  };
}

class DecideFrames : public ::testing::TestWithParam<size_t> {};

TEST_P(DecideFrames, VerdictReasonAndVip) {
  const FrameCase c = frame_cases()[GetParam()];
  Runner r;
  const Decision d = r.run(c.frame);
  EXPECT_EQ(d.verdict, c.verdict) << c.description;
  EXPECT_EQ(d.reason, c.reason) << c.description << ": " << drop_reason_name(d.reason);
  if (c.vip) {
    const Vip* vip = r.state.vip(d.vip_id);
    ASSERT_NE(vip, nullptr) << c.description;
    EXPECT_EQ(vip->name, c.vip) << c.description;
  }
  if (c.verdict == ANYLB_VERDICT_DROP) {
    EXPECT_EQ(r.counters->drops[c.reason], 1u);
  }
  if (c.verdict == ANYLB_VERDICT_PASS) {
    EXPECT_EQ(r.counters->path.passed, 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, DecideFrames, ::testing::Range<size_t>(0, frame_cases().size()));

// ---- Forwarding.

TEST(Decide, NewFlowGoesToTheMaglevBackendAndIsEncapsulated) {
  Runner r;
  const Bytes frame = tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, 0x02);
  const Decision d = r.run(frame);
  ASSERT_EQ(d.verdict, ANYLB_VERDICT_TX);
  EXPECT_EQ(d.path, DecisionPath::NewFlow);
  const auto key = make_flow_key(ip("198.51.100.7"), 40000, ip("192.0.2.10"), 80, 6);
  EXPECT_EQ(d.flow_hash, flow_hash(key, kSeed));
  const Vip* web = r.state.find_vip_by_name("web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(d.slot, d.flow_hash % 1009);
  EXPECT_EQ(d.backend_id, web->table.slots[d.slot]);
  // Outer: Ethernet to the gateway, IPv4 proto 4 from the tunnel source to the backend.
  ASSERT_EQ(r.out.size(), 14 + 20 + (frame.size() - 14));
  EXPECT_EQ(Bytes(r.out.begin(), r.out.begin() + 6), Bytes(kGatewayMac.begin(), kGatewayMac.end()));
  EXPECT_EQ(r.out[14 + 9], 4);
  EXPECT_EQ(Bytes(r.out.begin() + 26, r.out.begin() + 30), (Bytes{10, 100, 0, 1}));
  const Backend& b = r.backend_of(d);
  EXPECT_EQ(Bytes(r.out.begin() + 30, r.out.begin() + 34), Bytes(b.address.bytes.begin(), b.address.bytes.begin() + 4));
  EXPECT_EQ(Bytes(r.out.begin() + 34, r.out.end()), Bytes(frame.begin() + 14, frame.end()));
  EXPECT_EQ(r.counters->vip[web->id].new_flows, 1u);
  EXPECT_EQ(r.counters->vip[web->id].packets, 1u);
  EXPECT_EQ(r.counters->vip[web->id].bytes, frame.size() - 14);
  EXPECT_EQ(r.counters->backend[b.id].packets, 1u);
}

TEST(Decide, SecondPacketHitsTheFlowTable) {
  Runner r;
  const Decision first = r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, 0x02));
  const Decision second = r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, 0x10));
  EXPECT_EQ(second.path, DecisionPath::FlowHit);
  EXPECT_EQ(second.backend_id, first.backend_id);
  EXPECT_EQ(r.flows.stats().hits, 1u);
}

TEST(Decide, TcpFlagsDriveTheFlowState) {
  Runner r;
  const auto key = make_flow_key(ip("198.51.100.7"), 40000, ip("192.0.2.10"), 80, 6);
  const uint32_t h = flow_hash(key, kSeed);
  auto state_now = [&] { return r.flows.peek(key, h, r.now_ms)->state; };
  r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, kTcpSyn));
  EXPECT_EQ(state_now(), ANYLB_FLOW_TCP_SYN);
  r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, kTcpAck));
  EXPECT_EQ(state_now(), ANYLB_FLOW_TCP_ESTABLISHED);
  r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, kTcpFin | kTcpAck));
  EXPECT_EQ(state_now(), ANYLB_FLOW_TCP_CLOSING);
  r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, kTcpAck));
  EXPECT_EQ(state_now(), ANYLB_FLOW_TCP_CLOSING);
  r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, kTcpSyn));
  EXPECT_EQ(state_now(), ANYLB_FLOW_TCP_SYN);
}

TEST(Decide, SynOnlyFlowExpiresAfterItsTimeout) {
  Runner r;
  const Decision first = r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, kTcpSyn));
  r.now_ms += FlowTimeoutsMs{}.tcp_syn + 1;
  const Decision again = r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, kTcpSyn));
  EXPECT_EQ(again.path, DecisionPath::NewFlow);
  EXPECT_EQ(again.backend_id, first.backend_id);  // same Maglev answer
}

// Finds a client port whose new flow Maglev sends to `want`.
uint16_t port_towards(Runner& r, const char* vip_name, uint32_t want, uint16_t dport) {
  const Vip* vip = r.state.find_vip_by_name(vip_name);
  for (uint16_t p = 1024; p < 65000; ++p) {
    const auto key = make_flow_key(ip("198.51.100.7"), p, vip->address, dport, vip->protocol);
    if (vip->table.slots[flow_hash(key, kSeed) % vip->table.slots.size()] == want) return p;
  }
  ADD_FAILURE() << "no port maps to backend " << want;
  return 0;
}

StateSpec with_backend_state(const char* address, anylb_backend_state s, uint32_t weight = 100) {
  StateSpec spec = test_spec();
  for (auto& v : spec.vips) {
    for (auto& b : v.backends) {
      if (b.address == ip(address)) {
        b.state = s;
        b.weight = weight;
      }
    }
  }
  return spec;
}

TEST(Decide, DrainingBackendKeepsItsFlowsAndGetsNoNewOnes) {
  Runner r;
  const Vip* web = r.state.find_vip_by_name("web");
  const uint32_t drained = web->backend_ids[1];  // 10.1.0.2
  const uint16_t port = port_towards(r, "web", drained, 80);
  ASSERT_EQ(r.run(tcp4_frame("198.51.100.7", port, "192.0.2.10", 80, kTcpSyn)).backend_id, drained);

  r.state = build_or_die(with_backend_state("10.1.0.2", ANYLB_BACKEND_DRAINING), &r.state);
  const Decision kept = r.run(tcp4_frame("198.51.100.7", port, "192.0.2.10", 80, kTcpAck));
  EXPECT_EQ(kept.path, DecisionPath::FlowHit);
  EXPECT_EQ(kept.backend_id, drained);
  for (uint16_t p = 20000; p < 21000; ++p) {
    const Decision d = r.run(tcp4_frame("198.51.100.9", p, "192.0.2.10", 80, kTcpSyn));
    ASSERT_EQ(d.verdict, ANYLB_VERDICT_TX);
    ASSERT_NE(d.backend_id, drained) << "new flow " << p << " went to the draining backend";
  }
}

TEST(Decide, DownOrRemovedBackendsFlowsAreRescheduled) {
  for (bool remove : {false, true}) {
    Runner r;
    const Vip* web = r.state.find_vip_by_name("web");
    const uint32_t gone = web->backend_ids[0];  // 10.1.0.1
    const uint16_t port = port_towards(r, "web", gone, 80);
    ASSERT_EQ(r.run(tcp4_frame("198.51.100.7", port, "192.0.2.10", 80, kTcpSyn)).backend_id, gone);
    StateSpec spec = with_backend_state("10.1.0.1", ANYLB_BACKEND_DOWN);
    if (remove) spec.vips[0].backends.erase(spec.vips[0].backends.begin());
    r.state = build_or_die(spec, &r.state);
    const Decision d = r.run(tcp4_frame("198.51.100.7", port, "192.0.2.10", 80, kTcpAck));
    EXPECT_EQ(d.verdict, ANYLB_VERDICT_TX);
    EXPECT_EQ(d.path, DecisionPath::Rescheduled) << (remove ? "removed" : "down");
    EXPECT_NE(d.backend_id, gone);
    EXPECT_EQ(r.counters->path.rescheduled, 1u);
    // The flow now sticks to its new backend.
    const Decision next = r.run(tcp4_frame("198.51.100.7", port, "192.0.2.10", 80, kTcpAck));
    EXPECT_EQ(next.path, DecisionPath::FlowHit);
    EXPECT_EQ(next.backend_id, d.backend_id);
  }
}

TEST(Decide, NoUsableBackendIsACountedDrop) {
  Runner r;
  StateSpec spec = test_spec();
  for (auto& b : spec.vips[1].backends) b.state = ANYLB_BACKEND_DRAINING;
  r.state = build_or_die(spec, &r.state);
  const Decision d = r.run(udp4_frame("198.51.100.7", 1000, "192.0.2.53", 53));
  EXPECT_EQ(d.verdict, ANYLB_VERDICT_DROP);
  EXPECT_EQ(d.reason, ANYLB_DROP_NO_BACKEND);
  EXPECT_EQ(r.counters->vip[d.vip_id].drops, 1u);
}

TEST(Decide, IdsSurviveARebuild) {
  Runner r;
  const ForwardingState before = build_or_die(test_spec());
  StateSpec spec = test_spec();
  std::reverse(spec.vips.begin(), spec.vips.end());
  for (auto& v : spec.vips) std::reverse(v.backends.begin(), v.backends.end());
  const ForwardingState after = build_or_die(spec, &before);
  for (const auto& v : before.vips) {
    const Vip* same = after.find_vip(v.address.bytes.data(), v.address.family, v.port, v.protocol);
    ASSERT_NE(same, nullptr);
    EXPECT_EQ(same->id, v.id);
    EXPECT_EQ(same->table, v.table) << v.name << ": reordering changed the table";
    EXPECT_TRUE(same->changed_slots.empty());
  }
  for (const auto& b : before.backends) {
    if (!b.present) continue;
    ASSERT_NE(after.backend(b.id), nullptr);
    EXPECT_EQ(after.backend(b.id)->address, b.address);
  }
}

TEST(Decide, TwoNodesWithTheSameConfigAgreeOnEveryFlow) {
  Runner node1, node2;
  StateSpec shuffled = test_spec();
  std::reverse(shuffled.vips[0].backends.begin(), shuffled.vips[0].backends.end());
  node2.state = build_or_die(shuffled);
  for (uint16_t p = 1; p < 2000; ++p) {
    const Decision a = node1.run(tcp4_frame("198.51.100.7", p, "192.0.2.10", 80, kTcpSyn));
    const Decision b = node2.run(tcp4_frame("198.51.100.7", p, "192.0.2.10", 80, kTcpSyn));
    ASSERT_EQ(node1.backend_of(a).address, node2.backend_of(b).address) << "port " << p;
    ASSERT_EQ(node1.out, node2.out);
  }
}

TEST(Decide, FlowsSpreadOverBackends) {
  Runner r;
  std::map<uint32_t, int> per_backend;
  for (uint16_t p = 1; p <= 3000; ++p) {
    ++per_backend[r.run(tcp4_frame("198.51.100.7", p, "192.0.2.10", 80, kTcpSyn)).backend_id];
  }
  ASSERT_EQ(per_backend.size(), 3u);
  for (const auto& [id, n] : per_backend) EXPECT_NEAR(n, 1000, 150) << "backend " << id;
}

// ---- ICMP.

TEST(Decide, EchoRequestToAVipIsAnswered) {
  Runner r;
  const Bytes req = eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoIcmp,
                                  icmp_echo(false, 0x77, 3, Bytes{1, 2, 3, 4, 5}), Ipv4Opts{.ttl = 9}));
  const Decision d = r.run(req);
  ASSERT_EQ(d.verdict, ANYLB_VERDICT_REPLY);
  const Bytes expected_ip = ipv4(ip("192.0.2.10"), ip("198.51.100.7"), kIpProtoIcmp,
                                 [] {
                                   Bytes m = icmp_echo(false, 0x77, 3, Bytes{1, 2, 3, 4, 5});
                                   m[0] = 0;  // echo reply; checksum filled by ipv4()
                                   m[2] = m[3] = 0;
                                   return m;
                                 }(),
                                 Ipv4Opts{.ttl = 64});
  EXPECT_EQ(r.out, eth(expected_ip, kEthertypeIpv4, std::nullopt, kClientMac, kNodeMac));
  EXPECT_EQ(r.counters->path.replied, 1u);
}

// Found by the fuzzer: with id, sequence and payload all zero, the reply's
// message is all zero, and RFC 1624's incremental update gives checksum
// 0x0000, which does not verify. It must be 0xffff.
TEST(Decide, EchoReplyWithAnAllZeroMessageHasAChecksumThatVerifies) {
  Runner r;
  const Bytes req =
      eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoIcmp, icmp_echo(false, 0, 0)));
  ASSERT_EQ(r.run(req).verdict, ANYLB_VERDICT_REPLY);
  ASSERT_EQ(r.out.size(), 14u + 20u + 8u);
  EXPECT_EQ(Bytes(r.out.begin() + 34, r.out.end()), (Bytes{0, 0, 0xff, 0xff, 0, 0, 0, 0}));
}

TEST(Decide, Icmpv6EchoRequestToAVipIsAnswered) {
  Runner r;
  const Bytes req = eth_ipv6(ipv6(ip("2001:db8:ffff::1"), ip("2001:db8::10"), kIpProtoIcmpv6,
                                  icmp_echo(true, 9, 9, Bytes(33, 7))));
  const Decision d = r.run(req);
  ASSERT_EQ(d.verdict, ANYLB_VERDICT_REPLY);
  Bytes reply_msg = icmp_echo(true, 9, 9, Bytes(33, 7));
  reply_msg[0] = 129;
  reply_msg[2] = reply_msg[3] = 0;
  const Bytes expected_ip = ipv6(ip("2001:db8::10"), ip("2001:db8:ffff::1"), kIpProtoIcmpv6, reply_msg);
  EXPECT_EQ(r.out, eth(expected_ip, kEthertypeIpv6, std::nullopt, kClientMac, kNodeMac));
}

TEST(Decide, EchoWithIpOptionsIsNotAnswered) {
  Runner r;
  const Bytes req = eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoIcmp,
                                  icmp_echo(false, 1, 1), Ipv4Opts{.options = Bytes{1, 1, 1, 0}}));
  const Decision d = r.run(req);
  EXPECT_EQ(d.verdict, ANYLB_VERDICT_DROP);
  EXPECT_EQ(d.reason, ANYLB_DROP_ICMP_UNHANDLED);
}

TEST(Decide, FragNeededFollowsTheQuotedFlowToItsBackend) {
  Runner r;
  // Establish the flow, then change the table so Maglev alone would disagree
  // for some flows: the ICMP error must follow the flow table.
  const Decision flow = r.run(tcp4_frame("198.51.100.7", 40000, "192.0.2.10", 80, kTcpSyn));
  // The backend's reply, as a router would quote it: VIP -> client.
  const Bytes quoted = ipv4(ip("192.0.2.10"), ip("198.51.100.7"), kIpProtoTcp,
                            tcp(80, 40000, kTcpAck, Bytes(1400, 0)));
  const Bytes err = eth_ipv4(ipv4(ip("203.0.113.1"), ip("192.0.2.10"), kIpProtoIcmp,
                                  icmp_error(false, 3, 4, 1400,
                                             Bytes(quoted.begin(), quoted.begin() + 28))));
  const Decision d = r.run(err);
  ASSERT_EQ(d.verdict, ANYLB_VERDICT_TX);
  EXPECT_EQ(d.path, DecisionPath::IcmpError);
  EXPECT_EQ(d.backend_id, flow.backend_id);
  EXPECT_EQ(d.flow_hash, flow.flow_hash);
  EXPECT_EQ(r.counters->path.icmp_errors_routed, 1u);
  // The whole ICMP packet is what gets tunnelled.
  EXPECT_EQ(Bytes(r.out.begin() + 34, r.out.end()), Bytes(err.begin() + 14, err.end()));
}

TEST(Decide, IcmpErrorWithoutAFlowEntryUsesMaglevOnTheReversedFlow) {
  Runner r;
  const Bytes quoted = ipv4(ip("192.0.2.53"), ip("198.51.100.7"), kIpProtoUdp, udp(53, 5353));
  const Decision d = r.run(eth_ipv4(ipv4(ip("203.0.113.1"), ip("192.0.2.53"), kIpProtoIcmp,
                                         icmp_error(false, 3, 3, 0, quoted))));
  ASSERT_EQ(d.verdict, ANYLB_VERDICT_TX);
  Runner fresh;
  const Decision direct = fresh.run(udp4_frame("198.51.100.7", 5353, "192.0.2.53", 53));
  EXPECT_EQ(d.backend_id, direct.backend_id);
  EXPECT_EQ(r.flows.stats().inserts, 0u);  // errors make no flow entries
}

TEST(Decide, PacketTooBigFollowsTheIpv6Flow) {
  Runner r;
  const Decision flow = r.run(tcp6_frame("2001:db8:ffff::1", 50000, "2001:db8::10", 443, kTcpSyn));
  const Bytes quoted = ipv6(ip("2001:db8::10"), ip("2001:db8:ffff::1"), kIpProtoTcp,
                            tcp(443, 50000, kTcpAck, Bytes(1300, 0)));
  const Decision d = r.run(eth_ipv6(ipv6(ip("2001:db8:1::1"), ip("2001:db8::10"), kIpProtoIcmpv6,
                                         icmp_error(true, 2, 0, 1280,
                                                    Bytes(quoted.begin(), quoted.begin() + 48)))));
  ASSERT_EQ(d.verdict, ANYLB_VERDICT_TX);
  EXPECT_EQ(d.backend_id, flow.backend_id);
}

TEST(Decide, IcmpErrorAboutANonVipFlowIsUnhandled) {
  Runner r;
  const Bytes quoted = ipv4(ip("192.0.2.10"), ip("198.51.100.7"), kIpProtoTcp, tcp(8080, 40000, 0x10));
  const Decision d = r.run(eth_ipv4(ipv4(ip("203.0.113.1"), ip("192.0.2.10"), kIpProtoIcmp,
                                         icmp_error(false, 3, 4, 1400, quoted))));
  EXPECT_EQ(d.verdict, ANYLB_VERDICT_DROP);
  EXPECT_EQ(d.reason, ANYLB_DROP_ICMP_UNHANDLED);
}

// ---- Fragments.

TEST(Decide, AllFragmentsOfADatagramGoToOneBackend) {
  Runner r;
  std::set<uint32_t> backends_seen;
  for (uint16_t id = 0; id < 200; ++id) {
    Ipv4Opts first{.df = false, .mf = true, .id = id};
    Ipv4Opts later{.df = false, .mf = false, .frag_offset = 126, .id = id};
    const char* client = id % 2 ? "198.51.100.7" : "198.51.100.8";
    const Decision a = r.run(eth_ipv4(ipv4(ip(client), ip("192.0.2.53"), kIpProtoUdp,
                                           udp(5353, 53, Bytes(1000, 0)), first)));
    const Decision b = r.run(eth_ipv4(ipv4(ip(client), ip("192.0.2.53"), kIpProtoUdp,
                                           Bytes(100, 0), later)));
    ASSERT_EQ(a.verdict, ANYLB_VERDICT_TX);
    ASSERT_EQ(b.verdict, ANYLB_VERDICT_TX);
    EXPECT_EQ(a.path, DecisionPath::Fragment);
    EXPECT_EQ(a.backend_id, b.backend_id);
    backends_seen.insert(a.backend_id);
  }
  EXPECT_EQ(r.flows.stats().inserts, 0u);
  EXPECT_EQ(r.counters->path.fragments_routed, 400u);
}

TEST(Decide, FragmentToAnAddressWithSeveralPortVipsIsUnroutable) {
  Runner r;
  const Decision d = r.run(eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.30"), kIpProtoTcp,
                                         Bytes(64, 0), Ipv4Opts{.df = false, .frag_offset = 100})));
  EXPECT_EQ(d.verdict, ANYLB_VERDICT_DROP);
  EXPECT_EQ(d.reason, ANYLB_DROP_FRAGMENT_UNROUTABLE);
}

TEST(Decide, Ipv6FragmentsGoToOneBackend) {
  Runner r;
  Ipv6Opts first;
  first.ext = {{kIpProtoFragment, ipv6_fragment_body(0, true, 99)}};
  Ipv6Opts later;
  later.ext = {{kIpProtoFragment, ipv6_fragment_body(100, false, 99)}};
  const Decision a = r.run(eth_ipv6(ipv6(ip("2001:db8:ffff::1"), ip("2001:db8::10"), kIpProtoTcp,
                                         tcp(50000, 443, kTcpAck, Bytes(100, 0)), first)));
  const Decision b = r.run(eth_ipv6(ipv6(ip("2001:db8:ffff::1"), ip("2001:db8::10"), kIpProtoTcp,
                                         Bytes(64, 0), later)));
  ASSERT_EQ(a.verdict, ANYLB_VERDICT_TX);
  ASSERT_EQ(b.verdict, ANYLB_VERDICT_TX);
  EXPECT_EQ(a.backend_id, b.backend_id);
}

// ---- Robustness: random bytes never crash and never forward garbage.

TEST(Decide, MutatedFramesAreHandled) {
  Runner r;
  std::mt19937 rng(1234);
  const std::vector<Bytes> seeds = {
      tcp4_frame("198.51.100.7", 1, "192.0.2.10", 80, kTcpSyn),
      udp4_frame("198.51.100.7", 1, "192.0.2.53", 53, Bytes(20, 1)),
      tcp6_frame("2001:db8:ffff::1", 1, "2001:db8::10", 443, kTcpAck),
  };
  for (int i = 0; i < 30000; ++i) {
    Bytes f = seeds[i % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) f[rng() % f.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) f.resize(rng() % f.size());
    const Decision d = r.run(f);
    if (d.verdict == ANYLB_VERDICT_TX) {
      // Whatever went out is a well-formed tunnel packet to a real backend.
      ASSERT_NE(r.state.backend(d.backend_id), nullptr);
      ASSERT_GE(r.out.size(), 34u);
    }
  }
}

}  // namespace
}  // namespace anylb::test

namespace anylb::test {
namespace {

// decide_burst must be decide() in order, frame for frame, bytes included.
TEST(DecideBurst, EqualsOneAtATime) {
  std::vector<Bytes> frames;
  std::mt19937 rng(99);
  for (int i = 0; i < 700; ++i) {
    const uint16_t port = static_cast<uint16_t>(1000 + rng() % 200);  // repeats: hits
    switch (rng() % 7) {
      case 0: frames.push_back(tcp4_frame("198.51.100.7", port, "192.0.2.10", 80, kTcpSyn)); break;
      case 1: frames.push_back(tcp4_frame("198.51.100.7", port, "192.0.2.10", 80, kTcpAck)); break;
      case 2: frames.push_back(udp4_frame("198.51.100.8", port, "192.0.2.53", 53)); break;
      case 3: frames.push_back(tcp6_frame("2001:db8:ffff::1", port, "2001:db8::10", 443, kTcpFin)); break;
      case 4: frames.push_back(udp4_frame("198.51.100.9", port, "192.0.2.99", 53)); break;
      case 5:
        frames.push_back(eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoIcmp,
                                       icmp_echo(false, port, 1))));
        break;
      default: {
        Bytes f = tcp4_frame("198.51.100.7", port, "192.0.2.10", 80, kTcpAck);
        f.resize(14 + 20 + 5);  // malformed
        frames.push_back(f);
      }
    }
  }
  Runner one, burst;
  std::vector<Decision> expected;
  std::vector<Bytes> expected_out;
  for (const auto& f : frames) {
    expected.push_back(one.run(f));
    expected_out.push_back(one.out);
  }
  // Bursts of uneven sizes, including ones larger than kMaxBurst.
  size_t at = 0;
  for (size_t size : {1u, 5u, 32u, 33u, 100u, 529u}) {
    std::vector<std::vector<uint8_t>> storage;
    std::vector<PacketBuffer> bufs;
    for (size_t i = at; i < at + size; ++i) {
      storage.emplace_back(128 + frames[i].size());
      std::copy(frames[i].begin(), frames[i].end(), storage.back().begin() + 128);
    }
    for (size_t i = 0; i < size; ++i) {
      bufs.push_back({storage[i].data() + 128, static_cast<uint32_t>(frames[at + i].size()), 128});
    }
    std::vector<Decision> got(size);
    decide_burst(bufs, burst.state, burst.flows, burst.now_ms, *burst.counters, got);
    for (size_t i = 0; i < size; ++i) {
      const Decision& e = expected[at + i];
      ASSERT_EQ(got[i].verdict, e.verdict) << "frame " << at + i;
      ASSERT_EQ(got[i].reason, e.reason) << "frame " << at + i;
      ASSERT_EQ(got[i].backend_id, e.backend_id) << "frame " << at + i;
      ASSERT_EQ(got[i].path, e.path) << "frame " << at + i;
      ASSERT_EQ(Bytes(bufs[i].data, bufs[i].data + bufs[i].len), expected_out[at + i])
          << "frame " << at + i;
    }
    at += size;
  }
  ASSERT_EQ(at, frames.size());
  EXPECT_EQ(one.flows.stats().hits, burst.flows.stats().hits);
  EXPECT_EQ(one.counters->path.transmitted, burst.counters->path.transmitted);
}

}  // namespace
}  // namespace anylb::test
