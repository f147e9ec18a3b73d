// A small fixed forwarding state shared by the encap and decision tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "dataplane/core/counters.h"
#include "dataplane/core/decide.h"
#include "dataplane/core/flow_hash.h"
#include "dataplane/core/flow_key.h"
#include "dataplane/core/forwarding_state.h"
#include "dataplane/core/packet_view.h"
#include "tests/unit/frames.h"

namespace anylb::test {

inline const MacAddress kGatewayMac{0x02, 0, 0, 0, 0, 0x01};
constexpr uint32_t kSeed = 0x5eed1e55;

// web   192.0.2.10:80/tcp   ipip  10.1.0.1-3
// dns   192.0.2.53:53/udp   gue   10.2.0.1-2
// web6  [2001:db8::10]:443/tcp ipip fd00:1::1-2
// any   192.0.2.20:*/udp    gue   fd00:2::1        (port-less, 4in6 GUE)
// two   192.0.2.30:80/tcp and :443/tcp ipip 10.3.0.1 (fragments ambiguous)
inline StateSpec test_spec() {
  StateSpec s;
  s.hash_seed = kSeed;
  s.encap.gateway_mac = kGatewayMac;
  s.encap.source_v4 = ip("10.100.0.1");
  s.encap.source_v6_prefix = *parse_ip_prefix("fd00:100::/120");
  s.encap.gue_port = 6080;
  s.encap.mtu = 1500;
  auto vip = [](const char* name, const char* addr, uint16_t port, uint8_t proto, anylb_encap e,
                std::vector<const char*> backends) {
    VipSpec v;
    v.name = name;
    v.address = ip(addr);
    v.port = port;
    v.protocol = proto;
    v.encap = e;
    v.table_size = 1009;
    for (auto b : backends) v.backends.push_back({ip(b), 100, ANYLB_BACKEND_ACTIVE});
    return v;
  };
  s.vips.push_back(vip("web", "192.0.2.10", 80, 6, ANYLB_ENCAP_IPIP,
                       {"10.1.0.1", "10.1.0.2", "10.1.0.3"}));
  s.vips.push_back(vip("dns", "192.0.2.53", 53, 17, ANYLB_ENCAP_GUE, {"10.2.0.1", "10.2.0.2"}));
  s.vips.push_back(vip("web6", "2001:db8::10", 443, 6, ANYLB_ENCAP_IPIP, {"fd00:1::1", "fd00:1::2"}));
  s.vips.push_back(vip("any", "192.0.2.20", 0, 17, ANYLB_ENCAP_GUE, {"fd00:2::1"}));
  s.vips.push_back(vip("two-80", "192.0.2.30", 80, 6, ANYLB_ENCAP_IPIP, {"10.3.0.1"}));
  s.vips.push_back(vip("two-443", "192.0.2.30", 443, 6, ANYLB_ENCAP_IPIP, {"10.3.0.1"}));
  return s;
}

inline ForwardingState build_or_die(const StateSpec& spec, const ForwardingState* prev = nullptr) {
  auto r = build_forwarding_state(spec, prev);
  if (!r) {
    ADD_FAILURE() << r.error().message;
    std::abort();
  }
  return std::move(*r);
}

// One frame through decide() with a buffer that has headroom; the output
// frame (for TX/REPLY) lands in `out`.
struct Runner {
  ForwardingState state = build_or_die(test_spec());
  FlowTable flows{4096, FlowTimeoutsMs{}};
  std::unique_ptr<Counters> counters = std::make_unique<Counters>();
  uint32_t now_ms = 1000;
  Bytes out;

  Decision run(const Bytes& frame, uint32_t headroom = 128) {
    std::vector<uint8_t> storage(headroom + frame.size());
    std::copy(frame.begin(), frame.end(), storage.begin() + headroom);
    PacketBuffer buf{storage.data() + headroom, static_cast<uint32_t>(frame.size()), headroom};
    const Decision d = decide(buf, state, flows, now_ms, *counters);
    out.assign(buf.data, buf.data + buf.len);
    return d;
  }

  const Backend& backend_of(const Decision& d) const {
    const Backend* b = state.backend(d.backend_id);
    if (!b) {
      ADD_FAILURE() << "no backend " << d.backend_id;
      std::abort();
    }
    return *b;
  }
};

inline Bytes tcp4_frame(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                        uint8_t flags, const Bytes& payload = {}) {
  return eth_ipv4(ipv4(ip(src), ip(dst), kIpProtoTcp, tcp(sport, dport, flags, payload)));
}
inline Bytes udp4_frame(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                        const Bytes& payload = {}) {
  return eth_ipv4(ipv4(ip(src), ip(dst), kIpProtoUdp, udp(sport, dport, payload)));
}
inline Bytes tcp6_frame(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                        uint8_t flags, const Bytes& payload = {}) {
  return eth_ipv6(ipv6(ip(src), ip(dst), kIpProtoTcp, tcp(sport, dport, flags, payload)));
}

}  // namespace anylb::test
