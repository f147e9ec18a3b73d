// Maglev consistent hashing (Eisenbud et al., NSDI 2016), weighted.
//
// A table of M slots (M prime) maps a flow hash to a backend: slot = hash % M.
// Each backend walks its own permutation of the slots, (offset + j * skip) % M,
// and the backends take turns claiming the next free slot of their walk until
// the table is full. Permutations come from the backend's address, and the
// turn order from the sorted addresses, so the same backend set yields the
// same table on every node whatever order the config lists it in.
//
// Weights: each round, a backend earns its weight in credit and claims one slot
// per `max_weight` of credit, so shares follow the weights while every backend
// keeps walking its own permutation (removing one still moves only its slots,
// plus the few the paper's scheme always moves).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ip_address.h"
#include "result.h"

namespace anylb {

struct MaglevBackend {
  uint32_t id = 0;  // what the table stores; stable across rebuilds
  IpAddress address;
  uint32_t weight = 0;  // 0: not in the table
};

struct MaglevTable {
  // slots[i] is the id of the backend owning slot i, or ANYLB_INVALID_ID when
  // no backend has weight (then every slot is empty).
  std::vector<uint32_t> slots;
  bool operator==(const MaglevTable&) const = default;
};

struct MaglevBuild {
  MaglevTable table;
  // Slots whose backend differs from the previous table (all slots when the
  // previous one was empty or of another size), ascending.
  std::vector<uint32_t> changed;
};

// The permutation's starting slot and step for a backend; exposed for tests
// and for the builder's documentation.
struct MaglevPermutation {
  uint32_t offset;
  uint32_t skip;  // 1 .. M-1
};
MaglevPermutation maglev_permutation(const IpAddress& address, uint32_t table_size);

bool is_prime(uint32_t n);

// Builds the table for `backends` (ids and addresses must be unique). Errors:
// table size not prime or < 2, duplicate address, duplicate id.
Result<MaglevBuild> build_maglev(std::span<const MaglevBackend> backends, uint32_t table_size,
                                 const MaglevTable& previous);

inline uint32_t maglev_slot(uint32_t flow_hash, uint32_t table_size) {
  return flow_hash % table_size;
}

}  // namespace anylb
