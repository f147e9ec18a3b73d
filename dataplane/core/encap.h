// Encapsulation of a client's IP packet towards a backend, in place: new
// headers are written into the headroom in front of the inner IP packet, and
// the old Ethernet header (and any padding after the IP packet) is dropped.
//
//   ipip: [Eth][outer IPv4|IPv6][inner IP packet]      4in4 (proto 4), 4in6 (4), 6in6 (41)
//   gue:  [Eth][outer IPv4|IPv6][UDP][inner IP packet] GUE variant 1: the inner IP header
//         follows UDP directly, its version nibble telling the decapsulator which one.
//
// The outer header's family is the backend's. The outer Ethernet header goes
// to the gateway from the MAC the frame arrived on, with the same VLAN tag.
// Outer TTL/hop limit 64; TOS/traffic class copied from the inner packet (ECN
// and DSCP survive the tunnel); IPv4 outer DF copied from the inner DF (IPv6
// inner: DF set); IPv6 outer flow label and the GUE source port come from the
// flow hash so that backends and the fabric can spread tunnelled flows.
#pragma once

#include <cstdint>

#include "abi.h"
#include "forwarding_state.h"
#include "ip_address.h"
#include "packet_buffer.h"
#include "packet_view.h"

namespace anylb {

constexpr uint8_t kOuterTtl = 64;
constexpr uint16_t kGueSourcePortBase = 49152;  // outer UDP source port: base + (hash & 0x3fff)

// Outer header bytes added for an encapsulation kind and backend family (no L2).
inline uint32_t encap_overhead(anylb_encap kind, uint8_t backend_family) {
  return (backend_family == 4 ? 20u : 40u) + (kind == ANYLB_ENCAP_GUE ? 8u : 0u);
}

// The outer source address for a flow: the node's tunnel address, or the one
// the flow hash picks from the tunnel prefix. Empty when none is configured.
IpAddress encap_source(const EncapParams& params, uint8_t family, uint32_t flow_hash);

// IP-in-IP towards `backend`. Returns ANYLB_DROP_NONE or why it could not.
anylb_drop_reason encap_ipip(PacketBuffer& buf, const PacketView& view, const IpAddress& backend,
                             uint32_t flow_hash, const EncapParams& params);

// GUE (variant 1) towards `backend` on params.gue_port.
anylb_drop_reason encap_gue(PacketBuffer& buf, const PacketView& view, const IpAddress& backend,
                            uint32_t flow_hash, const EncapParams& params);

inline anylb_drop_reason encap_packet(anylb_encap kind, PacketBuffer& buf, const PacketView& view,
                                      const IpAddress& backend, uint32_t flow_hash,
                                      const EncapParams& params) {
  return kind == ANYLB_ENCAP_GUE ? encap_gue(buf, view, backend, flow_hash, params)
                                 : encap_ipip(buf, view, backend, flow_hash, params);
}

}  // namespace anylb
