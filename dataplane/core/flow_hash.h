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
// instruction set lacks: the rounds are C in abi_hash.h, which the BPF
// program includes too (a test checks the two hashes against each other). The seed is the same on every
// node of a PoP: each node then maps a flow to the same Maglev slot.
#pragma once

#include <cstdint>
#include <span>

#include "abi.h"
#include "abi_hash.h"

namespace anylb {

uint32_t murmur3_32(std::span<const uint8_t> data, uint32_t seed);

inline uint32_t flow_hash_word(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

inline uint32_t flow_hash(const anylb_flow_key& key, uint32_t seed) {
  uint32_t h = seed;
  if (key.family == 4) {
    h = anylb_murmur3_round(h, flow_hash_word(key.src));
    h = anylb_murmur3_round(h, flow_hash_word(key.dst));
    h = anylb_murmur3_round(h, flow_hash_word(reinterpret_cast<const uint8_t*>(&key.sport)));
    h = anylb_murmur3_round(h, flow_hash_word(&key.proto));
    return anylb_murmur3_finish(h, 16);
  }
  const auto* p = reinterpret_cast<const uint8_t*>(&key);
  for (int i = 0; i < 10; ++i) h = anylb_murmur3_round(h, flow_hash_word(p + 4 * i));
  return anylb_murmur3_finish(h, 40);
}

}  // namespace anylb
