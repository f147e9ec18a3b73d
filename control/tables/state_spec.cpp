#include "state_spec.h"

namespace anylb {

StateSpec state_spec_from_config(const Config& config) {
  StateSpec spec;
  spec.hash_seed = config.node.hash_seed;
  spec.encap.gateway_mac = config.node.gateway_mac;
  spec.encap.source_v4 = config.node.tunnel_source_v4;
  spec.encap.source_v4_prefix = config.node.tunnel_source_v4_prefix;
  spec.encap.source_v6 = config.node.tunnel_source_v6;
  spec.encap.source_v6_prefix = config.node.tunnel_source_v6_prefix;
  spec.encap.gue_port = config.node.gue_port;
  spec.encap.mtu = config.node.mtu;
  for (const auto& vc : config.vips) {
    VipSpec v;
    v.name = vc.name;
    v.address = vc.address;
    v.port = vc.port;
    v.protocol = vc.protocol;
    v.encap = vc.encap;
    v.table_size = vc.table_size;
    for (const auto& bc : vc.backends) v.backends.push_back({bc.address, bc.weight, bc.state});
    spec.vips.push_back(std::move(v));
  }
  return spec;
}

StateSpec state_spec_from_config(const Config& config, const HealthyFn& healthy,
                                 const RuntimeOverrides& overrides) {
  StateSpec spec = state_spec_from_config(config);
  for (VipSpec& v : spec.vips) {
    for (BackendSpec& b : v.backends) {
      if (auto w = overrides.weights.find({v.name, b.address}); w != overrides.weights.end()) {
        b.weight = w->second;
      }
      if (!healthy(v.name, b.address)) b.state = ANYLB_BACKEND_DOWN;
    }
  }
  return spec;
}

FlowTimeoutsMs flow_timeouts_from_config(const FlowTimeouts& t) {
  FlowTimeoutsMs ms;
  ms.tcp_syn = t.tcp_syn * 1000;
  ms.tcp_established = t.tcp_established * 1000;
  ms.tcp_closing = t.tcp_closing * 1000;
  ms.udp = t.udp * 1000;
  ms.other = t.other * 1000;
  return ms;
}

Result<ForwardingState> build_state_from_config(const Config& config,
                                                const ForwardingState* previous) {
  return build_forwarding_state(state_spec_from_config(config), previous);
}

}  // namespace anylb
