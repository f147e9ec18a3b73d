#include "lookup.h"

#include <fmt/format.h>

#include "control/cli/synthetic_frame.h"
#include "control/tables/state_spec.h"
#include "dataplane/core/decide.h"
#include "dataplane/core/encap.h"
#include "dataplane/core/flow_key.h"
#include "dataplane/core/packet_view.h"

namespace anylb {

Result<std::string> explain_lookup(const Config& config, const LookupQuery& q) {
  auto state = build_state_from_config(config, nullptr);
  if (!state) return state.error();
  return explain_lookup(config, *state, q);
}

Result<std::string> explain_lookup(const Config& config, const ForwardingState& live,
                                   const LookupQuery& q) {
  const ForwardingState* state = &live;
  uint8_t proto;
  if (q.protocol == "tcp") {
    proto = 6;
  } else if (q.protocol == "udp") {
    proto = 17;
  } else {
    return make_error("protocol '" + q.protocol + "': want tcp or udp");
  }
  auto src = parse_ip_address(q.src);
  if (!src) return make_error("source: " + src.error().message);
  auto dst = parse_ip_address(q.dst);
  if (!dst) return make_error("destination: " + dst.error().message);
  if (src->family != dst->family) {
    return make_error("source " + q.src + " and destination " + q.dst + ": different families");
  }

  const anylb_flow_key key = make_flow_key(*src, q.sport, *dst, q.dport, proto);
  SyntheticFrame frame = make_flow_frame(key, proto == 6 ? kTcpSyn : 0);
  PacketBuffer buf = frame.buffer();
  FlowTable flows(1024, flow_timeouts_from_config(config.timeouts));
  auto counters = std::make_unique<Counters>();
  const Decision d = decide(buf, *state, flows, 0, *counters);

  std::string out = fmt::format("flow:     {}\n", to_string(key));
  if (const Vip* vip = state->vip(d.vip_id)) {
    const std::string addr = vip->address.to_string();
    out += fmt::format("vip:      {} ({}:{}/{}, encap {}, table size {})\n", vip->name,
                       vip->address.is_v6() ? "[" + addr + "]" : addr, vip->port,
                       protocol_name(vip->protocol), encap_name(vip->encap),
                       vip->table.slots.size());
    out += fmt::format("hash:     0x{:08x} (murmur3 of the flow key, seed 0x{:08x})\n", d.flow_hash,
                       state->hash_seed);
  }
  if (d.slot != ANYLB_INVALID_ID) out += fmt::format("slot:     {}\n", d.slot);
  if (const Backend* b = state->backend(d.backend_id)) {
    out += fmt::format("backend:  {} (weight {}, {})\n", b->address.to_string(), b->weight,
                       backend_state_name(b->state));
    const IpAddress outer_src = encap_source(state->encap, b->address.family, d.flow_hash);
    const Vip* vip = state->vip(d.vip_id);
    if (vip && vip->encap == ANYLB_ENCAP_GUE) {
      out += fmt::format("outer:    {} -> {}, udp {} -> {} (gue)\n", outer_src.to_string(),
                         b->address.to_string(), kGueSourcePortBase + (d.flow_hash & 0x3fff),
                         state->encap.gue_port);
    } else {
      out += fmt::format("outer:    {} -> {} (ip-in-ip)\n", outer_src.to_string(),
                         b->address.to_string());
    }
  }
  out += fmt::format("decision: {}", verdict_name(d.verdict));
  if (d.verdict == ANYLB_VERDICT_DROP) {
    out += fmt::format(" ({})", drop_reason_name(d.reason));
  } else if (d.verdict == ANYLB_VERDICT_PASS) {
    out += fmt::format(" ({} is not a VIP address: the kernel gets it)", dst->to_string());
  } else {
    out += fmt::format(" ({})", decision_path_name(d.path));
  }
  out += "\n";
  return out;
}

}  // namespace anylb
