// Frame parser shared in spirit with the BPF program: every check here has a
// twin in xdp/, so the control flow stays flat, loops are bounded by
// constants, and each read is preceded by an explicit bounds test against the
// end of the enclosing structure (frame, IP packet, or quoted packet).
#include <cstring>

#include "checksum.h"
#include "packet_view.h"

namespace anylb {
namespace {

constexpr uint16_t kEthertypeIpv4 = 0x0800;
constexpr uint16_t kEthertypeIpv6 = 0x86dd;
constexpr uint16_t kEthertypeVlan = 0x8100;
constexpr size_t kEthHeaderLen = 14;
constexpr size_t kVlanTagLen = 4;
constexpr size_t kIpv4MinHeaderLen = 20;
constexpr size_t kIpv6HeaderLen = 40;
constexpr size_t kIpv6FragmentHeaderLen = 8;
constexpr size_t kTcpMinHeaderLen = 20;
constexpr size_t kUdpHeaderLen = 8;
constexpr size_t kIcmpHeaderLen = 8;  // type, code, checksum, 4 bytes rest-of-header
constexpr size_t kPortsLen = 4;

constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoDestOpts = 60;

constexpr uint16_t kIpv4DontFragment = 0x4000;
constexpr uint16_t kIpv4MoreFragments = 0x2000;
constexpr uint16_t kIpv4OffsetMask = 0x1fff;

using Bytes = std::span<const uint8_t>;

// True when [offset, offset + len) lies inside [0, end). Written so that no
// intermediate sum can wrap.
bool fits(size_t offset, size_t len, size_t end) { return len <= end && offset <= end - len; }

FragmentKind ipv4_fragment_kind(uint16_t flags_and_offset) {
  if ((flags_and_offset & kIpv4OffsetMask) != 0) return FragmentKind::Later;
  if ((flags_and_offset & kIpv4MoreFragments) != 0) return FragmentKind::First;
  return FragmentKind::None;
}

void copy_ports(Bytes f, size_t l4, anylb_flow_key& key) {
  // Kept in network order: the key hashes the bytes as they are on the wire.
  std::memcpy(&key.sport, &f[l4], 2);
  std::memcpy(&key.dport, &f[l4 + 2], 2);
}

void copy_ipv4_addresses(const uint8_t* header, anylb_flow_key& key) {
  std::memcpy(key.src, header + 12, 4);
  std::memcpy(key.dst, header + 16, 4);
  key.family = 4;
}

void copy_ipv6_addresses(const uint8_t* header, anylb_flow_key& key) {
  std::memcpy(key.src, header + 8, 16);
  std::memcpy(key.dst, header + 24, 16);
  key.family = 6;
}

// Where an IPv6 extension header chain ends.
struct Ipv6Chain {
  uint8_t proto = 0;     // the upper-layer protocol
  size_t l4_offset = 0;  // its header's offset in the frame
  FragmentKind fragment = FragmentKind::None;
};

bool is_ipv6_extension(uint8_t next_header) {
  return next_header == kProtoHopByHop || next_header == kProtoRouting ||
         next_header == kProtoFragment || next_header == kProtoAh ||
         next_header == kProtoDestOpts;
}

// Walks at most kMaxIpv6ExtHeaders extension headers starting at `offset`,
// none of which may extend past `end`. Order and repetition are not policed
// (RFC 8200 asks receivers to tolerate them); only lengths matter to us. A
// non-first fragment ends the walk: what follows its header is payload bytes
// of the middle of a packet, not a header.
anylb_drop_reason walk_ipv6_extensions(Bytes f, size_t offset, size_t end, uint8_t next_header,
                                       Ipv6Chain& chain) {
  for (int walked = 0; is_ipv6_extension(next_header); ++walked) {
    if (walked == kMaxIpv6ExtHeaders) return ANYLB_DROP_IPV6_EXT_LIMIT;
    size_t length = 0;
    if (next_header == kProtoFragment) {
      if (!fits(offset, kIpv6FragmentHeaderLen, end)) return ANYLB_DROP_IPV6_EXT_TRUNCATED;
      const uint16_t offset_and_flags = load_be16(&f[offset + 2]);
      if ((offset_and_flags >> 3) != 0) {
        chain = {f[offset], offset + kIpv6FragmentHeaderLen, FragmentKind::Later};
        return ANYLB_DROP_NONE;
      }
      // Offset 0 without M is an atomic fragment (RFC 6946): a whole packet.
      if ((offset_and_flags & 1) != 0) chain.fragment = FragmentKind::First;
      length = kIpv6FragmentHeaderLen;
    } else {
      if (!fits(offset, 2, end)) return ANYLB_DROP_IPV6_EXT_TRUNCATED;
      // AH counts its length in 4-byte units minus 2 (RFC 4302); the others in
      // 8-byte units not counting the first 8 bytes (RFC 8200).
      length = next_header == kProtoAh ? (size_t{f[offset + 1]} + 2) * 4
                                       : (size_t{f[offset + 1]} + 1) * 8;
      if (!fits(offset, length, end)) return ANYLB_DROP_IPV6_EXT_TRUNCATED;
    }
    next_header = f[offset];
    offset += length;
  }
  chain.proto = next_header;
  chain.l4_offset = offset;
  return ANYLB_DROP_NONE;
}

// The IPv4 header checksum is deliberately not verified. The balancer neither
// rewrites nor terminates the packet: it is encapsulated unchanged and the
// backend's stack verifies the checksum when it decapsulates. Checking it here
// would cost a pass over every header on the fast path, and a corrupted
// header slipping through can at worst be sent to the wrong backend, which
// then discards it.
anylb_drop_reason parse_ipv4(Bytes f, size_t l3, PacketView& view) {
  view.family = 4;
  view.l3_offset = static_cast<uint16_t>(l3);
  const size_t available = f.size() - l3;
  if (available < kIpv4MinHeaderLen) return ANYLB_DROP_IPV4_TRUNCATED;
  const uint8_t* header = &f[l3];
  if ((header[0] >> 4) != 4) return ANYLB_DROP_IPV4_BAD_VERSION;
  const size_t header_len = size_t{header[0] & 0x0fu} * 4;
  if (header_len < kIpv4MinHeaderLen) return ANYLB_DROP_IPV4_BAD_IHL;

  // The fixed header is sound: publish what it says before the checks that
  // may still fail, so the decision can pass non-VIP traffic to the kernel.
  view.l3_ok = true;
  copy_ipv4_addresses(header, view.key);
  view.l4_proto = view.key.proto = header[9];
  view.tos = header[1];
  view.ttl = header[8];
  const uint16_t flags_and_offset = load_be16(header + 6);
  view.dont_fragment = (flags_and_offset & kIpv4DontFragment) != 0;
  view.fragment = ipv4_fragment_kind(flags_and_offset);

  if (header_len > available) return ANYLB_DROP_IPV4_TRUNCATED;
  // Bytes past the total length are Ethernet padding (minimum frame size).
  const uint16_t total_len = load_be16(header + 2);
  if (total_len < header_len || total_len > available) return ANYLB_DROP_IPV4_BAD_LENGTH;
  view.l3_length = total_len;
  view.l4_offset = static_cast<uint16_t>(l3 + header_len);
  return ANYLB_DROP_NONE;
}

anylb_drop_reason parse_ipv6(Bytes f, size_t l3, PacketView& view) {
  view.family = 6;
  view.l3_offset = static_cast<uint16_t>(l3);
  const size_t available = f.size() - l3;
  if (available < kIpv6HeaderLen) return ANYLB_DROP_IPV6_TRUNCATED;
  const uint8_t* header = &f[l3];
  if ((header[0] >> 4) != 6) return ANYLB_DROP_IPV6_BAD_VERSION;

  view.l3_ok = true;
  copy_ipv6_addresses(header, view.key);
  view.tos = static_cast<uint8_t>((header[0] << 4) | (header[1] >> 4));
  view.ttl = header[7];

  // Payload length 0 announces a jumbogram (RFC 2675); none fits a frame we
  // can receive, and neither does a packet whose length overflows the view's
  // 16-bit l3_length.
  const size_t packet_len = kIpv6HeaderLen + load_be16(header + 4);
  if (packet_len == kIpv6HeaderLen || packet_len > available || packet_len > UINT16_MAX) {
    return ANYLB_DROP_IPV6_BAD_LENGTH;
  }
  view.l3_length = static_cast<uint16_t>(packet_len);

  Ipv6Chain chain;
  const anylb_drop_reason reason =
      walk_ipv6_extensions(f, l3 + kIpv6HeaderLen, l3 + packet_len, header[6], chain);
  if (reason != ANYLB_DROP_NONE) return reason;
  view.l4_proto = view.key.proto = chain.proto;
  view.l4_offset = static_cast<uint16_t>(chain.l4_offset);
  view.fragment = chain.fragment;
  return ANYLB_DROP_NONE;
}

// The packet quoted by an ICMP error is the one the backend sent (VIP ->
// client), cut short by the router that reported it: its length fields
// describe the original, not the quote, so only the headers we read must be
// present. It must be of the outer family: ICMP never quotes across families.
anylb_drop_reason parse_icmp_error_inner(Bytes f, size_t offset, size_t end, uint8_t family,
                                         anylb_flow_key& inner) {
  uint8_t proto = 0;
  size_t l4 = 0;
  bool later_fragment = false;
  if (family == 4) {
    if (!fits(offset, kIpv4MinHeaderLen, end)) return ANYLB_DROP_ICMP_INNER_MALFORMED;
    const uint8_t* header = &f[offset];
    const size_t header_len = size_t{header[0] & 0x0fu} * 4;
    if ((header[0] >> 4) != 4 || header_len < kIpv4MinHeaderLen || !fits(offset, header_len, end)) {
      return ANYLB_DROP_ICMP_INNER_MALFORMED;
    }
    copy_ipv4_addresses(header, inner);
    proto = header[9];
    l4 = offset + header_len;
    later_fragment = ipv4_fragment_kind(load_be16(header + 6)) == FragmentKind::Later;
  } else {
    if (!fits(offset, kIpv6HeaderLen, end)) return ANYLB_DROP_ICMP_INNER_MALFORMED;
    const uint8_t* header = &f[offset];
    if ((header[0] >> 4) != 6) return ANYLB_DROP_ICMP_INNER_MALFORMED;
    copy_ipv6_addresses(header, inner);
    Ipv6Chain chain;
    if (walk_ipv6_extensions(f, offset + kIpv6HeaderLen, end, header[6], chain) !=
        ANYLB_DROP_NONE) {
      return ANYLB_DROP_ICMP_INNER_MALFORMED;
    }
    proto = chain.proto;
    l4 = chain.l4_offset;
    later_fragment = chain.fragment == FragmentKind::Later;
  }
  inner.proto = proto;
  if ((proto == kProtoTcp || proto == kProtoUdp) && !later_fragment) {
    // Without the ports the flow, and so the backend, cannot be told apart.
    if (!fits(l4, kPortsLen, end)) return ANYLB_DROP_ICMP_INNER_MALFORMED;
    copy_ports(f, l4, inner);
  }
  return ANYLB_DROP_NONE;
}

IcmpKind classify_icmp(uint8_t family, uint8_t type) {
  if (family == 4) {
    if (type == 8) return IcmpKind::EchoRequest;
    // Destination unreachable (incl. fragmentation needed), time exceeded,
    // parameter problem: the errors that quote the offending packet.
    if (type == 3 || type == 11 || type == 12) return IcmpKind::Error;
  } else {
    if (type == 128) return IcmpKind::EchoRequest;
    // Destination unreachable, packet too big, time exceeded, parameter problem.
    if (type >= 1 && type <= 4) return IcmpKind::Error;
  }
  return IcmpKind::Other;
}

anylb_drop_reason parse_icmp(Bytes f, size_t offset, size_t end, PacketView& view) {
  if (!fits(offset, kIcmpHeaderLen, end)) return ANYLB_DROP_ICMP_TRUNCATED;
  view.icmp_type = f[offset];
  view.icmp_code = f[offset + 1];
  view.icmp = classify_icmp(view.family, view.icmp_type);
  if (view.icmp != IcmpKind::Error) return ANYLB_DROP_NONE;
  const anylb_drop_reason reason =
      parse_icmp_error_inner(f, offset + kIcmpHeaderLen, end, view.family, view.inner_key);
  view.has_inner = reason == ANYLB_DROP_NONE;
  return reason;
}

// Everything past the IP header is bounded by the IP packet's own end, so that
// Ethernet padding is never mistaken for header bytes.
anylb_drop_reason parse_l4(Bytes f, PacketView& view) {
  const size_t offset = view.l4_offset;
  const size_t end = size_t{view.l3_offset} + view.l3_length;
  switch (view.l4_proto) {
    case kProtoTcp: {
      if (!fits(offset, kTcpMinHeaderLen, end)) return ANYLB_DROP_L4_TRUNCATED;
      copy_ports(f, offset, view.key);
      view.tcp_flags = f[offset + 13];
      const size_t header_len = (size_t{f[offset + 12]} >> 4) * 4;
      if (header_len < kTcpMinHeaderLen || !fits(offset, header_len, end)) {
        return ANYLB_DROP_TCP_BAD_OFFSET;
      }
      return ANYLB_DROP_NONE;
    }
    case kProtoUdp:
      if (!fits(offset, kUdpHeaderLen, end)) return ANYLB_DROP_L4_TRUNCATED;
      copy_ports(f, offset, view.key);
      return ANYLB_DROP_NONE;
    case kProtoIcmp:
      return view.family == 4 ? parse_icmp(f, offset, end, view) : ANYLB_DROP_NONE;
    case kProtoIcmpv6:
      return view.family == 6 ? parse_icmp(f, offset, end, view) : ANYLB_DROP_NONE;
    default:
      return ANYLB_DROP_NONE;
  }
}

// Field by field rather than `view = PacketView{}`: g++ turns a 100-byte
// clear into `rep stos`, and the flow hash's and address lookup's loads of
// the key right after cannot be store-forwarded from it (a stall measured at
// about 10 ns per packet). Plain stores of these sizes forward fine.
void clear_view(PacketView& v) {
  v.ethertype = 0;
  v.has_vlan = false;
  v.vlan_tci = 0;
  v.l3_ok = false;
  v.family = 0;
  v.l3_offset = 0;
  v.l3_length = 0;
  v.l4_offset = 0;
  v.l4_proto = 0;
  v.tos = 0;
  v.ttl = 0;
  v.dont_fragment = false;
  v.fragment = FragmentKind::None;
  v.key = anylb_flow_key{};
  v.tcp_flags = 0;
  v.icmp = IcmpKind::None;
  v.icmp_type = 0;
  v.icmp_code = 0;
  v.has_inner = false;
  v.inner_key = anylb_flow_key{};
}

}  // namespace

anylb_drop_reason parse_frame(std::span<const uint8_t> frame, PacketView& view) {
  clear_view(view);
  if (frame.size() < kEthHeaderLen) return ANYLB_DROP_ETH_TRUNCATED;
  uint16_t ethertype = load_be16(&frame[12]);
  size_t l3 = kEthHeaderLen;
  if (ethertype == kEthertypeVlan) {
    if (!fits(l3, kVlanTagLen, frame.size())) return ANYLB_DROP_VLAN_TRUNCATED;
    view.has_vlan = true;
    view.vlan_tci = load_be16(&frame[l3]);
    ethertype = load_be16(&frame[l3 + 2]);
    l3 += kVlanTagLen;
  }
  view.ethertype = ethertype;

  anylb_drop_reason reason = ANYLB_DROP_NONE;
  if (ethertype == kEthertypeIpv4) {
    reason = parse_ipv4(frame, l3, view);
  } else if (ethertype == kEthertypeIpv6) {
    reason = parse_ipv6(frame, l3, view);
  } else {
    return ANYLB_DROP_NONE;  // not IP: the caller hands it to the kernel
  }
  if (reason != ANYLB_DROP_NONE || view.fragment == FragmentKind::Later) return reason;
  return parse_l4(frame, view);
}

}  // namespace anylb
