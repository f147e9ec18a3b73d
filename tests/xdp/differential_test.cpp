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
#include <random>

#include "dataplane/core/decide.h"
#include "dataplane/core/flow_key.h"
#include "dataplane/core/packet_view.h"
#include "dataplane/replay/frame_decider.h"
#include "tests/unit/frames.h"
#include "xdp/xdp_decider.h"

namespace anylb::test {
namespace {

const MacAddress kGateway{0x02, 0, 0, 0, 0, 0x01};

VipSpec vip(const char* name, const char* addr, uint16_t port, uint8_t proto, anylb_encap e,
            std::vector<const char*> backends, uint32_t table = 1009) {
  VipSpec v;
  v.name = name;
  v.address = ip(addr);
  v.port = port;
  v.protocol = proto;
  v.encap = e;
  v.table_size = table;
  for (auto b : backends) v.backends.push_back({ip(b), 100, ANYLB_BACKEND_ACTIVE});
  return v;
}

StateSpec spec() {
  StateSpec s;
  s.hash_seed = 0x5eed1e55;
  s.encap.gateway_mac = kGateway;
  s.encap.source_v4_prefix = *parse_ip_prefix("10.100.0.0/24");
  s.encap.source_v6 = ip("fd00:100::1");
  s.encap.gue_port = 6080;
  s.encap.mtu = 1500;
  s.vips.push_back(vip("web", "192.0.2.10", 80, 6, ANYLB_ENCAP_IPIP,
                       {"10.1.0.1", "10.1.0.2", "10.1.0.3"}, 65537));
  s.vips.push_back(vip("dns", "192.0.2.53", 53, 17, ANYLB_ENCAP_GUE, {"10.2.0.1", "10.2.0.2"}));
  s.vips.push_back(vip("web6", "2001:db8::10", 443, 6, ANYLB_ENCAP_IPIP, {"fd00:1::1", "fd00:1::2"}));
  s.vips.push_back(vip("quic6", "2001:db8::10", 443, 17, ANYLB_ENCAP_GUE, {"fd00:1::1", "fd00:1::3"}));
  s.vips.push_back(vip("any", "192.0.2.20", 0, 17, ANYLB_ENCAP_GUE, {"fd00:2::1", "fd00:2::2"}));
  s.vips.push_back(vip("two-80", "192.0.2.30", 80, 6, ANYLB_ENCAP_IPIP, {"10.3.0.1"}));
  s.vips.push_back(vip("two-443", "192.0.2.30", 443, 6, ANYLB_ENCAP_GUE, {"10.3.0.2"}));
  for (uint16_t p = 8000; p < 8008; ++p) {  // > 6 VIPs on one address: the overflow index
    s.vips.push_back(vip(("many-" + std::to_string(p)).c_str(), "192.0.2.40", p, 6,
                         ANYLB_ENCAP_IPIP, {"10.4.0.1", "10.4.0.2"}));
  }
  return s;
}

ForwardingState build(const StateSpec& s, const ForwardingState* prev = nullptr) {
  auto r = build_forwarding_state(s, prev);
  if (!r) {
    ADD_FAILURE() << r.error().message;
    std::abort();
  }
  return std::move(*r);
}

FlowTimeoutsMs long_timeouts() {
  // An hour: the random sequence must not cross an idle timeout between the
  // model's clock read and the program's (they differ by microseconds).
  FlowTimeoutsMs t;
  t.tcp_syn = t.tcp_established = t.tcp_closing = t.udp = t.other = 3'600'000;
  return t;
}

// The frames: flows to every VIP kind and to non-VIPs, ICMP, fragments,
// options and extension headers, VLAN tags, and damaged copies of all.
class FrameSource {
 public:
  explicit FrameSource(uint64_t seed) : rng_(seed) {
    const char* v4_clients[] = {"198.51.100.7", "198.51.100.8", "203.0.113.9", "198.18.0.1"};
    const char* v6_clients[] = {"2001:db8:ffff::1", "2001:db8:ffff::2", "2001:db8:eeee::7"};
    for (int i = 0; i < 3000; ++i) {
      Flow f;
      f.v6 = rng_() % 3 == 0;
      f.client = ip(f.v6 ? v6_clients[rng_() % 3] : v4_clients[rng_() % 4]);
      f.sport = static_cast<uint16_t>(1024 + rng_() % 60000);
      pick_target(f);
      flows_.push_back(f);
    }
  }

  Bytes next() {
    const uint32_t kind = rng_() % 100;
    Bytes frame;
    if (kind < 60) {
      frame = flow_packet(flows_[rng_() % flows_.size()]);
    } else if (kind < 66) {
      frame = icmp_packet();
    } else if (kind < 72) {
      frame = fragment_packet();
    } else if (kind < 78) {
      frame = decorated_packet();
    } else if (kind < 84) {
      frame = eth(Bytes(28 + rng_() % 20, static_cast<uint8_t>(rng_())), kEthertypeArp);
    } else {
      frame = damage(flow_packet(flows_[rng_() % flows_.size()]));
    }
    if (rng_() % 10 == 0) frame.resize(std::max<size_t>(60, frame.size()), 0);  // padding
    return frame;
  }

 private:
  struct Flow {
    bool v6;
    IpAddress client;
    uint16_t sport;
    IpAddress dst;
    uint16_t dport;
    uint8_t proto;
    int packets = 0;
  };

  void pick_target(Flow& f) {
    if (f.v6) {
      const int t = static_cast<int>(rng_() % 4);
      f.dst = ip(t == 3 ? "2001:db8::99" : "2001:db8::10");
      f.dport = t == 2 ? 444 : 443;
      f.proto = t == 1 ? 17 : 6;
      return;
    }
    switch (rng_() % 7) {
      case 0: f.dst = ip("192.0.2.10"); f.dport = 80; f.proto = 6; break;
      case 1: f.dst = ip("192.0.2.53"); f.dport = 53; f.proto = 17; break;
      case 2: f.dst = ip("192.0.2.20"); f.dport = static_cast<uint16_t>(rng_()); f.proto = 17; break;
      case 3: f.dst = ip("192.0.2.30"); f.dport = rng_() % 2 ? 80 : 443; f.proto = 6; break;
      case 4: f.dst = ip("192.0.2.40"); f.dport = static_cast<uint16_t>(8000 + rng_() % 9); f.proto = 6; break;
      case 5: f.dst = ip("192.0.2.99"); f.dport = 80; f.proto = 6; break;  // not a VIP
      default: f.dst = ip("192.0.2.10"); f.dport = 81; f.proto = 6; break;  // VIP, wrong port
    }
  }

  Bytes payload() { return Bytes(rng_() % 4 == 0 ? rng_() % 1400 : rng_() % 64, 0x5a); }

  Bytes l4(const Flow& f, uint8_t flags) {
    return f.proto == 6 ? tcp(f.sport, f.dport, flags, payload()) : udp(f.sport, f.dport, payload());
  }

  Bytes ip_packet(const Flow& f, const Bytes& l4bytes) {
    return f.v6 ? ipv6(f.client, f.dst, f.proto, l4bytes) : ipv4(f.client, f.dst, f.proto, l4bytes);
  }

  Bytes flow_packet(Flow& f) {
    uint8_t flags = kTcpAck;
    if (f.packets == 0) flags = kTcpSyn;
    else if (rng_() % 30 == 0) flags = kTcpFin | kTcpAck;
    else if (rng_() % 60 == 0) flags = kTcpRst;
    ++f.packets;
    const Bytes p = ip_packet(f, l4(f, flags));
    return f.v6 ? eth_ipv6(p) : eth_ipv4(p);
  }

  Bytes icmp_packet() {
    Flow& f = flows_[rng_() % flows_.size()];
    if (rng_() % 2) {  // echo to the flow's destination
      const Bytes p = f.v6 ? ipv6(f.client, f.dst, kIpProtoIcmpv6, icmp_echo(true, 7, 1, payload()))
                           : ipv4(f.client, f.dst, kIpProtoIcmp, icmp_echo(false, 7, 1, payload()));
      return f.v6 ? eth_ipv6(p) : eth_ipv4(p);
    }
    // An error about the backend's reply (VIP -> client), as a router sends it.
    Flow reply = f;
    std::swap(reply.client, reply.dst);
    Bytes quoted = reply.proto == 6 ? tcp(f.dport, f.sport, kTcpAck) : udp(f.dport, f.sport);
    quoted = f.v6 ? ipv6(reply.client, reply.dst, f.proto, quoted)
                  : ipv4(reply.client, reply.dst, f.proto, quoted);
    quoted.resize(std::min<size_t>(quoted.size(), (f.v6 ? 48 : 28) + rng_() % 40));
    if (f.v6) {
      return eth_ipv6(ipv6(ip("2001:db8:1::1"), f.dst, kIpProtoIcmpv6,
                           icmp_error(true, rng_() % 2 ? 2 : 1, 0, 1280, quoted)));
    }
    return eth_ipv4(ipv4(ip("203.0.113.1"), f.dst, kIpProtoIcmp,
                         icmp_error(false, 3, rng_() % 2 ? 4 : 3, 1400, quoted)));
  }

  Bytes fragment_packet() {
    Flow& f = flows_[rng_() % flows_.size()];
    const bool first = rng_() % 2;
    if (f.v6) {
      Ipv6Opts o;
      o.ext = {{kIpProtoFragment, ipv6_fragment_body(first ? 0 : 100, first, 42)}};
      return eth_ipv6(ipv6(f.client, f.dst, f.proto, first ? l4(f, kTcpAck) : payload(), o));
    }
    Ipv4Opts o;
    o.df = false;
    o.mf = first;
    o.frag_offset = first ? 0 : 100;
    return eth_ipv4(ipv4(f.client, f.dst, f.proto, first ? l4(f, kTcpAck) : payload(), o));
  }

  Bytes decorated_packet() {  // IPv4 options, IPv6 extension headers, VLAN
    Flow& f = flows_[rng_() % flows_.size()];
    ++f.packets;
    Bytes p;
    if (f.v6) {
      Ipv6Opts o;
      o.ext.push_back({kIpProtoHopByHop, Bytes{1, 4, 0, 0, 0, 0}});
      if (rng_() % 2) o.ext.push_back({kIpProtoDestOpts, Bytes{1, 4, 0, 0, 0, 0}});
      p = ipv6(f.client, f.dst, f.proto, l4(f, kTcpAck), o);
    } else {
      Ipv4Opts o;
      o.options = Bytes(4 * (1 + rng_() % 10), 1);  // NOPs
      o.tos = static_cast<uint8_t>(rng_());
      p = ipv4(f.client, f.dst, f.proto, l4(f, kTcpAck), o);
    }
    const uint16_t type = f.v6 ? kEthertypeIpv6 : kEthertypeIpv4;
    return rng_() % 2 ? eth(p, type, static_cast<uint16_t>(rng_() % 4096)) : eth(p, type);
  }

  Bytes damage(Bytes f) {
    if (rng_() % 2) {
      f.resize(rng_() % f.size());
    } else {
      const int n = 1 + static_cast<int>(rng_() % 3);
      for (int i = 0; i < n; ++i) f[rng_() % f.size()] = static_cast<uint8_t>(rng_());
    }
    return f;
  }

  std::mt19937_64 rng_;
  std::vector<Flow> flows_;
};

std::string hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%02x", x);
    s += buf;
  }
  return s;
}

std::unique_ptr<XdpDecider> make_xdp(const ForwardingState& st, const FlowTimeoutsMs& t) {
  auto x = XdpDecider::create(st, 1 << 16, t);
  if (!x) {
    const std::string& m = x.error().message;
    if (geteuid() != 0) return nullptr;  // the caller skips
    ADD_FAILURE() << m;
    return nullptr;
  }
  return std::move(*x);
}

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

TEST(XdpDifferential, TwoHundredThousandFramesWithTableFlips) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  const FlowTimeoutsMs t = long_timeouts();
  ForwardingState st = build(spec());
  auto xdp = make_xdp(st, t);
  ASSERT_NE(xdp, nullptr);
  ModelDecider model(st, 1 << 16, t);
  FrameSource src(20261128);

  auto m1 = compare(model, *xdp, src, 80'000, 0);
  ASSERT_FALSE(m1) << "frame " << m1->index << ": " << m1->what;

  // Flip: drain one backend, take one down, add one; existing flows must
  // follow the same rules on both paths.
  StateSpec changed = spec();
  changed.vips[0].backends[1].state = ANYLB_BACKEND_DRAINING;
  changed.vips[1].backends[0].state = ANYLB_BACKEND_DOWN;
  changed.vips[2].backends.push_back({ip("fd00:1::9"), 100, ANYLB_BACKEND_ACTIVE});
  ForwardingState st2 = build(changed, &st);
  ASSERT_TRUE(model.publish(st2));
  ASSERT_TRUE(xdp->publish(st2));
  auto m2 = compare(model, *xdp, src, 70'000, 80'000);
  ASSERT_FALSE(m2) << "frame " << m2->index << ": " << m2->what;

  // Flip again: a backend removed outright, a VIP removed, the table resized.
  StateSpec again = changed;
  again.vips[0].backends.erase(again.vips[0].backends.begin());
  again.vips[0].table_size = 1013;
  again.vips.erase(again.vips.begin() + 5);  // two-80 goes
  ForwardingState st3 = build(again, &st2);
  ASSERT_TRUE(model.publish(st3));
  ASSERT_TRUE(xdp->publish(st3));
  auto m3 = compare(model, *xdp, src, 60'000, 150'000);
  ASSERT_FALSE(m3) << "frame " << m3->index << ": " << m3->what;

  // The counters agree too: every path counter, every drop reason, and every
  // VIP's and backend's packets and bytes (the program's, on this CPU).
  const Counters& c = model.counters();
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

TEST(XdpDifferential, IdleTimeoutsExpireAlike) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  FlowTimeoutsMs t = long_timeouts();
  t.tcp_syn = 200;  // a SYN-only flow is forgotten after 200 ms
  ForwardingState st = build(spec());
  auto xdp = make_xdp(st, t);
  ASSERT_NE(xdp, nullptr);
  ModelDecider model(st, 1 << 16, t);
  // SYNs, then the table changes so Maglev would now pick differently for
  // some; after 400 ms idle both must have forgotten the SYN-only flows.
  std::vector<Bytes> syns;
  for (uint16_t p = 1000; p < 1300; ++p) {
    syns.push_back(eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp, tcp(p, 80, kTcpSyn))));
  }
  for (const auto& f : syns) {
    auto m = model.decide(f, monotonic_ms());
    auto x = xdp->decide(f, 0);
    ASSERT_TRUE(m && x);
    ASSERT_EQ(m->out, x->out);
  }
  StateSpec changed = spec();
  changed.vips[0].backends.push_back({ip("10.1.0.4"), 300, ANYLB_BACKEND_ACTIVE});
  ForwardingState st2 = build(changed, &st);
  ASSERT_TRUE(model.publish(st2));
  ASSERT_TRUE(xdp->publish(st2));
  usleep(400'000);
  int moved = 0;
  for (const auto& f : syns) {
    Bytes ack = f;
    auto m = model.decide(ack, monotonic_ms());
    auto x = xdp->decide(ack, 0);
    ASSERT_TRUE(m && x);
    ASSERT_EQ(m->out, x->out);
    moved += m->out.size() > 33 && m->out[33] == 4;  // outer destination 10.1.0.4
  }
  EXPECT_GT(moved, 0) << "expired SYN flows should have been re-picked onto the new backend";
}

}  // namespace
}  // namespace anylb::test
