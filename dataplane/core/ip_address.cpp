#include "ip_address.h"

#include <arpa/inet.h>

#include <cstdio>

namespace anylb {

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4) {
    inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
  } else if (family == 6) {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  } else {
    return "-";
  }
  return buf;
}

Result<IpAddress> parse_ip_address(std::string_view text) {
  // inet_pton needs a NUL-terminated string and rejects anything it does not
  // fully consume, which is the strictness config validation wants.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
    return make_error("'" + std::string(text) + "': not an IP address");
  }
  std::string s(text);
  IpAddress ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) {
    ip.family = 4;
    return ip;
  }
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
    ip.family = 6;
    return ip;
  }
  return make_error("'" + s + "': not an IP address");
}

uint64_t IpPrefix::size() const {
  const unsigned bits = (base.family == 4 ? 32u : 128u) - length;
  return bits >= 32 ? (uint64_t{1} << 32) : (uint64_t{1} << bits);
}

IpAddress IpPrefix::at(uint64_t index) const {
  // Add the index to the last four bytes; size() caps the index to 32 bits, and
  // the host part covers at most those bits when size() < 2^32.
  IpAddress ip = base;
  const int last = base.family == 4 ? 3 : 15;
  uint64_t carry = index;
  for (int i = last; i >= 0 && carry != 0; --i) {
    const uint64_t sum = ip.bytes[i] + (carry & 0xff);
    ip.bytes[i] = static_cast<uint8_t>(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  return ip;
}

std::string IpPrefix::to_string() const { return base.to_string() + "/" + std::to_string(length); }

Result<IpPrefix> parse_ip_prefix(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return make_error("'" + std::string(text) + "': not a prefix (want ADDRESS/LENGTH)");
  }
  auto addr = parse_ip_address(text.substr(0, slash));
  if (!addr) return make_error("'" + std::string(text) + "': not a prefix: bad address");
  const std::string_view len_text = text.substr(slash + 1);
  unsigned len = 0;
  if (len_text.empty() || len_text.size() > 3) {
    return make_error("'" + std::string(text) + "': not a prefix: bad length");
  }
  for (char c : len_text) {
    if (c < '0' || c > '9') return make_error("'" + std::string(text) + "': not a prefix: bad length");
    len = len * 10 + static_cast<unsigned>(c - '0');
  }
  const unsigned max = addr->family == 4 ? 32 : 128;
  if (len > max) {
    return make_error("'" + std::string(text) + "': prefix length " + std::to_string(len) +
                      " exceeds " + std::to_string(max));
  }
  IpPrefix p;
  p.base = *addr;
  p.length = static_cast<uint8_t>(len);
  for (unsigned bit = len; bit < max; ++bit) {
    p.base.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return p;
}

Result<MacAddress> parse_mac_address(std::string_view text) {
  MacAddress mac{};
  unsigned v[6];
  char tail;
  std::string s(text);
  if (s.size() != 17 ||
      std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                  &tail) != 6) {
    return make_error("'" + s + "': not a MAC address (want aa:bb:cc:dd:ee:ff)");
  }
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(v[i]);
  return mac;
}

std::string mac_to_string(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

}  // namespace anylb
