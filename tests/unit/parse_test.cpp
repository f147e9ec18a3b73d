// Parser fixtures: each case is a frame and what parse_frame must say about
// it. Frames are held in exactly-sized buffers so that the ASan build flags
// any read past the end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "dataplane/core/checksum.h"
#include "dataplane/core/flow_key.h"
#include "dataplane/core/packet_view.h"
#include "frames.h"

namespace anylb {
namespace {

using namespace anylb::test;

const IpAddress kClient4 = ip("198.51.100.7");
const IpAddress kVip4 = ip("203.0.113.10");
const IpAddress kRouter4 = ip("192.0.2.1");
const IpAddress kClient6 = ip("2001:db8:1::7");
const IpAddress kVip6 = ip("2001:db8:ff::10");
const IpAddress kRouter6 = ip("2001:db8:2::1");

constexpr size_t kEth = 14;
constexpr uint16_t kVlanTci = 0xa064;  // priority 5, VLAN 100

anylb_drop_reason parse(const Bytes& frame, PacketView& view) {
  return parse_frame(std::span<const uint8_t>(frame.data(), frame.size()), view);
}

// Client -> VIP flows, ports in host order.
anylb_flow_key flow4(uint16_t sport, uint16_t dport, uint8_t proto) {
  return make_flow_key(kClient4, sport, kVip4, dport, proto);
}
anylb_flow_key flow6(uint16_t sport, uint16_t dport, uint8_t proto) {
  return make_flow_key(kClient6, sport, kVip6, dport, proto);
}
// What a backend sends back: VIP -> client, as quoted by ICMP errors.
anylb_flow_key reply4(uint16_t sport, uint16_t dport, uint8_t proto) {
  return make_flow_key(kVip4, sport, kClient4, dport, proto);
}
anylb_flow_key reply6(uint16_t sport, uint16_t dport, uint8_t proto) {
  return make_flow_key(kVip6, sport, kClient6, dport, proto);
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Bytes head(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + static_cast<long>(n)); }
Bytes filled(size_t n, uint8_t value = 0) { return Bytes(n, value); }
Bytes patched(Bytes b, size_t at, uint8_t value) {
  b.at(at) = value;
  return b;
}
Bytes patched16(Bytes b, size_t at, uint16_t value) {
  b.at(at + 1);  // bounds check
  store_be16(&b[at], value);
  return b;
}

// An options-style extension header (hop-by-hop, routing, destination
// options, AH) of the given total length, body zeroed (Pad1 options).
Ipv6Ext ext(uint8_t type, size_t total_len) { return {type, filled(total_len - 2)}; }
Ipv6Ext fragment_ext(uint16_t offset_units, bool more) {
  return {kIpProtoFragment, ipv6_fragment_body(offset_units, more)};
}
std::vector<Ipv6Ext> dest_opts_chain(int count) {
  return std::vector<Ipv6Ext>(static_cast<size_t>(count), ext(kIpProtoDestOpts, 8));
}

::testing::AssertionResult same_key(const anylb_flow_key& actual, const anylb_flow_key& expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "key " << to_string(actual) << " (family " << int{actual.family} << ")"
         << ", want " << to_string(expected) << " (family " << int{expected.family} << ")";
}

// One fixture. reason, l3_ok, family, fragment and icmp are always checked;
// vlan_tci and inner_key are checked for absence when unset (no VLAN tag, no
// inner flow); the other optional fields only when set.
struct ParseCase {
  std::string name;
  Bytes frame;
  anylb_drop_reason reason = ANYLB_DROP_NONE;
  bool l3_ok = true;
  uint8_t family = 4;
  std::optional<uint16_t> ethertype{};
  std::optional<uint16_t> vlan_tci{};
  std::optional<anylb_flow_key> key{};
  std::optional<uint16_t> l3_offset{};
  std::optional<uint16_t> l3_length{};
  std::optional<uint16_t> l4_offset{};
  std::optional<uint8_t> l4_proto{};
  std::optional<uint8_t> tos{};
  std::optional<uint8_t> ttl{};
  std::optional<bool> dont_fragment{};
  FragmentKind fragment = FragmentKind::None;
  std::optional<uint8_t> tcp_flags{};
  IcmpKind icmp = IcmpKind::None;
  std::optional<uint8_t> icmp_type{};
  std::optional<uint8_t> icmp_code{};
  std::optional<anylb_flow_key> inner_key{};
};

void PrintTo(const ParseCase& c, std::ostream* os) { *os << c.name << " (" << c.frame.size() << " bytes)"; }

std::vector<ParseCase> tcp_udp_cases() {
  std::vector<ParseCase> cases;
  const Bytes syn = tcp(40000, 443, kTcpSyn);
  const Bytes tcp_opts{2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0};  // MSS, NOP, WS, SACK-permitted
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoTcp, syn, {.ttl = 61, .tos = 0xb8});
    cases.push_back({.name = "tcp_v4_syn", .frame = eth_ipv4(p), .ethertype = kEthertypeIpv4,
                     .key = flow4(40000, 443, kIpProtoTcp), .l3_offset = 14, .l3_length = 40,
                     .l4_offset = 34, .l4_proto = kIpProtoTcp, .tos = 0xb8, .ttl = 61,
                     .dont_fragment = true, .tcp_flags = kTcpSyn});
  }
  {
    const Bytes seg = tcp_with_options(40000, 443, kTcpAck | 0x08, tcp_opts, {'h', 'e', 'l', 'l', 'o'});
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoTcp, seg);
    cases.push_back({.name = "tcp_v4_options_and_payload", .frame = eth_ipv4(p),
                     .key = flow4(40000, 443, kIpProtoTcp), .l3_length = 57, .l4_offset = 34,
                     .l4_proto = kIpProtoTcp, .tcp_flags = kTcpAck | 0x08});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoTcp,
                         tcp_with_options(40000, 443, kTcpAck, filled(40, 1)));
    cases.push_back({.name = "tcp_v4_data_offset_15", .frame = eth_ipv4(p),
                     .key = flow4(40000, 443, kIpProtoTcp), .l3_length = 80, .tcp_flags = kTcpAck});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoUdp, udp(5353, 53, filled(12, 0x61)), {.df = false});
    cases.push_back({.name = "udp_v4", .frame = eth_ipv4(p), .key = flow4(5353, 53, kIpProtoUdp),
                     .l3_offset = 14, .l3_length = 40, .l4_offset = 34, .l4_proto = kIpProtoUdp,
                     .dont_fragment = false});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoTcp, syn, {.hop_limit = 63, .tclass = 0xb8});
    cases.push_back({.name = "tcp_v6_syn", .frame = eth_ipv6(p), .family = 6,
                     .ethertype = kEthertypeIpv6, .key = flow6(40000, 443, kIpProtoTcp),
                     .l3_offset = 14, .l3_length = 60, .l4_offset = 54, .l4_proto = kIpProtoTcp,
                     .tos = 0xb8, .ttl = 63, .dont_fragment = false, .tcp_flags = kTcpSyn});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoUdp, udp(5353, 53, filled(3)));
    cases.push_back({.name = "udp_v6", .frame = eth_ipv6(p), .family = 6,
                     .key = flow6(5353, 53, kIpProtoUdp), .l3_length = 51, .l4_offset = 54,
                     .l4_proto = kIpProtoUdp});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoTcp, syn);
    cases.push_back({.name = "vlan_tcp_v4", .frame = eth(p, kEthertypeIpv4, kVlanTci),
                     .ethertype = kEthertypeIpv4, .vlan_tci = kVlanTci,
                     .key = flow4(40000, 443, kIpProtoTcp), .l3_offset = 18, .l3_length = 40,
                     .l4_offset = 38, .tcp_flags = kTcpSyn});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoUdp, udp(5353, 53));
    cases.push_back({.name = "vlan_udp_v6", .frame = eth(p, kEthertypeIpv6, kVlanTci),
                     .family = 6, .ethertype = kEthertypeIpv6, .vlan_tci = kVlanTci,
                     .key = flow6(5353, 53, kIpProtoUdp), .l3_offset = 18, .l3_length = 48,
                     .l4_offset = 58});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoGre, filled(24, 0xee));
    cases.push_back({.name = "gre_v4_no_ports", .frame = eth_ipv4(p),
                     .key = flow4(0, 0, kIpProtoGre), .l4_offset = 34, .l4_proto = kIpProtoGre});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, 50 /* ESP */, filled(24, 0xee));
    cases.push_back({.name = "esp_v6_no_ports", .frame = eth_ipv6(p), .family = 6,
                     .key = flow6(0, 0, 50), .l4_offset = 54, .l4_proto = 50});
  }
  // IPv4 options of every length are skipped, never interpreted.
  for (int ihl = 6; ihl <= 15; ++ihl) {
    Bytes options = filled(static_cast<size_t>(ihl - 5) * 4, 1);  // NOPs
    if (ihl == 6) options = {0x94, 0x04, 0, 0};                   // router alert
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoUdp, udp(1000 + ihl, 53), {.options = options});
    cases.push_back({.name = "ipv4_ihl_" + std::to_string(ihl), .frame = eth_ipv4(p),
                     .key = flow4(static_cast<uint16_t>(1000 + ihl), 53, kIpProtoUdp),
                     .l3_length = static_cast<uint16_t>(ihl * 4 + 8),
                     .l4_offset = static_cast<uint16_t>(kEth + ihl * 4)});
  }
  return cases;
}

std::vector<ParseCase> ipv6_extension_cases() {
  std::vector<ParseCase> cases;
  const Bytes seg = udp(5353, 53, filled(4));
  auto add = [&](std::string name, std::vector<Ipv6Ext> chain, size_t chain_len) {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoUdp, seg, {.ext = std::move(chain)});
    cases.push_back({.name = std::move(name), .frame = eth_ipv6(p), .family = 6,
                     .key = flow6(5353, 53, kIpProtoUdp),
                     .l3_length = static_cast<uint16_t>(40 + chain_len + seg.size()),
                     .l4_offset = static_cast<uint16_t>(kEth + 40 + chain_len),
                     .l4_proto = kIpProtoUdp});
  };
  add("ipv6_hop_by_hop", {ext(kIpProtoHopByHop, 8)}, 8);
  add("ipv6_hop_by_hop_16_bytes", {ext(kIpProtoHopByHop, 16)}, 16);
  add("ipv6_routing", {ext(kIpProtoRouting, 24)}, 24);
  add("ipv6_dest_opts", {ext(kIpProtoDestOpts, 8)}, 8);
  add("ipv6_ah_length_in_4_byte_units", {ext(kIpProtoAh, 12)}, 12);
  add("ipv6_ah_24_bytes", {ext(kIpProtoAh, 24)}, 24);
  add("ipv6_atomic_fragment_is_whole", {fragment_ext(0, false)}, 8);
  add("ipv6_chain_of_five",
      {ext(kIpProtoHopByHop, 8), ext(kIpProtoDestOpts, 8), ext(kIpProtoRouting, 24),
       ext(kIpProtoAh, 16), ext(kIpProtoDestOpts, 16)},
      72);
  add("ipv6_chain_at_limit", dest_opts_chain(kMaxIpv6ExtHeaders), 8 * kMaxIpv6ExtHeaders);
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoUdp, seg,
                         {.ext = dest_opts_chain(kMaxIpv6ExtHeaders + 1)});
    // The addresses are known, the protocol is not.
    cases.push_back({.name = "ipv6_chain_over_limit", .frame = eth_ipv6(p),
                     .reason = ANYLB_DROP_IPV6_EXT_LIMIT, .family = 6,
                     .key = flow6(0, 0, 0), .l4_proto = 0});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoUdp, seg, {.ext = {ext(kIpProtoHopByHop, 8)}});
    cases.push_back({.name = "ipv6_ext_length_beyond_packet",
                     .frame = eth_ipv6(patched(p, 41, 10)),
                     .reason = ANYLB_DROP_IPV6_EXT_TRUNCATED, .family = 6, .key = flow6(0, 0, 0)});
  }
  {
    // The 16 bytes the header claims are in the frame, but 8 of them are
    // Ethernet padding beyond the IPv6 payload.
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoNoNext, {}, {.ext = {ext(kIpProtoHopByHop, 8)}});
    cases.push_back({.name = "ipv6_ext_length_into_padding",
                     .frame = cat(eth_ipv6(patched(p, 41, 1)), filled(8)),
                     .reason = ANYLB_DROP_IPV6_EXT_TRUNCATED, .family = 6, .l3_length = 48});
  }
  {
    // Payload length 1: the first header's next-header byte, not its length.
    const Bytes one = ipv6(kClient6, kVip6, kIpProtoUdp, {}, {.ext = {ext(kIpProtoDestOpts, 8)}});
    cases.push_back({.name = "ipv6_ext_cut_before_length_byte",
                     .frame = eth_ipv6(patched16(head(one, 41), 4, 1)),
                     .reason = ANYLB_DROP_IPV6_EXT_TRUNCATED, .family = 6});
    // Payload length 9: all of the first header, one byte of the second.
    const Bytes two = ipv6(kClient6, kVip6, kIpProtoUdp, filled(1),
                           {.ext = {ext(kIpProtoDestOpts, 8), ext(kIpProtoDestOpts, 8)}});
    cases.push_back({.name = "ipv6_ext_second_header_cut",
                     .frame = eth_ipv6(patched16(head(two, 49), 4, 9)),
                     .reason = ANYLB_DROP_IPV6_EXT_TRUNCATED, .family = 6});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoNoNext, filled(8, 0xee));
    cases.push_back({.name = "ipv6_no_next_header", .frame = eth_ipv6(p), .family = 6,
                     .key = flow6(0, 0, kIpProtoNoNext), .l4_offset = 54,
                     .l4_proto = kIpProtoNoNext});
    const Bytes q = ipv6(kClient6, kVip6, kIpProtoNoNext, {}, {.ext = {ext(kIpProtoDestOpts, 8)}});
    cases.push_back({.name = "ipv6_no_next_header_after_dest_opts", .frame = eth_ipv6(q),
                     .family = 6, .key = flow6(0, 0, kIpProtoNoNext), .l4_offset = 62});
  }
  return cases;
}

std::vector<ParseCase> fragment_cases() {
  std::vector<ParseCase> cases;
  const Bytes seg = udp(5353, 53, filled(100));
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoUdp, seg, {.df = false, .mf = true});
    cases.push_back({.name = "ipv4_first_fragment", .frame = eth_ipv4(p),
                     .key = flow4(5353, 53, kIpProtoUdp), .l4_offset = 34,
                     .dont_fragment = false, .fragment = FragmentKind::First});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoTcp, tcp(40000, 443, kTcpAck, filled(100)),
                         {.mf = true, .options = filled(12, 1)});
    cases.push_back({.name = "ipv4_first_fragment_with_options", .frame = eth_ipv4(p),
                     .key = flow4(40000, 443, kIpProtoTcp), .l4_offset = 46,
                     .fragment = FragmentKind::First, .tcp_flags = kTcpAck});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoTcp, head(tcp(40000, 443, kTcpAck), 12),
                         {.mf = true});
    cases.push_back({.name = "ipv4_first_fragment_cut_in_tcp", .frame = eth_ipv4(p),
                     .reason = ANYLB_DROP_L4_TRUNCATED, .key = flow4(0, 0, kIpProtoTcp),
                     .fragment = FragmentKind::First});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoUdp, filled(64, 0xab),
                         {.df = false, .mf = true, .frag_offset = 185});
    cases.push_back({.name = "ipv4_later_fragment", .frame = eth_ipv4(p),
                     .key = flow4(0, 0, kIpProtoUdp), .l3_length = 84, .l4_offset = 34,
                     .l4_proto = kIpProtoUdp, .fragment = FragmentKind::Later});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoUdp, filled(64, 0xab),
                         {.df = false, .frag_offset = 185});
    cases.push_back({.name = "ipv4_last_fragment", .frame = eth_ipv4(p),
                     .key = flow4(0, 0, kIpProtoUdp), .fragment = FragmentKind::Later});
  }
  {
    // Too short for a TCP header, which a later fragment does not carry anyway.
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoTcp, filled(3, 0xab),
                         {.mf = true, .frag_offset = 1, .options = filled(4, 1)});
    cases.push_back({.name = "ipv4_later_fragment_tiny", .frame = eth_ipv4(p),
                     .key = flow4(0, 0, kIpProtoTcp), .l4_offset = 38,
                     .fragment = FragmentKind::Later});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoUdp, seg, {.ext = {fragment_ext(0, true)}});
    cases.push_back({.name = "ipv6_first_fragment", .frame = eth_ipv6(p), .family = 6,
                     .key = flow6(5353, 53, kIpProtoUdp), .l4_offset = 62,
                     .l4_proto = kIpProtoUdp, .fragment = FragmentKind::First});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoTcp, tcp(40000, 443, kTcpSyn),
                         {.ext = {ext(kIpProtoHopByHop, 8), fragment_ext(0, true),
                                  ext(kIpProtoDestOpts, 8)}});
    cases.push_back({.name = "ipv6_first_fragment_mid_chain", .frame = eth_ipv6(p), .family = 6,
                     .key = flow6(40000, 443, kIpProtoTcp), .l4_offset = 78,
                     .fragment = FragmentKind::First, .tcp_flags = kTcpSyn});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoUdp, filled(32, 0xab),
                         {.ext = {fragment_ext(100, true)}});
    cases.push_back({.name = "ipv6_later_fragment", .frame = eth_ipv6(p), .family = 6,
                     .key = flow6(0, 0, kIpProtoUdp), .l4_offset = 62, .l4_proto = kIpProtoUdp,
                     .fragment = FragmentKind::Later});
  }
  {
    // The smallest non-zero offset: the 13-bit field sits above 3 flag bits.
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoUdp, filled(32, 0xab),
                         {.ext = {fragment_ext(1, true)}});
    cases.push_back({.name = "ipv6_later_fragment_offset_1", .frame = eth_ipv6(p), .family = 6,
                     .key = flow6(0, 0, kIpProtoUdp), .fragment = FragmentKind::Later});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoUdp, filled(32, 0xab), {.frag_offset = 1});
    cases.push_back({.name = "ipv4_later_fragment_offset_1", .frame = eth_ipv4(p),
                     .key = flow4(0, 0, kIpProtoUdp), .fragment = FragmentKind::Later});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoUdp, filled(32, 0xab),
                         {.ext = {fragment_ext(100, false)}});
    cases.push_back({.name = "ipv6_last_fragment", .frame = eth_ipv6(p), .family = 6,
                     .key = flow6(0, 0, kIpProtoUdp), .fragment = FragmentKind::Later});
  }
  {
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoTcp, filled(32, 0xab),
                         {.ext = {ext(kIpProtoHopByHop, 8), fragment_ext(7, true)}});
    cases.push_back({.name = "ipv6_later_fragment_after_hop_by_hop", .frame = eth_ipv6(p),
                     .family = 6, .key = flow6(0, 0, kIpProtoTcp), .l4_offset = 70,
                     .fragment = FragmentKind::Later});
  }
  {
    // The fragment claims a destination options header follows; its bytes are
    // from the middle of the original packet and must not be walked.
    const Bytes p = ipv6(kClient6, kVip6, kIpProtoDestOpts, filled(4, 0xff),
                         {.ext = {fragment_ext(7, true)}});
    cases.push_back({.name = "ipv6_later_fragment_stops_the_walk", .frame = eth_ipv6(p),
                     .family = 6, .key = flow6(0, 0, kIpProtoDestOpts), .l4_offset = 62,
                     .l4_proto = kIpProtoDestOpts, .fragment = FragmentKind::Later});
  }
  return cases;
}

std::vector<ParseCase> icmp_cases() {
  std::vector<ParseCase> cases;
  const anylb_flow_key from_router4 = make_flow_key(kRouter4, 0, kVip4, 0, kIpProtoIcmp);
  const anylb_flow_key from_router6 = make_flow_key(kRouter6, 0, kVip6, 0, kIpProtoIcmpv6);
  // What the backend sent, and the quote a router returns (header + 8 bytes
  // in IPv4, as much as fits 1280 bytes in IPv6).
  const Bytes sent4 = ipv4(kVip4, kClient4, kIpProtoTcp, tcp(443, 40000, kTcpAck, filled(1400)));
  const Bytes sent4_options = ipv4(kVip4, kClient4, kIpProtoTcp, tcp(443, 40000, kTcpAck, filled(1400)),
                                   {.options = filled(12, 1)});
  const Bytes sent4_udp = ipv4(kVip4, kClient4, kIpProtoUdp, udp(53, 5353, filled(20)));
  const Bytes sent6 = ipv6(kVip6, kClient6, kIpProtoTcp, tcp(443, 40000, kTcpAck, filled(1400)));
  const Bytes sent6_ext = ipv6(kVip6, kClient6, kIpProtoUdp, udp(53, 5353, filled(1400)),
                               {.ext = {ext(kIpProtoDestOpts, 8)}});
  auto error4 = [&](uint8_t type, uint8_t code, const Bytes& quote) {
    return eth_ipv4(ipv4(kRouter4, kVip4, kIpProtoIcmp, icmp_error(false, type, code, 1400, quote)));
  };
  auto error6 = [&](uint8_t type, uint8_t code, const Bytes& quote) {
    return eth_ipv6(ipv6(kRouter6, kVip6, kIpProtoIcmpv6, icmp_error(true, type, code, 1280, quote)));
  };
  auto ok4 = [&](std::string name, uint8_t type, uint8_t code, const Bytes& quote,
                 anylb_flow_key inner) {
    cases.push_back({.name = std::move(name), .frame = error4(type, code, quote),
                     .key = from_router4, .l4_offset = 34, .l4_proto = kIpProtoIcmp,
                     .icmp = IcmpKind::Error, .icmp_type = type, .icmp_code = code,
                     .inner_key = inner});
  };
  auto ok6 = [&](std::string name, uint8_t type, uint8_t code, const Bytes& quote,
                 anylb_flow_key inner) {
    cases.push_back({.name = std::move(name), .frame = error6(type, code, quote), .family = 6,
                     .key = from_router6, .l4_offset = 54, .l4_proto = kIpProtoIcmpv6,
                     .icmp = IcmpKind::Error, .icmp_type = type, .icmp_code = code,
                     .inner_key = inner});
  };
  auto malformed4 = [&](std::string name, const Bytes& quote) {
    cases.push_back({.name = std::move(name), .frame = error4(3, 4, quote),
                     .reason = ANYLB_DROP_ICMP_INNER_MALFORMED, .key = from_router4,
                     .icmp = IcmpKind::Error, .icmp_type = 3, .icmp_code = 4});
  };
  auto malformed6 = [&](std::string name, const Bytes& quote) {
    cases.push_back({.name = std::move(name), .frame = error6(2, 0, quote),
                     .reason = ANYLB_DROP_ICMP_INNER_MALFORMED, .family = 6, .key = from_router6,
                     .icmp = IcmpKind::Error, .icmp_type = 2, .icmp_code = 0});
  };

  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoIcmp, icmp_echo(false, 0x77, 1, filled(56)));
    cases.push_back({.name = "icmp_echo_v4", .frame = eth_ipv4(p),
                     .key = flow4(0, 0, kIpProtoIcmp), .l4_offset = 34, .l4_proto = kIpProtoIcmp,
                     .icmp = IcmpKind::EchoRequest, .icmp_type = 8, .icmp_code = 0});
    const Bytes q = ipv6(kClient6, kVip6, kIpProtoIcmpv6, icmp_echo(true, 0x77, 1, filled(56)));
    cases.push_back({.name = "icmp_echo_v6", .frame = eth_ipv6(q), .family = 6,
                     .key = flow6(0, 0, kIpProtoIcmpv6), .l4_offset = 54,
                     .l4_proto = kIpProtoIcmpv6, .icmp = IcmpKind::EchoRequest, .icmp_type = 128,
                     .icmp_code = 0});
    const Bytes r = ipv6(kClient6, kVip6, kIpProtoIcmpv6, icmp_echo(true, 0x77, 1),
                         {.ext = {ext(kIpProtoHopByHop, 8)}});
    cases.push_back({.name = "icmp_echo_v6_after_hop_by_hop", .frame = eth_ipv6(r), .family = 6,
                     .key = flow6(0, 0, kIpProtoIcmpv6), .l4_offset = 62,
                     .icmp = IcmpKind::EchoRequest, .icmp_type = 128});
  }
  {
    // Other message types are reported, not interpreted.
    const Bytes reply = ipv4(kClient4, kVip4, kIpProtoIcmp, icmp_error(false, 0, 0, 0x00770001, {}));
    cases.push_back({.name = "icmp_echo_reply_v4_is_other", .frame = eth_ipv4(reply),
                     .key = flow4(0, 0, kIpProtoIcmp), .icmp = IcmpKind::Other, .icmp_type = 0});
    const Bytes redirect = ipv4(kClient4, kVip4, kIpProtoIcmp, icmp_error(false, 5, 1, 0, head(sent4, 28)));
    cases.push_back({.name = "icmp_redirect_v4_is_other", .frame = eth_ipv4(redirect),
                     .key = flow4(0, 0, kIpProtoIcmp), .icmp = IcmpKind::Other, .icmp_type = 5,
                     .icmp_code = 1});
    const Bytes ns = ipv6(kClient6, kVip6, kIpProtoIcmpv6, icmp_error(true, 135, 0, 0, filled(16)));
    cases.push_back({.name = "icmpv6_neighbor_solicitation_is_other", .frame = eth_ipv6(ns),
                     .family = 6, .key = flow6(0, 0, kIpProtoIcmpv6), .icmp = IcmpKind::Other,
                     .icmp_type = 135});
    // An ICMPv6 error carried by IPv4 (and vice versa) is just a protocol number.
    const Bytes v6_in_v4 = ipv4(kRouter4, kVip4, kIpProtoIcmpv6, icmp_error(true, 2, 0, 1280, head(sent6, 48)));
    cases.push_back({.name = "icmpv6_over_ipv4_is_not_icmp", .frame = eth_ipv4(v6_in_v4),
                     .key = make_flow_key(kRouter4, 0, kVip4, 0, kIpProtoIcmpv6)});
    const Bytes v4_in_v6 = ipv6(kRouter6, kVip6, kIpProtoIcmp, icmp_error(false, 3, 4, 1400, head(sent4, 28)));
    cases.push_back({.name = "icmp_over_ipv6_is_not_icmp", .frame = eth_ipv6(v4_in_v6),
                     .family = 6, .key = make_flow_key(kRouter6, 0, kVip6, 0, kIpProtoIcmp)});
  }

  ok4("icmp_frag_needed_v4", 3, 4, head(sent4, 28), reply4(443, 40000, kIpProtoTcp));
  ok4("icmp_frag_needed_v4_inner_options", 3, 4, head(sent4_options, 40),
      reply4(443, 40000, kIpProtoTcp));
  ok4("icmp_frag_needed_v4_quote_is_ports_only", 3, 4, head(sent4, 24),
      reply4(443, 40000, kIpProtoTcp));
  ok4("icmp_port_unreachable_v4_whole_udp_quote", 3, 3, sent4_udp, reply4(53, 5353, kIpProtoUdp));
  ok4("icmp_time_exceeded_v4", 11, 0, head(sent4, 28), reply4(443, 40000, kIpProtoTcp));
  ok4("icmp_parameter_problem_v4", 12, 0, head(sent4, 28), reply4(443, 40000, kIpProtoTcp));
  ok4("icmp_quoted_later_fragment_v4_has_no_ports", 3, 4,
      head(ipv4(kVip4, kClient4, kIpProtoTcp, filled(64), {.frag_offset = 10}), 20),
      reply4(0, 0, kIpProtoTcp));
  ok4("icmp_quoted_gre_v4_has_no_ports", 3, 1,
      head(ipv4(kVip4, kClient4, kIpProtoGre, filled(64)), 20), reply4(0, 0, kIpProtoGre));

  ok6("icmpv6_packet_too_big", 2, 0, head(sent6, 1232), reply6(443, 40000, kIpProtoTcp));
  ok6("icmpv6_packet_too_big_inner_ext", 2, 0, head(sent6_ext, 56), reply6(53, 5353, kIpProtoUdp));
  ok6("icmpv6_dest_unreachable", 1, 4, head(sent6, 48), reply6(443, 40000, kIpProtoTcp));
  ok6("icmpv6_time_exceeded", 3, 0, head(sent6, 48), reply6(443, 40000, kIpProtoTcp));
  ok6("icmpv6_parameter_problem", 4, 0, head(sent6, 48), reply6(443, 40000, kIpProtoTcp));
  ok6("icmpv6_quoted_later_fragment_has_no_ports", 2, 0,
      head(ipv6(kVip6, kClient6, kIpProtoTcp, filled(64), {.ext = {fragment_ext(10, true)}}), 48),
      reply6(0, 0, kIpProtoTcp));

  malformed4("icmp_v4_quoting_ipv6", head(sent6, 48));
  malformed4("icmp_v4_quote_shorter_than_header", head(sent4, 19));
  malformed4("icmp_v4_quote_bad_version", patched(head(sent4, 28), 0, 0x55));
  malformed4("icmp_v4_quote_bad_ihl", patched(head(sent4, 28), 0, 0x44));
  malformed4("icmp_v4_quote_options_cut", head(sent4_options, 28));
  malformed4("icmp_v4_quote_ihl_beyond_packet", patched(head(sent4, 28), 0, 0x4f));
  malformed4("icmp_v4_quote_cut_in_ports", head(sent4, 23));
  malformed4("icmp_v4_quote_without_ports", head(sent4, 20));
  malformed6("icmpv6_quoting_ipv4", head(sent4, 48));  // long enough to pass for an IPv6 header
  malformed6("icmpv6_quote_bad_version", patched(head(sent6, 48), 0, 0x70));
  malformed6("icmpv6_quote_shorter_than_header", head(sent6, 39));
  malformed6("icmpv6_quote_cut_in_ports", head(sent6, 43));
  malformed6("icmpv6_quote_ext_cut", head(sent6_ext, 46));
  malformed6("icmpv6_quote_ext_over_limit",
             ipv6(kVip6, kClient6, kIpProtoUdp, udp(53, 5353),
                  {.ext = dest_opts_chain(kMaxIpv6ExtHeaders + 1)}));
  {
    // Two port bytes are in the frame only as Ethernet padding.
    const Bytes p = ipv4(kRouter4, kVip4, kIpProtoIcmp, icmp_error(false, 3, 4, 1400, head(sent4, 22)));
    cases.push_back({.name = "icmp_v4_quote_ports_in_padding", .frame = cat(eth_ipv4(p), filled(2)),
                     .reason = ANYLB_DROP_ICMP_INNER_MALFORMED, .key = from_router4,
                     .icmp = IcmpKind::Error});
  }
  {
    const Bytes p = ipv4(kClient4, kVip4, kIpProtoIcmp, head(icmp_echo(false, 1, 1), 4));
    cases.push_back({.name = "icmp_v4_truncated", .frame = eth_ipv4(p),
                     .reason = ANYLB_DROP_ICMP_TRUNCATED, .key = flow4(0, 0, kIpProtoIcmp)});
    const Bytes q = ipv6(kClient6, kVip6, kIpProtoIcmpv6, head(icmp_echo(true, 1, 1), 7));
    cases.push_back({.name = "icmpv6_truncated", .frame = eth_ipv6(q),
                     .reason = ANYLB_DROP_ICMP_TRUNCATED, .family = 6,
                     .key = flow6(0, 0, kIpProtoIcmpv6)});
  }
  return cases;
}

std::vector<ParseCase> non_ip_and_l2_cases() {
  std::vector<ParseCase> cases;
  const Bytes arp = filled(28, 0x01);
  cases.push_back({.name = "arp_is_not_ip", .frame = eth(arp, kEthertypeArp), .l3_ok = false,
                   .family = 0, .ethertype = kEthertypeArp, .key = anylb_flow_key{}});
  cases.push_back({.name = "vlan_arp_is_not_ip", .frame = eth(arp, kEthertypeArp, 7),
                   .l3_ok = false, .family = 0, .ethertype = kEthertypeArp, .vlan_tci = 7});
  cases.push_back({.name = "qinq_service_tag_is_not_ip",
                   .frame = eth(cat({0x00, 0x07, 0x08, 0x00}, ipv4(kClient4, kVip4, kIpProtoUdp, udp(1, 2))),
                                0x88a8),
                   .l3_ok = false, .family = 0, .ethertype = 0x88a8});
  {
    // Only one 802.1Q tag is taken off; a second one is "not IP".
    const Bytes inner_tagged = {0x00, 0x07, 0x08, 0x00};
    cases.push_back({.name = "double_8021q_is_not_ip",
                     .frame = eth(cat(inner_tagged, ipv4(kClient4, kVip4, kIpProtoUdp, udp(1, 2))),
                                  kEthertypeVlan, 5),
                     .l3_ok = false, .family = 0, .ethertype = kEthertypeVlan, .vlan_tci = 5});
  }
  cases.push_back({.name = "empty_frame", .frame = {}, .reason = ANYLB_DROP_ETH_TRUNCATED,
                   .l3_ok = false, .family = 0});
  cases.push_back({.name = "eth_truncated", .frame = head(eth(arp, kEthertypeArp), 13),
                   .reason = ANYLB_DROP_ETH_TRUNCATED, .l3_ok = false, .family = 0});
  {
    const Bytes tagged = eth(ipv4(kClient4, kVip4, kIpProtoUdp, udp(1, 2)), kEthertypeIpv4, 5);
    cases.push_back({.name = "vlan_truncated", .frame = head(tagged, 17),
                     .reason = ANYLB_DROP_VLAN_TRUNCATED, .l3_ok = false, .family = 0});
    cases.push_back({.name = "vlan_tag_then_nothing", .frame = head(tagged, 18),
                     .reason = ANYLB_DROP_IPV4_TRUNCATED, .l3_ok = false, .vlan_tci = 5});
  }
  return cases;
}

std::vector<ParseCase> ipv4_ipv6_header_cases() {
  std::vector<ParseCase> cases;
  const Bytes p4 = ipv4(kClient4, kVip4, kIpProtoTcp, tcp(40000, 443, kTcpSyn));
  const Bytes p6 = ipv6(kClient6, kVip6, kIpProtoTcp, tcp(40000, 443, kTcpSyn));
  const anylb_flow_key addresses4 = flow4(0, 0, kIpProtoTcp);
  auto bad4 = [&](std::string name, const Bytes& frame, anylb_drop_reason reason, bool l3_ok) {
    cases.push_back({.name = std::move(name), .frame = frame, .reason = reason, .l3_ok = l3_ok,
                     .key = l3_ok ? addresses4 : anylb_flow_key{}});
  };
  {
    const Bytes u = ipv4(kClient4, kVip4, kIpProtoUdp, udp(5353, 53));
    cases.push_back({.name = "ipv4_ethernet_padding_ignored", .frame = cat(eth_ipv4(u), filled(18)),
                     .key = flow4(5353, 53, kIpProtoUdp), .l3_length = 28});
    const Bytes v = ipv6(kClient6, kVip6, kIpProtoUdp, udp(5353, 53));
    cases.push_back({.name = "ipv6_trailing_bytes_ignored", .frame = cat(eth_ipv6(v), filled(10)),
                     .family = 6, .key = flow6(5353, 53, kIpProtoUdp), .l3_length = 48});
  }
  bad4("ipv4_truncated_header", head(eth_ipv4(p4), kEth + 19), ANYLB_DROP_IPV4_TRUNCATED, false);
  bad4("ipv4_bad_version", eth_ipv4(patched(p4, 0, 0x65)), ANYLB_DROP_IPV4_BAD_VERSION, false);
  bad4("ipv4_ethertype_carrying_ipv6", eth(p6, kEthertypeIpv4), ANYLB_DROP_IPV4_BAD_VERSION, false);
  bad4("ipv4_ihl_4", eth_ipv4(patched(p4, 0, 0x44)), ANYLB_DROP_IPV4_BAD_IHL, false);
  bad4("ipv4_ihl_0", eth_ipv4(patched(p4, 0, 0x40)), ANYLB_DROP_IPV4_BAD_IHL, false);
  bad4("ipv4_ihl_beyond_frame", eth_ipv4(patched(head(p4, 20), 0, 0x4f)),
       ANYLB_DROP_IPV4_TRUNCATED, true);
  bad4("ipv4_total_length_beyond_frame", eth_ipv4(patched16(p4, 2, 41)),
       ANYLB_DROP_IPV4_BAD_LENGTH, true);
  bad4("ipv4_total_length_below_header", eth_ipv4(patched16(p4, 2, 19)),
       ANYLB_DROP_IPV4_BAD_LENGTH, true);
  bad4("ipv4_total_length_below_header_with_options",
       eth_ipv4(patched16(ipv4(kClient4, kVip4, kIpProtoTcp, {}, {.options = filled(4, 1)}), 2, 22)),
       ANYLB_DROP_IPV4_BAD_LENGTH, true);
  bad4("ipv4_total_length_zero", eth_ipv4(patched16(p4, 2, 0)), ANYLB_DROP_IPV4_BAD_LENGTH, true);
  {
    // The TCP header is all in the frame, but past the IP total length.
    cases.push_back({.name = "tcp_header_in_ethernet_padding",
                     .frame = eth_ipv4(patched16(p4, 2, 28)), .reason = ANYLB_DROP_L4_TRUNCATED,
                     .key = addresses4, .l3_length = 28});
    cases.push_back({.name = "tcp_truncated_mid_header",
                     .frame = eth_ipv4(ipv4(kClient4, kVip4, kIpProtoTcp, head(tcp(1, 2, 0), 10))),
                     .reason = ANYLB_DROP_L4_TRUNCATED, .key = addresses4});
    cases.push_back({.name = "udp_truncated",
                     .frame = eth_ipv4(ipv4(kClient4, kVip4, kIpProtoUdp, head(udp(1, 2), 7))),
                     .reason = ANYLB_DROP_L4_TRUNCATED, .key = flow4(0, 0, kIpProtoUdp)});
    cases.push_back({.name = "tcp_v6_truncated",
                     .frame = eth_ipv6(ipv6(kClient6, kVip6, kIpProtoTcp, head(tcp(1, 2, 0), 19))),
                     .reason = ANYLB_DROP_L4_TRUNCATED, .family = 6,
                     .key = flow6(0, 0, kIpProtoTcp)});
    // Ports are known once the fixed TCP header is there, even if the data
    // offset is bad.
    cases.push_back({.name = "tcp_data_offset_4", .frame = eth_ipv4(patched(p4, 32, 0x40)),
                     .reason = ANYLB_DROP_TCP_BAD_OFFSET, .key = flow4(40000, 443, kIpProtoTcp),
                     .tcp_flags = kTcpSyn});
    cases.push_back({.name = "tcp_data_offset_beyond_packet", .frame = eth_ipv4(patched(p4, 32, 0x60)),
                     .reason = ANYLB_DROP_TCP_BAD_OFFSET, .key = flow4(40000, 443, kIpProtoTcp)});
    cases.push_back({.name = "tcp_data_offset_into_padding",
                     .frame = cat(eth_ipv4(patched(p4, 32, 0x60)), filled(4)),
                     .reason = ANYLB_DROP_TCP_BAD_OFFSET});
  }
  cases.push_back({.name = "ipv6_truncated_header", .frame = head(eth_ipv6(p6), kEth + 39),
                   .reason = ANYLB_DROP_IPV6_TRUNCATED, .l3_ok = false, .family = 6,
                   .key = anylb_flow_key{}});
  cases.push_back({.name = "ipv6_bad_version", .frame = eth_ipv6(patched(p6, 0, 0x40)),
                   .reason = ANYLB_DROP_IPV6_BAD_VERSION, .l3_ok = false, .family = 6});
  cases.push_back({.name = "ipv6_ethertype_carrying_ipv4",
                   .frame = eth(cat(p4, filled(20)), kEthertypeIpv6),
                   .reason = ANYLB_DROP_IPV6_BAD_VERSION, .l3_ok = false, .family = 6});
  cases.push_back({.name = "ipv6_payload_length_beyond_frame", .frame = eth_ipv6(patched16(p6, 4, 21)),
                   .reason = ANYLB_DROP_IPV6_BAD_LENGTH, .family = 6, .key = flow6(0, 0, 0)});
  cases.push_back({.name = "ipv6_payload_length_zero_jumbogram",
                   .frame = eth_ipv6(patched16(p6, 4, 0)),
                   .reason = ANYLB_DROP_IPV6_BAD_LENGTH, .family = 6, .key = flow6(0, 0, 0)});
  return cases;
}

std::vector<ParseCase> all_cases() {
  std::vector<ParseCase> all;
  for (auto part : {tcp_udp_cases(), ipv6_extension_cases(), fragment_cases(), icmp_cases(),
                    non_ip_and_l2_cases(), ipv4_ipv6_header_cases()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

class ParseFrameTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseFrameTest, Matches) {
  const ParseCase& c = GetParam();
  PacketView v;
  EXPECT_EQ(parse(c.frame, v), c.reason);
  EXPECT_EQ(v.l3_ok, c.l3_ok);
  EXPECT_EQ(v.family, c.family);
  if (c.ethertype) { EXPECT_EQ(v.ethertype, *c.ethertype); }
  EXPECT_EQ(v.has_vlan, c.vlan_tci.has_value());
  EXPECT_EQ(v.vlan_tci, c.vlan_tci.value_or(0));
  if (c.key) { EXPECT_TRUE(same_key(v.key, *c.key)); }
  if (c.l3_offset) { EXPECT_EQ(v.l3_offset, *c.l3_offset); }
  if (c.l3_length) { EXPECT_EQ(v.l3_length, *c.l3_length); }
  if (c.l4_offset) { EXPECT_EQ(v.l4_offset, *c.l4_offset); }
  if (c.l4_proto) { EXPECT_EQ(v.l4_proto, *c.l4_proto); }
  if (c.tos) { EXPECT_EQ(v.tos, *c.tos); }
  if (c.ttl) { EXPECT_EQ(v.ttl, *c.ttl); }
  if (c.dont_fragment) { EXPECT_EQ(v.dont_fragment, *c.dont_fragment); }
  EXPECT_EQ(v.fragment, c.fragment);
  if (c.tcp_flags) { EXPECT_EQ(v.tcp_flags, *c.tcp_flags); }
  EXPECT_EQ(v.icmp, c.icmp);
  if (c.icmp_type) { EXPECT_EQ(v.icmp_type, *c.icmp_type); }
  if (c.icmp_code) { EXPECT_EQ(v.icmp_code, *c.icmp_code); }
  EXPECT_EQ(v.has_inner, c.inner_key.has_value());
  if (c.inner_key) { EXPECT_TRUE(same_key(v.inner_key, *c.inner_key)); }

  // Invariants of every view.
  EXPECT_EQ(v.key.proto, v.l4_proto);
  EXPECT_EQ(v.key.pad[0] | v.key.pad[1], 0);
  EXPECT_EQ(v.key.family, v.l3_ok ? v.family : 0);
}

std::string case_name(const ::testing::TestParamInfo<ParseCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(ParseFixtures, ParseFrameTest, ::testing::ValuesIn(all_cases()), case_name);

TEST(ParseFrame, FixtureBuildersProduceValidChecksums) {
  // Guards the fixtures themselves: the parser never checks these, but the
  // frames should be what a real sender would put on the wire.
  for (const ParseCase& c : all_cases()) {
    if (c.reason != ANYLB_DROP_NONE || c.family == 0 || c.fragment != FragmentKind::None) continue;
    PacketView v;
    ASSERT_EQ(parse(c.frame, v), ANYLB_DROP_NONE) << c.name;
    const Bytes packet(c.frame.begin() + v.l3_offset, c.frame.begin() + v.l3_offset + v.l3_length);
    if (v.family == 4) { EXPECT_TRUE(ipv4_header_checksum_ok(packet)) << c.name; }
    EXPECT_TRUE(l4_checksum_ok(packet)) << c.name;
  }
}

TEST(ParseFrame, ResetsTheViewFirst) {
  const Bytes quote = head(ipv4(kVip4, kClient4, kIpProtoUdp, udp(53, 1)), 28);
  PacketView v;
  ASSERT_EQ(parse(eth_ipv4(ipv4(kRouter4, kVip4, kIpProtoIcmp, icmp_error(false, 3, 4, 1400, quote))), v),
            ANYLB_DROP_NONE);
  ASSERT_TRUE(v.has_inner);
  v.has_vlan = true;
  v.tcp_flags = 0xff;
  ASSERT_EQ(parse(eth(filled(28), kEthertypeArp), v), ANYLB_DROP_NONE);
  PacketView fresh{};
  fresh.ethertype = kEthertypeArp;
  EXPECT_EQ(std::memcmp(&v.key, &fresh.key, sizeof v.key), 0);
  EXPECT_EQ(std::memcmp(&v.inner_key, &fresh.inner_key, sizeof v.inner_key), 0);
  EXPECT_FALSE(v.has_inner);
  EXPECT_FALSE(v.has_vlan);
  EXPECT_EQ(v.tcp_flags, 0);
  EXPECT_EQ(v.icmp, IcmpKind::None);
  EXPECT_EQ(v.l3_length, 0);
}

// Truncation. Each case is a valid IP packet and, for its IP-relative
// lengths, the reason a packet cut shorter than `below` is dropped for (the
// first bound that applies wins; past the last one, the cut only loses
// payload and the packet is fine).
struct Bound {
  size_t below;
  anylb_drop_reason reason;
};
struct TruncationCase {
  std::string name;
  Bytes ip_packet;
  std::optional<uint16_t> vlan{};
  std::vector<Bound> bounds;  // bounds[0] is the IP header's own
};

std::vector<TruncationCase> truncation_cases() {
  const Bytes tcp_options{2, 4, 0x05, 0xb4, 1, 1, 4, 2};
  const Bytes sent4 = ipv4(kVip4, kClient4, kIpProtoTcp, tcp(443, 40000, kTcpAck, filled(500)),
                           {.options = filled(4, 1)});
  const Bytes sent6 = ipv6(kVip6, kClient6, kIpProtoUdp, udp(53, 5353, filled(500)),
                           {.ext = {ext(kIpProtoDestOpts, 8)}});
  return {
      {"tcp_v4_with_ip_and_tcp_options",
       ipv4(kClient4, kVip4, kIpProtoTcp,
            tcp_with_options(40000, 443, kTcpAck, tcp_options, filled(5)),
            {.options = filled(8, 1)}),
       std::nullopt,
       {{28, ANYLB_DROP_IPV4_TRUNCATED}, {48, ANYLB_DROP_L4_TRUNCATED},
        {56, ANYLB_DROP_TCP_BAD_OFFSET}}},
      {"tcp_v6_with_extension_chain",
       ipv6(kClient6, kVip6, kIpProtoTcp, tcp(40000, 443, kTcpSyn, filled(3)),
            {.ext = {ext(kIpProtoHopByHop, 8), ext(kIpProtoDestOpts, 16), ext(kIpProtoRouting, 24),
                     fragment_ext(0, false), ext(kIpProtoAh, 16)}}),
       std::nullopt,
       {{40, ANYLB_DROP_IPV6_TRUNCATED}, {112, ANYLB_DROP_IPV6_EXT_TRUNCATED},
        {132, ANYLB_DROP_L4_TRUNCATED}}},
      {"icmp_frag_needed_with_inner_options",
       ipv4(kRouter4, kVip4, kIpProtoIcmp, icmp_error(false, 3, 4, 1400, head(sent4, 32))),
       std::nullopt,
       {{20, ANYLB_DROP_IPV4_TRUNCATED}, {28, ANYLB_DROP_ICMP_TRUNCATED},
        {28 + 24 + 4, ANYLB_DROP_ICMP_INNER_MALFORMED}}},
      {"icmpv6_packet_too_big_with_inner_ext",
       ipv6(kRouter6, kVip6, kIpProtoIcmpv6, icmp_error(true, 2, 0, 1280, head(sent6, 64))),
       std::nullopt,
       {{40, ANYLB_DROP_IPV6_TRUNCATED}, {48, ANYLB_DROP_ICMP_TRUNCATED},
        {48 + 48 + 4, ANYLB_DROP_ICMP_INNER_MALFORMED}}},
      {"vlan_udp_v4", ipv4(kClient4, kVip4, kIpProtoUdp, udp(5353, 53, filled(6))), kVlanTci,
       {{20, ANYLB_DROP_IPV4_TRUNCATED}, {28, ANYLB_DROP_L4_TRUNCATED}}},
      {"vlan_udp_v6_first_fragment",
       ipv6(kClient6, kVip6, kIpProtoUdp, udp(5353, 53, filled(6)), {.ext = {fragment_ext(0, true)}}),
       kVlanTci,
       {{40, ANYLB_DROP_IPV6_TRUNCATED}, {48, ANYLB_DROP_IPV6_EXT_TRUNCATED},
        {56, ANYLB_DROP_L4_TRUNCATED}}},
      {"vlan_icmp_echo_v4", ipv4(kClient4, kVip4, kIpProtoIcmp, icmp_echo(false, 1, 2, filled(4))),
       kVlanTci,
       {{20, ANYLB_DROP_IPV4_TRUNCATED}, {28, ANYLB_DROP_ICMP_TRUNCATED}}},
  };
}

Bytes frame_of(const TruncationCase& c, const Bytes& ip_packet) {
  const bool v6 = !c.ip_packet.empty() && (c.ip_packet[0] >> 4) == 6;
  return eth(ip_packet, v6 ? kEthertypeIpv6 : kEthertypeIpv4, c.vlan);
}

// Every prefix of the frame, length fields untouched: the cut is caught by
// the Ethernet, VLAN or IP header checks, whatever it cuts.
TEST(ParseTruncation, EveryPrefixOfTheFrameIsDropped) {
  for (const TruncationCase& c : truncation_cases()) {
    SCOPED_TRACE(c.name);
    const Bytes frame = frame_of(c, c.ip_packet);
    const bool v6 = (c.ip_packet[0] >> 4) == 6;
    const size_t l3 = kEth + (c.vlan ? 4 : 0);
    const size_t fixed = v6 ? 40 : 20;
    PacketView v;
    ASSERT_EQ(parse(frame, v), ANYLB_DROP_NONE);
    for (size_t n = 0; n < frame.size(); ++n) {
      SCOPED_TRACE("prefix of " + std::to_string(n) + " bytes");
      const Bytes cut = head(frame, n);  // exactly n bytes: ASan sees any over-read
      anylb_drop_reason want;
      bool l3_ok = false;
      if (n < kEth) {
        want = ANYLB_DROP_ETH_TRUNCATED;
      } else if (n < l3) {
        want = ANYLB_DROP_VLAN_TRUNCATED;
      } else if (n - l3 < fixed) {
        want = c.bounds[0].reason;
      } else {
        l3_ok = true;
        want = n - l3 < c.bounds[0].below ? c.bounds[0].reason
               : v6                       ? ANYLB_DROP_IPV6_BAD_LENGTH
                                          : ANYLB_DROP_IPV4_BAD_LENGTH;
      }
      EXPECT_EQ(parse(cut, v), want);
      EXPECT_EQ(v.l3_ok, l3_ok);
    }
  }
}

// Every cut of the IP packet with its length field made to match, as a
// sender of a short packet would: now the cut reaches each inner header.
TEST(ParseTruncation, EveryCutOfTheIpPacketIsCaughtByTheHeaderItCuts) {
  for (const TruncationCase& c : truncation_cases()) {
    SCOPED_TRACE(c.name);
    const bool v6 = (c.ip_packet[0] >> 4) == 6;
    const size_t fixed = v6 ? 40 : 20;
    for (size_t m = 0; m < c.ip_packet.size(); ++m) {
      SCOPED_TRACE("IP packet cut to " + std::to_string(m) + " bytes");
      Bytes packet = head(c.ip_packet, m);
      if (!v6 && m >= 4) store_be16(&packet[2], static_cast<uint16_t>(m));
      if (v6 && m >= 40) store_be16(&packet[4], static_cast<uint16_t>(m - 40));
      anylb_drop_reason want = ANYLB_DROP_NONE;
      for (const Bound& b : c.bounds) {
        if (m < b.below) {
          want = b.reason;
          break;
        }
      }
      // A bare IPv6 header now has payload length 0, which reads as a jumbogram.
      if (v6 && m == 40) want = ANYLB_DROP_IPV6_BAD_LENGTH;
      PacketView v;
      EXPECT_EQ(parse(frame_of(c, packet), v), want);
      EXPECT_EQ(v.l3_ok, m >= fixed);
    }
  }
}

// The ICMP quote is allowed to be cut anywhere after the quoted ports: what a
// router quotes is not under anyone's control.
TEST(ParseTruncation, IcmpQuoteLengthFieldsAreNotTrusted) {
  const Bytes sent = ipv4(kVip4, kClient4, kIpProtoTcp, tcp(443, 40000, kTcpAck, filled(100)));
  for (size_t quoted = 24; quoted <= sent.size(); ++quoted) {
    PacketView v;
    ASSERT_EQ(parse(eth_ipv4(ipv4(kRouter4, kVip4, kIpProtoIcmp,
                                  icmp_error(false, 3, 4, 1400, head(sent, quoted)))),
                    v),
              ANYLB_DROP_NONE)
        << quoted;
    EXPECT_TRUE(same_key(v.inner_key, reply4(443, 40000, kIpProtoTcp)));
  }
}

void expect_view_invariants(const Bytes& frame, anylb_drop_reason reason, const PacketView& v) {
  ASSERT_LT(reason, ANYLB_DROP_REASON_COUNT);
  EXPECT_EQ(v.key.pad[0] | v.key.pad[1], 0);
  EXPECT_EQ(v.inner_key.pad[0] | v.inner_key.pad[1], 0);
  if (v.l3_ok) { EXPECT_EQ(v.key.family, v.family); }
  if (v.family == 0) { EXPECT_FALSE(v.l3_ok); }
  if (reason != ANYLB_DROP_NONE) {
    EXPECT_FALSE(v.has_inner);
    return;
  }
  if (v.family == 0) return;
  EXPECT_TRUE(v.l3_ok);
  EXPECT_LE(size_t{v.l3_offset} + v.l3_length, frame.size());
  EXPECT_GE(v.l4_offset, v.l3_offset + (v.family == 4 ? 20 : 40));
  EXPECT_LE(v.l4_offset, v.l3_offset + v.l3_length);
  EXPECT_EQ(v.key.proto, v.l4_proto);
  const bool has_ports = (v.l4_proto == kIpProtoTcp || v.l4_proto == kIpProtoUdp) &&
                         v.fragment != FragmentKind::Later;
  if (!has_ports) { EXPECT_EQ(v.key.sport | v.key.dport, 0); }
  EXPECT_EQ(v.has_inner, v.icmp == IcmpKind::Error);
  if (v.has_inner) { EXPECT_EQ(v.inner_key.family, v.family); }
}

// Random damage to valid frames: the parser must neither crash nor read out
// of bounds (under ASan), and whatever it returns must be self-consistent.
TEST(ParseFuzz, RandomMutationsOfValidFramesAreHandled) {
  std::vector<Bytes> seeds;
  for (const ParseCase& c : all_cases()) {
    if (c.reason == ANYLB_DROP_NONE && c.family != 0) seeds.push_back(c.frame);
  }
  for (const TruncationCase& c : truncation_cases()) seeds.push_back(frame_of(c, c.ip_packet));
  ASSERT_FALSE(seeds.empty());

  // Values that sit on the parser's decision boundaries.
  const uint8_t interesting[] = {0x00, 0x01, 0x04, 0x05, 0x06, 0x0f, 0x11, 0x2c, 0x3a, 0x3b,
                                 0x3c, 0x40, 0x45, 0x4f, 0x60, 0x80, 0x81, 0x86, 0xdd, 0xff};
  std::mt19937 rng(20240611);
  std::set<anylb_drop_reason> seen;
  constexpr int kMutations = 20000;
  for (int i = 0; i < kMutations; ++i) {
    Bytes m = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !m.empty(); ++e) {
      // Headers live in the first ~130 bytes; aim most edits there.
      const size_t span = rng() % 4 != 0 ? std::min<size_t>(m.size(), 130) : m.size();
      const size_t at = rng() % span;
      m[at] = rng() % 2 != 0 ? interesting[rng() % sizeof interesting] : static_cast<uint8_t>(rng());
    }
    size_t len = m.size();
    if (rng() % 4 == 0) len = rng() % (m.size() + 1);
    if (rng() % 8 == 0) m.resize(m.size() + rng() % 16, 0);  // trailing padding
    const Bytes frame(m.begin(), m.begin() + static_cast<long>(std::min(len, m.size())));
    PacketView v;
    const anylb_drop_reason reason = parse(frame, v);
    seen.insert(reason);
    expect_view_invariants(frame, reason, v);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "mutation " << i << " broke an invariant";
      return;
    }
  }
  // The mutations reach deep enough to hit most of the parser's exits.
  EXPECT_GE(seen.size(), 14u);
}

}  // namespace
}  // namespace anylb
