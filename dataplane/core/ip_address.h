// An IPv4 or IPv6 address held as its network-order bytes, the same layout the
// flow key and the BPF maps use (IPv4 in the first four bytes, rest zero).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "result.h"

namespace anylb {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  uint8_t family = 0;  // 4 or 6; 0 for "no address"

  bool is_v4() const { return family == 4; }
  bool is_v6() const { return family == 6; }
  bool empty() const { return family == 0; }

  static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    IpAddress ip;
    ip.family = 4;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
  }
  static IpAddress from_v4_bytes(const uint8_t* p) {
    IpAddress ip;
    ip.family = 4;
    std::memcpy(ip.bytes.data(), p, 4);
    return ip;
  }
  static IpAddress from_v6_bytes(const uint8_t* p) {
    IpAddress ip;
    ip.family = 6;
    std::memcpy(ip.bytes.data(), p, 16);
    return ip;
  }
  // Host-order value of an IPv4 address.
  uint32_t v4_host() const {
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
           bytes[3];
  }

  std::string to_string() const;
  auto operator<=>(const IpAddress&) const = default;
};

// Parses dotted-quad IPv4 or RFC 4291 IPv6 text; the error names the text.
Result<IpAddress> parse_ip_address(std::string_view text);

// A prefix such as 10.99.0.0/24 or fd00:99::/120.
struct IpPrefix {
  IpAddress base;  // host bits cleared
  uint8_t length = 0;

  // Number of addresses the prefix holds, capped at 2^32 (we pick by a 32-bit hash).
  uint64_t size() const;
  // The index-th address of the prefix (index < size()).
  IpAddress at(uint64_t index) const;
  std::string to_string() const;
  auto operator<=>(const IpPrefix&) const = default;
};

Result<IpPrefix> parse_ip_prefix(std::string_view text);

using MacAddress = std::array<uint8_t, 6>;
Result<MacAddress> parse_mac_address(std::string_view text);
std::string mac_to_string(const MacAddress& mac);

}  // namespace anylb
