// What the parser learns about one frame: offsets into the frame and the few
// header fields the decision needs. A view never owns or copies packet bytes
// beyond the flow key; every offset in it has been bounds-checked.
#pragma once

#include <cstdint>
#include <span>

#include "abi.h"
#include "flow_key.h"

namespace anylb {

enum class FragmentKind : uint8_t {
  None,   // not a fragment
  First,  // offset 0, more-fragments set: carries the L4 header
  Later,  // offset > 0: no L4 header
};

enum class IcmpKind : uint8_t {
  None,         // not ICMP
  EchoRequest,  // ICMP type 8 / ICMPv6 type 128
  Error,        // a destination-unreachable-like error quoting a packet (see has_inner)
  Other,        // any other ICMP message
};

// Deliberately no default member initializers: parse_frame() zeroes the whole
// view once (`view = PacketView{}`), and a declared-but-unparsed view should
// not cost a second clear on the per-packet path.
struct PacketView {
  // Layer 2.
  uint16_t ethertype;  // after the VLAN tag, host order
  bool has_vlan;
  uint16_t vlan_tci;  // host order

  // Layer 3. l3_ok says the IP header was read far enough to know both
  // addresses, even if parsing failed further in (the decision passes such a
  // packet to the kernel when it is not addressed to a VIP).
  bool l3_ok;
  uint8_t family;       // 4, 6, or 0 for non-IP frames
  uint16_t l3_offset;   // start of the IP header in the frame
  uint16_t l3_length;   // the IP packet's own length (IPv4 total length / 40 + IPv6 payload)
  uint16_t l4_offset;   // after IPv4 options or IPv6 extension headers
  uint8_t l4_proto;     // the upper-layer protocol after extension headers
  uint8_t tos;          // IPv4 TOS / IPv6 traffic class
  uint8_t ttl;          // IPv4 TTL / IPv6 hop limit
  bool dont_fragment;  // IPv4 DF (IPv6 never fragments in transit)
  FragmentKind fragment;

  // The flow: addresses, protocol, and ports for TCP/UDP (zero otherwise and
  // for later fragments). Filled as far as parsing got.
  anylb_flow_key key;
  uint8_t tcp_flags;  // TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10)

  // ICMP / ICMPv6.
  IcmpKind icmp;
  uint8_t icmp_type;
  uint8_t icmp_code;
  // For IcmpKind::Error: the quoted packet's flow exactly as quoted, i.e. as
  // the backend sent it (src = VIP, dst = client). Always true for a parsed
  // error (a quote too short for the ports is ANYLB_DROP_ICMP_INNER_MALFORMED);
  // ports are zero when the quote is a later fragment or not TCP/UDP.
  bool has_inner;
  anylb_flow_key inner_key;
};

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpAck = 0x10;

// At most this many IPv6 extension headers are walked (outer and quoted
// packets alike); more is ANYLB_DROP_IPV6_EXT_LIMIT. The BPF program unrolls
// the same bound.
constexpr int kMaxIpv6ExtHeaders = 6;

// Parses an Ethernet frame. Returns ANYLB_DROP_NONE and a complete view, or the
// reason the frame is malformed with the view filled as far as it got. Non-IP
// frames are not an error: they come back with family == 0.
anylb_drop_reason parse_frame(std::span<const uint8_t> frame, PacketView& view);

}  // namespace anylb
