#include "maglev.h"

#include <algorithm>
#include <string>

#include "abi.h"
#include "flow_hash.h"

namespace anylb {
namespace {

// Fixed seeds: permutations must not depend on anything but the address, or
// two nodes with different settings would disagree. Any two distinct values do.
constexpr uint32_t kOffsetSeed = 0x4d61676cu;  // "Magl"
constexpr uint32_t kSkipSeed = 0x65764f66u;

}  // namespace

bool is_prime(uint32_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint32_t d = 3; uint64_t{d} * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

MaglevPermutation maglev_permutation(const IpAddress& address, uint32_t table_size) {
  // Hash the address together with its family so 10.0.0.1 and ::a00:1 differ.
  uint8_t id[17];
  std::copy(address.bytes.begin(), address.bytes.end(), id);
  id[16] = address.family;
  const uint32_t offset = murmur3_32({id, sizeof id}, kOffsetSeed) % table_size;
  const uint32_t skip = murmur3_32({id, sizeof id}, kSkipSeed) % (table_size - 1) + 1;
  return {offset, skip};
}

Result<MaglevBuild> build_maglev(std::span<const MaglevBackend> backends, uint32_t table_size,
                                 const MaglevTable& previous) {
  if (!is_prime(table_size)) {
    return make_error("maglev table size " + std::to_string(table_size) + ": not a prime");
  }
  // Turn order by address, so config order cannot change the table.
  std::vector<const MaglevBackend*> order;
  order.reserve(backends.size());
  for (const auto& b : backends) order.push_back(&b);
  std::sort(order.begin(), order.end(),
            [](const MaglevBackend* a, const MaglevBackend* b) { return a->address < b->address; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i]->address == order[i - 1]->address) {
      return make_error("maglev backend " + order[i]->address.to_string() + ": listed twice");
    }
  }
  {
    std::vector<uint32_t> ids;
    for (const auto& b : backends) ids.push_back(b.id);
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      return make_error("maglev backend ids: not unique");
    }
  }

  struct Walker {
    uint32_t id;
    uint32_t weight;
    uint32_t next;  // the slot this backend tries next
    uint32_t skip;
    uint64_t credit;
  };
  std::vector<Walker> walkers;
  uint32_t max_weight = 0;
  for (const auto* b : order) {
    if (b->weight == 0) continue;
    const auto perm = maglev_permutation(b->address, table_size);
    walkers.push_back({b->id, b->weight, perm.offset, perm.skip, 0});
    max_weight = std::max(max_weight, b->weight);
  }

  MaglevBuild out;
  out.table.slots.assign(table_size, ANYLB_INVALID_ID);
  if (!walkers.empty()) {
    uint32_t filled = 0;
    while (filled < table_size) {
      for (auto& w : walkers) {
        w.credit += w.weight;
        if (w.credit < max_weight) continue;
        w.credit -= max_weight;
        // Walk the permutation to this backend's next free slot. The walk
        // visits every slot (skip and M are coprime), so it ends.
        while (out.table.slots[w.next] != ANYLB_INVALID_ID) {
          w.next += w.skip;
          if (w.next >= table_size) w.next -= table_size;
        }
        out.table.slots[w.next] = w.id;
        if (++filled == table_size) break;
      }
    }
  }

  const bool comparable = previous.slots.size() == table_size;
  for (uint32_t i = 0; i < table_size; ++i) {
    if (!comparable || previous.slots[i] != out.table.slots[i]) out.changed.push_back(i);
  }
  return out;
}

}  // namespace anylb
