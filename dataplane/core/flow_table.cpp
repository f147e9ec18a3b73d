#include "flow_table.h"

#include <algorithm>

#include <cstring>

#include "flow_key.h"

namespace anylb {

uint32_t FlowTable::buckets_for(uint32_t capacity) {
  uint32_t buckets = 1;
  while (uint64_t{buckets} * kWays < capacity && buckets < (1u << 28)) buckets <<= 1;
  return buckets;
}

FlowTable::FlowTable(uint32_t capacity, FlowTimeoutsMs timeouts) : timeouts_(timeouts) {
  const uint32_t buckets = buckets_for(capacity);
  mask_ = buckets - 1;
  memory_ = allocate_table_memory(sizeof(Group) * uint64_t{buckets});
  groups_ = static_cast<Group*>(memory_.get());  // zeroed memory: valid empty buckets
}

void FlowTable::clear() {
  for (uint64_t b = 0; b <= mask_; ++b) groups_[b].bucket = Bucket{};
}

FlowEntry* FlowTable::find_in(uint32_t bucket, const anylb_flow_key& key, uint32_t sig,
                              int& way) const {
  const Bucket& b = this->bucket(bucket);
  for (int w = 0; w < kWays; ++w) {
    if (b.sig[w] != sig) continue;
    FlowEntry& e = entry(bucket, w);
    if (e.key == key) {
      way = w;
      return &e;
    }
  }
  return nullptr;
}

FlowEntry* FlowTable::lookup(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms) {
  const uint32_t sig = signature(hash);
  for (const uint32_t bi : {first_bucket(hash), second_bucket(hash)}) {
    int w = 0;
    FlowEntry* e = find_in(bi, key, sig, w);
    if (e == nullptr) continue;
    if (expired(bucket(bi), w, now_ms)) {
      bucket(bi).sig[w] = 0;
      ++stats_.expirations;
      break;
    }
    bucket(bi).deadline[w] = now_ms + timeouts_.for_state(e->state);
    ++stats_.hits;
    return e;
  }
  ++stats_.misses;
  return nullptr;
}

void FlowTable::set_state(FlowEntry* e, uint8_t state, uint32_t now_ms) {
  const auto offset = static_cast<uint64_t>(reinterpret_cast<const char*>(e) -
                                            reinterpret_cast<const char*>(groups_));
  Group& g = groups_[offset / sizeof(Group)];
  e->state = state;
  g.bucket.deadline[e - g.entry] = now_ms + timeouts_.for_state(state);
}

const FlowEntry* FlowTable::peek(const anylb_flow_key& key, uint32_t hash,
                                 uint32_t now_ms) const {
  const uint32_t sig = signature(hash);
  for (const uint32_t bi : {first_bucket(hash), second_bucket(hash)}) {
    int w = 0;
    if (const FlowEntry* e = find_in(bi, key, sig, w)) {
      return expired(bucket(bi), w, now_ms) ? nullptr : e;
    }
  }
  return nullptr;
}

FlowEntry* FlowTable::insert(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms,
                             uint32_t backend_id, uint32_t vip_id, uint8_t state) {
  // A free or expired way in the first bucket, then in the second; else the
  // entry of both closest to its deadline.
  uint32_t victim_bucket = 0;
  int victim_way = -1;
  uint32_t oldest_bucket = first_bucket(hash);
  int oldest_way = 0;
  for (const uint32_t bi : {first_bucket(hash), second_bucket(hash)}) {
    Bucket& b = bucket(bi);
    for (int w = 0; w < kWays && victim_way < 0; ++w) {
      if (b.sig[w] == 0) {
        victim_bucket = bi;
        victim_way = w;
      } else if (expired(b, w, now_ms)) {
        b.sig[w] = 0;
        ++stats_.expirations;
        victim_bucket = bi;
        victim_way = w;
      } else if (static_cast<int32_t>(b.deadline[w] - now_ms) <
                 static_cast<int32_t>(bucket(oldest_bucket).deadline[oldest_way] - now_ms)) {
        oldest_bucket = bi;
        oldest_way = w;
      }
    }
    if (victim_way >= 0) break;
  }
  if (victim_way < 0) {
    victim_bucket = oldest_bucket;
    victim_way = oldest_way;
    ++stats_.evictions;
  }
  Bucket& b = bucket(victim_bucket);
  b.sig[victim_way] = signature(hash);
  b.deadline[victim_way] = now_ms + timeouts_.for_state(state);
  FlowEntry& e = entry(victim_bucket, victim_way);
  e = FlowEntry{};
  e.key = key;
  e.backend_id = backend_id;
  e.vip_id = vip_id;
  e.state = state;
  ++stats_.inserts;
  return &e;
}

uint64_t FlowTable::estimate_live(uint32_t now_ms, uint32_t sample_buckets) const {
  const uint32_t buckets = mask_ + 1;
  const uint32_t n = std::min(sample_buckets, buckets);
  if (n == 0) return 0;
  uint64_t live = 0;
  for (uint32_t bi = 0; bi < n; ++bi) {
    for (int w = 0; w < kWays; ++w) {
      if (bucket(bi).sig[w] != 0 && !expired(bucket(bi), w, now_ms)) ++live;
    }
  }
  return live * buckets / n;
}

uint64_t FlowTable::count_live(uint32_t now_ms) const {
  uint64_t live = 0;
  for (uint64_t bi = 0; bi <= mask_; ++bi) {
    for (int w = 0; w < kWays; ++w) {
      const Bucket& b = bucket(static_cast<uint32_t>(bi));
      if (b.sig[w] != 0 && !expired(b, w, now_ms)) ++live;
    }
  }
  return live;
}

}  // namespace anylb
