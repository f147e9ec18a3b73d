#include "flow_table.h"

#include <cstring>

#include "flow_key.h"

namespace anylb {

FlowTable::FlowTable(uint32_t capacity, FlowTimeoutsMs timeouts) : timeouts_(timeouts) {
  uint32_t buckets = 1;
  while (uint64_t{buckets} * kWays < capacity && buckets < (1u << 28)) buckets <<= 1;
  mask_ = buckets - 1;
  buckets_ = std::make_unique<Bucket[]>(buckets);
  entries_ = std::make_unique<FlowEntry[]>(uint64_t{buckets} * kWays);
  clear();
}

void FlowTable::clear() {
  std::memset(static_cast<void*>(buckets_.get()), 0, sizeof(Bucket) * (uint64_t{mask_} + 1));
}

bool FlowTable::expired(const Bucket& b, int way, uint32_t now_ms) const {
  // Unsigned difference: correct across the 49-day wrap of the ms clock for any
  // entry seen within the last 2^31 ms.
  const uint32_t idle = now_ms - b.seen[way];
  return idle > timeouts_.for_state(entries_[(&b - buckets_.get()) * kWays + way].state);
}

FlowEntry* FlowTable::lookup(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms) {
  const uint32_t bi = hash & mask_;
  Bucket& b = buckets_[bi];
  const uint32_t sig = signature(hash);
  for (int w = 0; w < kWays; ++w) {
    if (b.sig[w] != sig) continue;
    FlowEntry& e = entries_[uint64_t{bi} * kWays + w];
    if (!(e.key == key)) continue;
    if (expired(b, w, now_ms)) {
      b.sig[w] = 0;
      ++stats_.expirations;
      break;
    }
    b.seen[w] = now_ms;
    ++stats_.hits;
    return &e;
  }
  ++stats_.misses;
  return nullptr;
}

const FlowEntry* FlowTable::peek(const anylb_flow_key& key, uint32_t hash,
                                uint32_t now_ms) const {
  const uint32_t bi = hash & mask_;
  const Bucket& b = buckets_[bi];
  const uint32_t sig = signature(hash);
  for (int w = 0; w < kWays; ++w) {
    if (b.sig[w] != sig) continue;
    const FlowEntry& e = entries_[uint64_t{bi} * kWays + w];
    if (e.key == key) return expired(b, w, now_ms) ? nullptr : &e;
  }
  return nullptr;
}

FlowEntry* FlowTable::insert(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms,
                             uint32_t backend_id, uint32_t vip_id, uint8_t state) {
  const uint32_t bi = hash & mask_;
  Bucket& b = buckets_[bi];
  // Prefer an empty way, then an expired one, then the least recently seen.
  int victim = -1;
  int oldest = 0;
  for (int w = 0; w < kWays; ++w) {
    if (b.sig[w] == 0) {
      victim = w;
      break;
    }
    if (expired(b, w, now_ms)) {
      b.sig[w] = 0;
      ++stats_.expirations;
      victim = w;
      break;
    }
    if (now_ms - b.seen[w] > now_ms - b.seen[oldest]) oldest = w;
  }
  if (victim < 0) {
    victim = oldest;
    ++stats_.evictions;
  }
  b.sig[victim] = signature(hash);
  b.seen[victim] = now_ms;
  FlowEntry& e = entries_[uint64_t{bi} * kWays + victim];
  e.key = key;
  e.backend_id = backend_id;
  e.vip_id = vip_id;
  e.state = state;
  ++stats_.inserts;
  return &e;
}

uint64_t FlowTable::count_live(uint32_t now_ms) const {
  uint64_t live = 0;
  for (uint64_t bi = 0; bi <= mask_; ++bi) {
    for (int w = 0; w < kWays; ++w) {
      if (buckets_[bi].sig[w] != 0 && !expired(buckets_[bi], w, now_ms)) ++live;
    }
  }
  return live;
}

}  // namespace anylb
