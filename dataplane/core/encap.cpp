#include "encap.h"

#include <cstring>

#include "checksum.h"

namespace anylb {
namespace {

constexpr uint8_t kProtoIpip = 4;
constexpr uint8_t kProtoIpv6 = 41;
constexpr uint8_t kProtoUdp = 17;

struct Layout {
  uint8_t* l2;      // new frame start
  uint8_t* outer;   // outer IP header
  uint8_t* inner;   // inner IP packet (unchanged bytes)
  uint32_t l2_len;
  uint32_t inner_len;
};

// Checks room and MTU, writes the outer Ethernet header, and moves the buffer
// to the new frame. The old L2 header is read before anything is written: the
// new headers overlap it.
anylb_drop_reason prepare(PacketBuffer& buf, const PacketView& view, uint32_t outer_len,
                          const EncapParams& params, uint8_t outer_family, Layout& out) {
  const uint32_t l2_len = view.has_vlan ? 18 : 14;
  const uint32_t inner_len = view.l3_length;
  if (outer_len + inner_len > params.mtu) return ANYLB_DROP_TOO_BIG;
  if (uint64_t{buf.headroom} + view.l3_offset < uint64_t{l2_len} + outer_len) {
    return ANYLB_DROP_NO_HEADROOM;
  }
  uint8_t arrived_on[6];
  std::memcpy(arrived_on, buf.data, 6);  // the old destination MAC: ours
  const uint16_t tci = view.vlan_tci;

  uint8_t* inner = buf.data + view.l3_offset;
  uint8_t* l2 = inner - outer_len - l2_len;
  std::memcpy(l2, params.gateway_mac.data(), 6);
  std::memcpy(l2 + 6, arrived_on, 6);
  const uint16_t ethertype = outer_family == 4 ? 0x0800 : 0x86dd;
  if (view.has_vlan) {
    store_be16(l2 + 12, 0x8100);
    store_be16(l2 + 14, tci);
    store_be16(l2 + 16, ethertype);
  } else {
    store_be16(l2 + 12, ethertype);
  }
  buf.headroom = buf.headroom + view.l3_offset - (l2_len + outer_len);
  buf.data = l2;
  buf.len = l2_len + outer_len + inner_len;
  out = {l2, l2 + l2_len, inner, l2_len, inner_len};
  return ANYLB_DROP_NONE;
}

void write_ipv4(uint8_t* h, const IpAddress& src, const IpAddress& dst, uint8_t proto,
                uint16_t total_len, uint8_t tos, bool df, uint16_t id) {
  const uint16_t flags = df ? 0x4000 : 0;
  h[0] = 0x45;
  h[1] = tos;
  store_be16(h + 2, total_len);
  store_be16(h + 4, id);
  store_be16(h + 6, flags);
  h[8] = kOuterTtl;
  h[9] = proto;
  std::memcpy(h + 12, src.bytes.data(), 4);
  std::memcpy(h + 16, dst.bytes.data(), 4);
  // Sum the fields from registers rather than re-reading the bytes just
  // written: the store-to-load forwarding stall showed up in profiles.
  const uint8_t* s = src.bytes.data();
  const uint8_t* d = dst.bytes.data();
  uint32_t sum = ((0x45u << 8) | tos) + total_len + id + flags +
                 ((uint32_t{kOuterTtl} << 8) | proto);
  sum += ((uint32_t{s[0]} << 8) | s[1]) + ((uint32_t{s[2]} << 8) | s[3]);
  sum += ((uint32_t{d[0]} << 8) | d[1]) + ((uint32_t{d[2]} << 8) | d[3]);
  store_be16(h + 10, csum_finish(sum));
}

void write_ipv6(uint8_t* h, const IpAddress& src, const IpAddress& dst, uint8_t next_header,
                uint16_t payload_len, uint8_t tclass, uint32_t flow_label) {
  const uint32_t first = (6u << 28) | (uint32_t{tclass} << 20) | (flow_label & 0xfffff);
  h[0] = static_cast<uint8_t>(first >> 24);
  h[1] = static_cast<uint8_t>(first >> 16);
  h[2] = static_cast<uint8_t>(first >> 8);
  h[3] = static_cast<uint8_t>(first);
  store_be16(h + 4, payload_len);
  h[6] = next_header;
  h[7] = kOuterTtl;
  std::memcpy(h + 8, src.bytes.data(), 16);
  std::memcpy(h + 24, dst.bytes.data(), 16);
}

bool outer_df(const PacketView& view) { return view.family == 6 || view.dont_fragment; }

// The outer IPv4 ID. With DF the packet is atomic and the ID unused (RFC
// 6864); without, a router may fragment it, and fragments of different
// packets between the same two addresses must not share an ID. The inner
// IPv4 header's ID (outer_df() is false only for IPv4 inside) is numbered by
// its sender for exactly that, so it carries over.
uint16_t outer_id(const PacketView& view, const uint8_t* inner) {
  return outer_df(view) ? 0 : load_be16(inner + 4);
}

}  // namespace

IpAddress encap_source(const EncapParams& params, uint8_t family, uint32_t flow_hash) {
  const auto& single = family == 4 ? params.source_v4 : params.source_v6;
  const auto& prefix = family == 4 ? params.source_v4_prefix : params.source_v6_prefix;
  if (prefix) return prefix->at(flow_hash % prefix->size());
  if (single) return *single;
  return {};
}

namespace {

// What both encapsulations do first: pick the outer source, then check room
// and MTU and lay down the outer Ethernet header.
anylb_drop_reason start_encap(anylb_encap kind, PacketBuffer& buf, const PacketView& view,
                              const IpAddress& backend, uint32_t flow_hash,
                              const EncapParams& params, IpAddress& src, Layout& l) {
  src = encap_source(params, backend.family, flow_hash);
  if (src.empty()) return ANYLB_DROP_NO_TUNNEL_SOURCE;
  return prepare(buf, view, encap_overhead(kind, backend.family), params, backend.family, l);
}

}  // namespace

anylb_drop_reason encap_ipip(PacketBuffer& buf, const PacketView& view, const IpAddress& backend,
                             uint32_t flow_hash, const EncapParams& params) {
  IpAddress src;
  Layout l;
  if (auto r = start_encap(ANYLB_ENCAP_IPIP, buf, view, backend, flow_hash, params, src, l);
      r != ANYLB_DROP_NONE) {
    return r;
  }
  const uint32_t outer_len = encap_overhead(ANYLB_ENCAP_IPIP, backend.family);
  const uint8_t proto = view.family == 4 ? kProtoIpip : kProtoIpv6;
  if (backend.is_v4()) {
    write_ipv4(l.outer, src, backend, proto, static_cast<uint16_t>(outer_len + l.inner_len),
               view.tos, outer_df(view), outer_id(view, l.inner));
  } else {
    write_ipv6(l.outer, src, backend, proto, static_cast<uint16_t>(l.inner_len), view.tos,
               flow_hash);
  }
  return ANYLB_DROP_NONE;
}

anylb_drop_reason encap_gue(PacketBuffer& buf, const PacketView& view, const IpAddress& backend,
                            uint32_t flow_hash, const EncapParams& params) {
  IpAddress src;
  Layout l;
  if (auto r = start_encap(ANYLB_ENCAP_GUE, buf, view, backend, flow_hash, params, src, l);
      r != ANYLB_DROP_NONE) {
    return r;
  }
  const uint32_t ip_len = backend.is_v4() ? 20 : 40;
  uint8_t* udp = l.outer + ip_len;
  const uint16_t udp_len = static_cast<uint16_t>(8 + l.inner_len);
  store_be16(udp, static_cast<uint16_t>(kGueSourcePortBase + (flow_hash & 0x3fff)));
  store_be16(udp + 2, params.gue_port);
  store_be16(udp + 4, udp_len);
  store_be16(udp + 6, 0);
  if (backend.is_v4()) {
    // A zero UDP checksum is valid over IPv4 (RFC 768) and what fou expects;
    // the inner packet carries its own checksums end to end.
    write_ipv4(l.outer, src, backend, kProtoUdp, static_cast<uint16_t>(ip_len + udp_len), view.tos,
               outer_df(view), outer_id(view, l.inner));
  } else {
    // IPv6 requires a UDP checksum (RFC 8200 8.1; the zero-checksum exception
    // of RFC 6935 needs per-tunnel opt-in on the receiver), so compute it.
    write_ipv6(l.outer, src, backend, kProtoUdp, udp_len, view.tos, flow_hash);
    uint32_t sum = csum_pseudo_v6(src.bytes.data(), backend.bytes.data(), kProtoUdp, udp_len);
    sum = csum_add_bytes(sum, udp, 8);
    sum = csum_add_bytes(sum, l.inner, l.inner_len);
    uint16_t check = csum_finish(sum);
    store_be16(udp + 6, check == 0 ? 0xffff : check);
  }
  return ANYLB_DROP_NONE;
}

}  // namespace anylb
