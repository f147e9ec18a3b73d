#include "flow_hash.h"

#include <cstdio>
#include <string>

#include "flow_key.h"

namespace anylb {

uint32_t murmur3_32(std::span<const uint8_t> data, uint32_t seed) {
  uint32_t h = seed;
  const size_t blocks = data.size() / 4;
  for (size_t i = 0; i < blocks; ++i) h = anylb_murmur3_round(h, flow_hash_word(data.data() + 4 * i));
  // The tail goes through the same multiply-rotate as a block, without the
  // h-side rotate and add (MurmurHash3's definition).
  const uint8_t* tail = data.data() + 4 * blocks;
  uint32_t k = 0;
  switch (data.size() & 3) {
    case 3:
      k ^= uint32_t{tail[2]} << 16;
      [[fallthrough]];
    case 2:
      k ^= uint32_t{tail[1]} << 8;
      [[fallthrough]];
    case 1:
      k ^= tail[0];
      k *= 0xcc9e2d51u;
      k = anylb_rotl32(k, 15);
      k *= 0x1b873593u;
      h ^= k;
  }
  return anylb_murmur3_finish(h, static_cast<uint32_t>(data.size()));
}

std::string to_string(const anylb_flow_key& k) {
  const char* proto = k.proto == 6 ? "tcp" : k.proto == 17 ? "udp" : k.proto == 1 ? "icmp"
                      : k.proto == 58                    ? "icmpv6"
                                                         : "proto";
  std::string out = proto;
  if (k.proto != 6 && k.proto != 17 && k.proto != 1 && k.proto != 58) out += std::to_string(k.proto);
  const bool v6 = k.family == 6;
  auto hostport = [v6](const IpAddress& a, uint16_t port_be) {
    const std::string addr = a.to_string();
    return (v6 ? "[" + addr + "]" : addr) + ":" + std::to_string(ntoh16(port_be));
  };
  out += " " + hostport(key_src(k), k.sport) + " -> " + hostport(key_dst(k), k.dport);
  return out;
}

}  // namespace anylb
