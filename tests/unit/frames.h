// Test-only builders for Ethernet/IP/L4 frames, shared by the parser, encap
// and decision tests. Builders produce well-formed packets (lengths and
// checksums filled in); tests that need malformed ones patch the bytes after.
// Ports, ids and lengths are taken in host order and written big-endian.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "dataplane/core/ip_address.h"

namespace anylb::test {

using Bytes = std::vector<uint8_t>;

inline const MacAddress kNodeMac{0x02, 0, 0, 0, 0, 0x10};    // the balancer's MAC (frames arrive to it)
inline const MacAddress kClientMac{0x02, 0, 0, 0, 0, 0x20};  // previous hop

constexpr uint16_t kEthertypeIpv4 = 0x0800;
constexpr uint16_t kEthertypeIpv6 = 0x86dd;
constexpr uint16_t kEthertypeArp = 0x0806;
constexpr uint16_t kEthertypeVlan = 0x8100;

constexpr uint8_t kIpProtoHopByHop = 0;
constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoTcp = 6;
constexpr uint8_t kIpProtoUdp = 17;
constexpr uint8_t kIpProtoRouting = 43;
constexpr uint8_t kIpProtoFragment = 44;
constexpr uint8_t kIpProtoGre = 47;
constexpr uint8_t kIpProtoAh = 51;
constexpr uint8_t kIpProtoIcmpv6 = 58;
constexpr uint8_t kIpProtoNoNext = 59;
constexpr uint8_t kIpProtoDestOpts = 60;

// Every member has a default initializer: g++ 12 warns (-Wextra) about
// designated initializers that skip a member without one.
struct Ipv4Opts {
  uint8_t ttl = 64;
  uint8_t tos = 0;
  bool df = true;
  bool mf = false;
  uint16_t frag_offset = 0;  // in 8-byte units
  uint16_t id = 0x1234;
  Bytes options{};  // multiple of 4, at most 40 bytes
  bool fix_l4_checksum = true;
};

// One IPv6 extension header. body: everything after the next-header and
// length bytes (for a fragment header: the 6 bytes after next-header and
// reserved, see ipv6_fragment_body). The builder fills next-header and length;
// 2 + body.size() must be a multiple of 8 (of 4 for AH), and 8 for fragment.
struct Ipv6Ext {
  uint8_t type = 0;
  Bytes body{};
};

struct Ipv6Opts {
  uint8_t hop_limit = 64;
  uint8_t tclass = 0;
  uint32_t flow_label = 0;
  std::vector<Ipv6Ext> ext{};
  bool fix_l4_checksum = true;
};

// 20-byte header, checksum 0 (filled by ipv4/ipv6 when fix_l4_checksum).
Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes& payload = {});
// Same with TCP options (a multiple of 4, at most 40 bytes); the data offset
// covers them.
Bytes tcp_with_options(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes& options,
                       const Bytes& payload = {});
// Length field set.
Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload = {});
// Type 8 (v4) or 128 (v6).
Bytes icmp_echo(bool v6, uint16_t id, uint16_t seq, const Bytes& payload = {});
// rest_of_header: the 4 bytes after the checksum, e.g. the MTU for "fragmentation
// needed" (v4: low 16 bits) or "packet too big" (v6: all 32 bits).
Bytes icmp_error(bool v6, uint8_t type, uint8_t code, uint32_t rest_of_header,
                 const Bytes& quoted_ip_packet);

// Valid header checksum; computes the TCP/UDP/ICMP checksum of payload when
// fix_l4_checksum and the packet is not a fragment.
Bytes ipv4(const IpAddress& src, const IpAddress& dst, uint8_t proto, const Bytes& payload,
           const Ipv4Opts& o = {});
// proto is the final upper-layer protocol (after o.ext); TCP/UDP/ICMPv6
// checksum with pseudo-header when fix_l4_checksum and there is no fragment
// header with offset > 0 or M set.
Bytes ipv6(const IpAddress& src, const IpAddress& dst, uint8_t proto, const Bytes& payload,
           const Ipv6Opts& o = {});
// The 6-byte body of an IPv6 fragment extension header.
Bytes ipv6_fragment_body(uint16_t offset_units, bool more, uint32_t id = 0x12345678);

Bytes eth(const Bytes& l3, uint16_t ethertype, std::optional<uint16_t> vlan_tci = std::nullopt,
          const MacAddress& dst = kNodeMac, const MacAddress& src = kClientMac);
Bytes eth_ipv4(const Bytes& ip_packet);  // ethertype 0x0800
Bytes eth_ipv6(const Bytes& ip_packet);  // ethertype 0x86DD

// Parses an address or aborts: for literals in tests.
IpAddress ip(std::string_view text);

// Verifiers. l4_checksum_ok covers TCP, UDP (a zero UDP/IPv4 checksum means
// "none" and passes), ICMP and ICMPv6; other protocols pass; fragments fail
// (they cannot be checked without reassembly).
bool l4_checksum_ok(const Bytes& ip_packet);
bool ipv4_header_checksum_ok(const Bytes& ip_packet);

}  // namespace anylb::test
