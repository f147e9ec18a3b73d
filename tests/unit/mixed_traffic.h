// Mixed traffic for the tests that run a fast path against the C++ model
// (xdp, dpdk): a state with every VIP kind, and a seeded stream of frames to
// it: flows to every VIP kind and to non-VIPs, ICMP, fragments, options and
// extension headers, VLAN tags, and damaged copies of all.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "dataplane/core/flow_table.h"
#include "dataplane/core/forwarding_state.h"
#include "tests/unit/frames.h"

namespace anylb::test {

inline const MacAddress kGateway{0x02, 0, 0, 0, 0, 0x01};

VipSpec vip(const char* name, const char* addr, uint16_t port, uint8_t proto, anylb_encap e,
            std::vector<const char*> backends, uint32_t table = 1009);
// Fifteen VIPs: IPv4 and IPv6, TCP and UDP, IPIP and GUE, a port-less VIP,
// two VIPs on one address, more than six on another (the overflow index).
StateSpec spec();
// Aborts the test binary on a build error (a broken fixture, not a finding).
ForwardingState build(const StateSpec& s, const ForwardingState* prev = nullptr);
// An hour: a sequence must not cross an idle timeout between the model's
// clock read and the fast path's.
FlowTimeoutsMs long_timeouts();

class FrameSource {
 public:
  explicit FrameSource(uint64_t seed);
  Bytes next();

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

  void pick_target(Flow& f);
  Bytes payload();
  Bytes l4(const Flow& f, uint8_t flags);
  Bytes ip_packet(const Flow& f, const Bytes& l4bytes);
  Bytes flow_packet(Flow& f);
  Bytes icmp_packet();
  Bytes fragment_packet();
  Bytes decorated_packet();
  Bytes damage(Bytes f);

  std::mt19937_64 rng_;
  std::vector<Flow> flows_;
};

}  // namespace anylb::test
