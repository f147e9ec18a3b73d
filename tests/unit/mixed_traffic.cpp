#include "tests/unit/mixed_traffic.h"

#include "dataplane/core/packet_view.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

namespace anylb::test {

VipSpec vip(const char* name, const char* addr, uint16_t port, uint8_t proto, anylb_encap e,
            std::vector<const char*> backends, uint32_t table) {
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

ForwardingState build(const StateSpec& s, const ForwardingState* prev) {
  auto r = build_forwarding_state(s, prev);
  if (!r) {
    ADD_FAILURE() << r.error().message;
    std::abort();
  }
  return std::move(*r);
}

FlowTimeoutsMs long_timeouts() {
  FlowTimeoutsMs t;
  t.tcp_syn = t.tcp_established = t.tcp_closing = t.udp = t.other = 3'600'000;
  return t;
}

FrameSource::FrameSource(uint64_t seed) : rng_(seed) {
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

Bytes FrameSource::next() {
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

void FrameSource::pick_target(Flow& f) {
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

Bytes FrameSource::payload() { return Bytes(rng_() % 4 == 0 ? rng_() % 1400 : rng_() % 64, 0x5a); }

Bytes FrameSource::l4(const Flow& f, uint8_t flags) {
  return f.proto == 6 ? tcp(f.sport, f.dport, flags, payload()) : udp(f.sport, f.dport, payload());
}

Bytes FrameSource::ip_packet(const Flow& f, const Bytes& l4bytes) {
  return f.v6 ? ipv6(f.client, f.dst, f.proto, l4bytes) : ipv4(f.client, f.dst, f.proto, l4bytes);
}

Bytes FrameSource::flow_packet(Flow& f) {
  uint8_t flags = kTcpAck;
  if (f.packets == 0) flags = kTcpSyn;
  else if (rng_() % 30 == 0) flags = kTcpFin | kTcpAck;
  else if (rng_() % 60 == 0) flags = kTcpRst;
  ++f.packets;
  const Bytes p = ip_packet(f, l4(f, flags));
  return f.v6 ? eth_ipv6(p) : eth_ipv4(p);
}

Bytes FrameSource::icmp_packet() {
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

Bytes FrameSource::fragment_packet() {
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

Bytes FrameSource::decorated_packet() {  // IPv4 options, IPv6 extension headers, VLAN
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

Bytes FrameSource::damage(Bytes f) {
  if (rng_() % 2) {
    f.resize(rng_() % f.size());
  } else {
    const int n = 1 + static_cast<int>(rng_() % 3);
    for (int i = 0; i < n; ++i) f[rng_() % f.size()] = static_cast<uint8_t>(rng_());
  }
  return f;
}

}  // namespace anylb::test
