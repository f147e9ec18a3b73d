#include "xdp/node_config.h"

#include <cstring>

namespace anylb {

anylb_node_config make_node_config(const ForwardingState& state, const FlowTimeoutsMs& timeouts) {
  anylb_node_config c{};
  const EncapParams& e = state.encap;
  c.hash_seed = state.hash_seed;
  c.gue_port = e.gue_port;
  c.mtu = e.mtu;
  std::memcpy(c.gateway_mac, e.gateway_mac.data(), 6);
  // encap_source(): a prefix wins over a single address.
  if (e.source_v4_prefix) {
    c.has_source_v4 = ANYLB_SOURCE_PREFIX;
    std::memcpy(c.source_v4, e.source_v4_prefix->base.bytes.data(), 16);
    c.source_v4_size = e.source_v4_prefix->size();
  } else if (e.source_v4) {
    c.has_source_v4 = ANYLB_SOURCE_ADDRESS;
    std::memcpy(c.source_v4, e.source_v4->bytes.data(), 16);
  }
  if (e.source_v6_prefix) {
    c.has_source_v6 = ANYLB_SOURCE_PREFIX;
    std::memcpy(c.source_v6, e.source_v6_prefix->base.bytes.data(), 16);
    c.source_v6_size = e.source_v6_prefix->size();
  } else if (e.source_v6) {
    c.has_source_v6 = ANYLB_SOURCE_ADDRESS;
    std::memcpy(c.source_v6, e.source_v6->bytes.data(), 16);
  }
  c.timeout_ms[ANYLB_FLOW_UDP] = timeouts.udp;
  c.timeout_ms[ANYLB_FLOW_TCP_SYN] = timeouts.tcp_syn;
  c.timeout_ms[ANYLB_FLOW_TCP_ESTABLISHED] = timeouts.tcp_established;
  c.timeout_ms[ANYLB_FLOW_TCP_CLOSING] = timeouts.tcp_closing;
  c.timeout_ms[ANYLB_FLOW_OTHER] = timeouts.other;
  return c;
}

}  // namespace anylb
