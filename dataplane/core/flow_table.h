// The per-core flow table: which backend each live flow was sent to, so that a
// flow stays on its backend when the Maglev table changes under it.
//
// Set-associative with two choices: a flow may live in either of two buckets
// of kWays entries (picked by two functions of its hash), and is inserted into
// the first with a free way. A bucket's signatures and last-seen stamps share
// one cache line and the entries sit in a parallel array, so a hit in the first
// bucket touches two lines. One bucket alone overflows early (at half load a
// Poisson(4) bucket exceeds 8 ways for ~0.8% of flows); two choices keep
// evictions negligible until the table is nearly full. When both buckets are
// full the least recently seen of their 2 x kWays entries is evicted: LRU
// within the candidate set, as per-CPU LRU maps and caches do it (exact global
// LRU would cost a list relink, two more cache lines, on every hit). Entries
// idle longer than their state's timeout count as absent.
//
// All memory is allocated by the constructor; nothing after. One writer (the
// core that owns it); no locks.
#pragma once

#include <cstdint>
#include <memory>

#include "abi.h"
#include "prefetch.h"
#include "table_memory.h"

namespace anylb {

struct FlowTimeoutsMs {
  uint32_t tcp_syn = 5'000;
  uint32_t tcp_established = 300'000;
  uint32_t tcp_closing = 10'000;
  uint32_t udp = 30'000;
  uint32_t other = 30'000;

  uint32_t for_state(uint8_t state) const {
    switch (state) {
      case ANYLB_FLOW_TCP_SYN: return tcp_syn;
      case ANYLB_FLOW_TCP_ESTABLISHED: return tcp_established;
      case ANYLB_FLOW_TCP_CLOSING: return tcp_closing;
      case ANYLB_FLOW_UDP: return udp;
      default: return other;
    }
  }
};

struct alignas(64) FlowEntry {
  anylb_flow_key key;
  uint32_t backend_id;
  uint32_t vip_id;
  uint8_t state;  // anylb_flow_state
};

struct FlowTableStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t inserts = 0;
  uint64_t evictions = 0;  // a live entry pushed out by a new flow
  uint64_t expirations = 0;  // an idle entry found past its timeout
};

class FlowTable {
 public:
  static constexpr int kWays = 8;

  // capacity is rounded up to a power of two >= kWays.
  FlowTable(uint32_t capacity, FlowTimeoutsMs timeouts);

  uint32_t capacity() const { return (mask_ + 1) * kWays; }
  const FlowTableStats& stats() const { return stats_; }
  const FlowTimeoutsMs& timeouts() const { return timeouts_; }
  void set_timeouts(const FlowTimeoutsMs& t) { timeouts_ = t; }

  // The live entry for key, refreshed to now_ms; nullptr on a miss (absent or
  // idle past its timeout). The caller may update backend_id/state in place.
  FlowEntry* lookup(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms);

  // The live entry for key without refreshing it or counting: for packets that
  // should follow a flow but not keep it alive (ICMP errors about it).
  const FlowEntry* peek(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms) const;

  // Adds an entry for a key that lookup() just missed; evicts the bucket's
  // least recently seen entry when it is full. Returns the stored entry.
  FlowEntry* insert(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms,
                    uint32_t backend_id, uint32_t vip_id, uint8_t state);

  // Hints for burst processing: start loading the lines a lookup of this hash
  // will read. prefetch_bucket first; prefetch_entry once that line is likely
  // in cache (it reads it to find which entry line to load).
  void prefetch_bucket(uint32_t hash) const { prefetch_line(&buckets_[first_bucket(hash)]); }
  void prefetch_entry(uint32_t hash) const {
    const Bucket& b = buckets_[first_bucket(hash)];
    const uint32_t sig = signature(hash);
    for (int w = 0; w < kWays; ++w) {
      if (b.sig[w] == sig) {
        prefetch_line(&entries_[uint64_t{first_bucket(hash)} * kWays + w]);
        return;
      }
    }
    prefetch_line(&buckets_[second_bucket(hash)]);
  }

  // Removes every entry (operator "flush"); keeps the memory.
  void clear();
  // Number of entries still live at now_ms (walks the whole table: not for the fast path).
  uint64_t count_live(uint32_t now_ms) const;

 private:
  struct alignas(64) Bucket {
    uint32_t sig[kWays];   // 0 = empty
    uint32_t seen[kWays];  // ms clock of the last packet
  };
  static_assert(sizeof(Bucket) == 64);

  static uint32_t signature(uint32_t hash) { return hash == 0 ? 1 : hash; }
  uint32_t first_bucket(uint32_t hash) const { return hash & mask_; }
  // The second choice mixes the high bits, so flows sharing a first bucket
  // spread over different second ones.
  uint32_t second_bucket(uint32_t hash) const {
    return ((hash >> 16 | hash << 16) * 0x9e3779b1u) & mask_;
  }
  bool expired(uint32_t bucket, int way, uint32_t now_ms) const;
  FlowEntry* find_in(uint32_t bucket, const anylb_flow_key& key, uint32_t sig, int& way) const;

  uint32_t mask_;  // bucket count - 1
  FlowTimeoutsMs timeouts_;
  TableMemory bucket_memory_;
  TableMemory entry_memory_;
  Bucket* buckets_;     // in bucket_memory_
  FlowEntry* entries_;  // in entry_memory_
  FlowTableStats stats_;
};

}  // namespace anylb
