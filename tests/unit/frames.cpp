#include "frames.h"

#include <cstdio>
#include <cstdlib>

#include "dataplane/core/checksum.h"

namespace anylb::test {
namespace {

// Builders are called with literals from tests; a misuse is a bug in the test,
// so it stops the run loudly instead of producing a subtly wrong frame.
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "frames: %s\n", what);
  std::abort();
}

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

// Offset of the checksum field inside an L4 header, or -1 when the protocol
// has none we fill.
int l4_checksum_offset(uint8_t proto, bool v6) {
  if (proto == kIpProtoTcp) return 16;
  if (proto == kIpProtoUdp) return 6;
  if (proto == (v6 ? kIpProtoIcmpv6 : kIpProtoIcmp)) return 2;
  return -1;
}

// Writes the checksum of segment (whose checksum field is zeroed first);
// pseudo_sum is the pseudo-header sum, 0 for ICMPv4 which has none.
void fill_l4_checksum(Bytes& segment, uint8_t proto, bool v6, uint32_t pseudo_sum) {
  const int at = l4_checksum_offset(proto, v6);
  if (at < 0 || segment.size() < static_cast<size_t>(at) + 2) return;
  store_be16(&segment[at], 0);
  uint16_t check = csum_finish(csum_add_bytes(pseudo_sum, segment.data(), segment.size()));
  // UDP transmits a computed zero as all ones: zero means "no checksum".
  if (proto == kIpProtoUdp && check == 0) check = 0xffff;
  store_be16(&segment[at], check);
}

bool segment_checksum_ok(const uint8_t* segment, size_t len, uint8_t proto, bool v6,
                         uint32_t pseudo_sum) {
  const int at = l4_checksum_offset(proto, v6);
  if (at < 0) return true;
  if (len < static_cast<size_t>(at) + 2) return false;
  if (proto == kIpProtoUdp && !v6 && load_be16(segment + at) == 0) return true;
  return csum_fold(csum_add_bytes(pseudo_sum, segment, len)) == 0xffff;
}

bool is_ipv6_ext(uint8_t type) {
  return type == kIpProtoHopByHop || type == kIpProtoRouting || type == kIpProtoFragment ||
         type == kIpProtoAh || type == kIpProtoDestOpts;
}

}  // namespace

Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes& payload) {
  return tcp_with_options(sport, dport, flags, {}, payload);
}

Bytes tcp_with_options(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes& options,
                       const Bytes& payload) {
  if (options.size() % 4 != 0 || options.size() > 40) die("tcp options: need 4n <= 40 bytes");
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 0x01000000);  // sequence number
  put32(b, (flags & 0x10) != 0 ? 0x02000000 : 0);  // ack number, when ACK is set
  b.push_back(static_cast<uint8_t>(((20 + options.size()) / 4) << 4));
  b.push_back(flags);
  put16(b, 65535);  // window
  put16(b, 0);      // checksum
  put16(b, 0);      // urgent pointer
  append(b, options);
  append(b, payload);
  return b;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  if (payload.size() > 65535 - 8) die("udp payload too long");
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload.size()));
  put16(b, 0);
  append(b, payload);
  return b;
}

Bytes icmp_echo(bool v6, uint16_t id, uint16_t seq, const Bytes& payload) {
  Bytes b{static_cast<uint8_t>(v6 ? 128 : 8), 0, 0, 0};
  put16(b, id);
  put16(b, seq);
  append(b, payload);
  return b;
}

Bytes icmp_error(bool v6, uint8_t type, uint8_t code, uint32_t rest_of_header,
                 const Bytes& quoted_ip_packet) {
  (void)v6;  // same layout in both families; the checksum differs and ipv4/ipv6 fill it
  Bytes b{type, code, 0, 0};
  put32(b, rest_of_header);
  append(b, quoted_ip_packet);
  return b;
}

Bytes ipv4(const IpAddress& src, const IpAddress& dst, uint8_t proto, const Bytes& payload,
           const Ipv4Opts& o) {
  if (!src.is_v4() || !dst.is_v4()) die("ipv4: addresses must be IPv4");
  if (o.options.size() % 4 != 0 || o.options.size() > 40) die("ipv4 options: need 4n <= 40 bytes");
  const size_t header_len = 20 + o.options.size();
  if (header_len + payload.size() > 65535) die("ipv4 packet too long");
  if (o.frag_offset > 0x1fff) die("ipv4 fragment offset beyond 13 bits");

  Bytes b;
  b.push_back(static_cast<uint8_t>(0x40 | (header_len / 4)));
  b.push_back(o.tos);
  put16(b, static_cast<uint16_t>(header_len + payload.size()));
  put16(b, o.id);
  put16(b, static_cast<uint16_t>((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | o.frag_offset));
  b.push_back(o.ttl);
  b.push_back(proto);
  put16(b, 0);
  b.insert(b.end(), src.bytes.begin(), src.bytes.begin() + 4);
  b.insert(b.end(), dst.bytes.begin(), dst.bytes.begin() + 4);
  append(b, o.options);
  store_be16(&b[10], csum_finish(csum_add_bytes(0, b.data(), header_len)));

  Bytes segment = payload;
  if (o.fix_l4_checksum && !o.mf && o.frag_offset == 0) {
    const uint32_t pseudo =
        proto == kIpProtoIcmp
            ? 0
            : csum_pseudo_v4(src.bytes.data(), dst.bytes.data(), proto,
                             static_cast<uint32_t>(segment.size()));
    fill_l4_checksum(segment, proto, false, pseudo);
  }
  append(b, segment);
  return b;
}

Bytes ipv6_fragment_body(uint16_t offset_units, bool more, uint32_t id) {
  if (offset_units > 0x1fff) die("ipv6 fragment offset beyond 13 bits");
  Bytes b;
  put16(b, static_cast<uint16_t>((offset_units << 3) | (more ? 1 : 0)));
  put32(b, id);
  return b;
}

Bytes ipv6(const IpAddress& src, const IpAddress& dst, uint8_t proto, const Bytes& payload,
           const Ipv6Opts& o) {
  if (!src.is_v6() || !dst.is_v6()) die("ipv6: addresses must be IPv6");
  Bytes chain;
  bool fragment = false;
  for (size_t i = 0; i < o.ext.size(); ++i) {
    const Ipv6Ext& e = o.ext[i];
    const uint8_t next = i + 1 < o.ext.size() ? o.ext[i + 1].type : proto;
    const size_t len = 2 + e.body.size();
    uint8_t len_field = 0;
    if (e.type == kIpProtoFragment) {
      if (len != 8) die("ipv6 fragment header: body must be 6 bytes");
      fragment = fragment || load_be16(e.body.data()) != 0;
    } else if (e.type == kIpProtoAh) {
      if (len % 4 != 0 || len < 8 || len > 1028) die("ipv6 AH: 2 + body must be 4n, 8..1028");
      len_field = static_cast<uint8_t>(len / 4 - 2);
    } else {
      if (!is_ipv6_ext(e.type)) die("ipv6: not an extension header type");
      if (len % 8 != 0 || len > 2048) die("ipv6 ext: 2 + body must be 8n <= 2048");
      len_field = static_cast<uint8_t>(len / 8 - 1);
    }
    chain.push_back(next);
    chain.push_back(len_field);
    append(chain, e.body);
  }
  if (chain.size() + payload.size() > 65535) die("ipv6 payload too long");

  Bytes b;
  put32(b, (6u << 28) | (uint32_t{o.tclass} << 20) | (o.flow_label & 0xfffff));
  put16(b, static_cast<uint16_t>(chain.size() + payload.size()));
  b.push_back(o.ext.empty() ? proto : o.ext[0].type);
  b.push_back(o.hop_limit);
  b.insert(b.end(), src.bytes.begin(), src.bytes.end());
  b.insert(b.end(), dst.bytes.begin(), dst.bytes.end());
  append(b, chain);

  Bytes segment = payload;
  if (o.fix_l4_checksum && !fragment) {
    fill_l4_checksum(segment, proto, true,
                     csum_pseudo_v6(src.bytes.data(), dst.bytes.data(), proto,
                                    static_cast<uint32_t>(segment.size())));
  }
  append(b, segment);
  return b;
}

Bytes eth(const Bytes& l3, uint16_t ethertype, std::optional<uint16_t> vlan_tci,
          const MacAddress& dst, const MacAddress& src) {
  Bytes b;
  b.reserve(18 + l3.size());
  for (uint8_t byte : dst) b.push_back(byte);
  for (uint8_t byte : src) b.push_back(byte);
  if (vlan_tci) {
    put16(b, kEthertypeVlan);
    put16(b, *vlan_tci);
  }
  put16(b, ethertype);
  append(b, l3);
  return b;
}

Bytes eth_ipv4(const Bytes& ip_packet) { return eth(ip_packet, kEthertypeIpv4); }
Bytes eth_ipv6(const Bytes& ip_packet) { return eth(ip_packet, kEthertypeIpv6); }

IpAddress ip(std::string_view text) {
  auto parsed = parse_ip_address(text);
  if (!parsed) die(parsed.error().message.c_str());
  return *parsed;
}

bool ipv4_header_checksum_ok(const Bytes& p) {
  if (p.size() < 20 || (p[0] >> 4) != 4) return false;
  const size_t header_len = size_t{p[0] & 0x0fu} * 4;
  if (header_len < 20 || header_len > p.size()) return false;
  return csum_fold(csum_add_bytes(0, p.data(), header_len)) == 0xffff;
}

bool l4_checksum_ok(const Bytes& p) {
  if (p.empty()) return false;
  if ((p[0] >> 4) == 4) {
    if (p.size() < 20) return false;
    const size_t header_len = size_t{p[0] & 0x0fu} * 4;
    const size_t total = load_be16(&p[2]);
    if (header_len < 20 || total < header_len || total > p.size()) return false;
    if ((load_be16(&p[6]) & 0x3fff) != 0) return false;  // MF or offset: a fragment
    const uint8_t proto = p[9];
    const size_t len = total - header_len;
    const uint32_t pseudo =
        proto == kIpProtoIcmp ? 0
                              : csum_pseudo_v4(&p[12], &p[16], proto, static_cast<uint32_t>(len));
    return segment_checksum_ok(&p[header_len], len, proto, false, pseudo);
  }
  if ((p[0] >> 4) == 6) {
    if (p.size() < 40) return false;
    const size_t end = 40 + size_t{load_be16(&p[4])};
    if (end > p.size()) return false;
    size_t offset = 40;
    uint8_t next = p[6];
    while (is_ipv6_ext(next)) {
      if (offset + 8 > end) return false;
      if (next == kIpProtoFragment && load_be16(&p[offset + 2]) != 0) return false;
      const size_t len = next == kIpProtoFragment ? 8
                         : next == kIpProtoAh     ? (size_t{p[offset + 1]} + 2) * 4
                                                  : (size_t{p[offset + 1]} + 1) * 8;
      next = p[offset];
      offset += len;
    }
    if (offset > end) return false;
    const size_t len = end - offset;
    return segment_checksum_ok(
        &p[offset], len, next, true,
        csum_pseudo_v6(&p[8], &p[24], next, static_cast<uint32_t>(len)));
  }
  return false;
}

}  // namespace anylb::test
