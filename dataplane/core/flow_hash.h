// The flow hash both fast paths compute: MurmurHash3 x86_32, seeded from
// config, over the flow key's significant 32-bit words read little-endian:
//   IPv4: src[0..3], dst[0..3], sport|dport, proto|family|pad  (16 bytes)
//   IPv6: the whole 40-byte key                                (40 bytes)
// An IPv4 key's other 24 address bytes are zero by layout; skipping them
// saves six of ten rounds on the common path.
//
// Why this function: it is cheap (multiply-rotate rounds, no table, no
// data-dependent loop), it mixes every input bit into every output bit so that
// `hash % M` spreads over a prime Maglev table, and it needs nothing the BPF
// instruction set lacks, so xdp/ writes the same rounds and must get the same
// value (a test checks them against each other). The seed is the same on every
// node of a PoP: each node then maps a flow to the same Maglev slot.
#pragma once

#include <cstdint>
#include <span>

#include "abi.h"

namespace anylb {

uint32_t murmur3_32(std::span<const uint8_t> data, uint32_t seed);

inline uint32_t flow_hash_rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline uint32_t flow_hash_word(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

inline uint32_t flow_hash_round(uint32_t h, uint32_t k) {
  k *= 0xcc9e2d51u;
  k = flow_hash_rotl(k, 15);
  k *= 0x1b873593u;
  h ^= k;
  h = flow_hash_rotl(h, 13);
  return h * 5 + 0xe6546b64u;
}

inline uint32_t flow_hash_finish(uint32_t h, uint32_t len) {
  h ^= len;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

inline uint32_t flow_hash(const anylb_flow_key& key, uint32_t seed) {
  uint32_t h = seed;
  if (key.family == 4) {
    h = flow_hash_round(h, flow_hash_word(key.src));
    h = flow_hash_round(h, flow_hash_word(key.dst));
    h = flow_hash_round(h, flow_hash_word(reinterpret_cast<const uint8_t*>(&key.sport)));
    h = flow_hash_round(h, flow_hash_word(&key.proto));
    return flow_hash_finish(h, 16);
  }
  const auto* p = reinterpret_cast<const uint8_t*>(&key);
  for (int i = 0; i < 10; ++i) h = flow_hash_round(h, flow_hash_word(p + 4 * i));
  return flow_hash_finish(h, 40);
}

}  // namespace anylb
