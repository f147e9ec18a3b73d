// C++ conveniences over the ABI's flow key. The key's bytes are what both fast
// paths hash and compare, so it is always built zeroed and filled field by field.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "abi.h"
#include "ip_address.h"

namespace anylb {

static_assert(sizeof(anylb_flow_key) == 40, "flow key must stay 40 bytes: the hash reads 10 words");

inline bool operator==(const anylb_flow_key& a, const anylb_flow_key& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

inline uint16_t ntoh16(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }
inline uint16_t hton16(uint16_t v) { return ntoh16(v); }

// Ports in host order here; the key stores them in network order.
inline anylb_flow_key make_flow_key(const IpAddress& src, uint16_t sport, const IpAddress& dst,
                                    uint16_t dport, uint8_t proto) {
  anylb_flow_key k{};
  std::memcpy(k.src, src.bytes.data(), 16);
  std::memcpy(k.dst, dst.bytes.data(), 16);
  k.sport = hton16(sport);
  k.dport = hton16(dport);
  k.proto = proto;
  k.family = src.family;
  return k;
}

inline IpAddress key_src(const anylb_flow_key& k) {
  return k.family == 4 ? IpAddress::from_v4_bytes(k.src) : IpAddress::from_v6_bytes(k.src);
}
inline IpAddress key_dst(const anylb_flow_key& k) {
  return k.family == 4 ? IpAddress::from_v4_bytes(k.dst) : IpAddress::from_v6_bytes(k.dst);
}

// The key of the flow an ICMP error is about: the quoted packet went from the
// VIP to the client, so swapping it gives the client -> VIP flow.
inline anylb_flow_key reverse_flow_key(const anylb_flow_key& k) {
  anylb_flow_key r{};
  std::memcpy(r.src, k.dst, 16);
  std::memcpy(r.dst, k.src, 16);
  r.sport = k.dport;
  r.dport = k.sport;
  r.proto = k.proto;
  r.family = k.family;
  return r;
}

std::string to_string(const anylb_flow_key& k);

}  // namespace anylb
