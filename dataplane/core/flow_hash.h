// The flow hash both fast paths compute: MurmurHash3 x86_32 over the 40-byte
// flow key read as ten little-endian 32-bit words, seeded from config.
//
// Why this function: it is cheap (ten multiply-rotate rounds, no table, no
// data-dependent loop), it mixes every input bit into every output bit so that
// `hash % M` spreads over a prime Maglev table, and it needs nothing the BPF
// instruction set lacks, so xdp/ writes the same ten rounds and must get the
// same value (a test checks them against each other). The seed is the same on
// every node of a PoP: each node then maps a flow to the same Maglev slot.
#pragma once

#include <cstdint>
#include <span>

#include "abi.h"

namespace anylb {

uint32_t murmur3_32(std::span<const uint8_t> data, uint32_t seed);

inline uint32_t flow_hash_rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline uint32_t flow_hash(const anylb_flow_key& key, uint32_t seed) {
  constexpr uint32_t c1 = 0xcc9e2d51u;
  constexpr uint32_t c2 = 0x1b873593u;
  const auto* p = reinterpret_cast<const uint8_t*>(&key);
  uint32_t h = seed;
  for (int i = 0; i < 10; ++i) {
    uint32_t k = uint32_t{p[4 * i]} | (uint32_t{p[4 * i + 1]} << 8) |
                 (uint32_t{p[4 * i + 2]} << 16) | (uint32_t{p[4 * i + 3]} << 24);
    k *= c1;
    k = flow_hash_rotl(k, 15);
    k *= c2;
    h ^= k;
    h = flow_hash_rotl(h, 13);
    h = h * 5 + 0xe6546b64u;
  }
  h ^= 40u;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

}  // namespace anylb
