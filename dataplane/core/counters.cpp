#include "counters.h"

namespace anylb {

void Counters::add(const Counters& o) {
  for (size_t i = 0; i < vip.size() && i < o.vip.size(); ++i) {
    vip[i].packets += o.vip[i].packets;
    vip[i].bytes += o.vip[i].bytes;
    vip[i].new_flows += o.vip[i].new_flows;
    vip[i].drops += o.vip[i].drops;
  }
  for (size_t i = 0; i < backend.size() && i < o.backend.size(); ++i) {
    backend[i].packets += o.backend[i].packets;
    backend[i].bytes += o.backend[i].bytes;
  }
  for (size_t i = 0; i < drops.size(); ++i) drops[i] += o.drops[i];
  path.passed += o.path.passed;
  path.transmitted += o.path.transmitted;
  path.replied += o.path.replied;
  path.rescheduled += o.path.rescheduled;
  path.icmp_errors_routed += o.path.icmp_errors_routed;
  path.fragments_routed += o.path.fragments_routed;
  path.flow_hits += o.path.flow_hits;
  path.flow_misses += o.path.flow_misses;
  path.flow_evictions += o.path.flow_evictions;
}

const char* drop_reason_name(anylb_drop_reason reason) {
  switch (reason) {
    case ANYLB_DROP_NONE: return "none";
    case ANYLB_DROP_ETH_TRUNCATED: return "eth_truncated";
    case ANYLB_DROP_VLAN_TRUNCATED: return "vlan_truncated";
    case ANYLB_DROP_IPV4_TRUNCATED: return "ipv4_truncated";
    case ANYLB_DROP_IPV4_BAD_VERSION: return "ipv4_bad_version";
    case ANYLB_DROP_IPV4_BAD_IHL: return "ipv4_bad_ihl";
    case ANYLB_DROP_IPV4_BAD_LENGTH: return "ipv4_bad_length";
    case ANYLB_DROP_IPV6_TRUNCATED: return "ipv6_truncated";
    case ANYLB_DROP_IPV6_BAD_VERSION: return "ipv6_bad_version";
    case ANYLB_DROP_IPV6_BAD_LENGTH: return "ipv6_bad_length";
    case ANYLB_DROP_IPV6_EXT_TRUNCATED: return "ipv6_ext_truncated";
    case ANYLB_DROP_IPV6_EXT_LIMIT: return "ipv6_ext_limit";
    case ANYLB_DROP_L4_TRUNCATED: return "l4_truncated";
    case ANYLB_DROP_TCP_BAD_OFFSET: return "tcp_bad_offset";
    case ANYLB_DROP_ICMP_TRUNCATED: return "icmp_truncated";
    case ANYLB_DROP_ICMP_INNER_MALFORMED: return "icmp_inner_malformed";
    case ANYLB_DROP_ICMP_UNHANDLED: return "icmp_unhandled";
    case ANYLB_DROP_VIP_PORT_UNKNOWN: return "vip_port_unknown";
    case ANYLB_DROP_FRAGMENT_UNROUTABLE: return "fragment_unroutable";
    case ANYLB_DROP_NO_BACKEND: return "no_backend";
    case ANYLB_DROP_BACKEND_MISSING: return "backend_missing";
    case ANYLB_DROP_NO_HEADROOM: return "no_headroom";
    case ANYLB_DROP_TOO_BIG: return "too_big";
    case ANYLB_DROP_NO_TUNNEL_SOURCE: return "no_tunnel_source";
    case ANYLB_DROP_REASON_COUNT: break;
  }
  return "unknown";
}

}  // namespace anylb
