// The per-core flow table: which backend each live flow was sent to, so that a
// flow stays on its backend when the Maglev table changes under it.
//
// Set-associative with two choices: a flow may live in either of two buckets
// of kWays entries (picked by two functions of its hash), and is inserted into
// the first with a free way. A bucket's signatures and deadlines share one
// cache line and the entries sit in a parallel array, so a hit in the first
// bucket touches two lines. One bucket alone overflows early (at half load a
// Poisson(4) bucket exceeds 8 ways for ~0.8% of flows); two choices keep
// evictions negligible until the table is nearly full.
//
// Each way keeps its deadline (last packet + its state's idle timeout), not
// its last-seen time: expiry and eviction then read only the bucket line, and
// an insert into a full pair of buckets touches no entry line but the victim's.
// The victim is the entry of the 2 x kWays closest to expiry: among entries of
// one state that is the least recently seen (LRU within the candidate set, as
// per-CPU LRU maps and caches do it), and a half-open SYN goes before an
// established flow seen as long ago. The layout is the ABI's
// (anylb_flow_bucket, anylb_flow_entry): the XDP program walks the same table.
//
// All memory is allocated by the constructor; nothing after. One writer (the
// core that owns it); no locks.
#pragma once

#include <cstdint>
#include <memory>

#include "abi.h"
#include "abi_hash.h"
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

using FlowEntry = anylb_flow_entry;
static_assert(sizeof(FlowEntry) == 64, "one cache line per entry");

struct FlowTableStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t inserts = 0;
  uint64_t evictions = 0;  // a live entry pushed out by a new flow
  uint64_t expirations = 0;  // an idle entry found past its timeout
};

class FlowTable {
 public:
  static constexpr int kWays = ANYLB_FLOW_WAYS;

  // capacity is rounded up to a power of two >= kWays.
  FlowTable(uint32_t capacity, FlowTimeoutsMs timeouts);

  // The number of buckets (a power of two) a table of `capacity` has; the
  // XDP loader sizes its per-CPU tables with it.
  static uint32_t buckets_for(uint32_t capacity);

  uint32_t capacity() const { return (mask_ + 1) * kWays; }
  const FlowTableStats& stats() const { return stats_; }
  const FlowTimeoutsMs& timeouts() const { return timeouts_; }
  void set_timeouts(const FlowTimeoutsMs& t) { timeouts_ = t; }

  // The live entry for key, its deadline renewed from now_ms; nullptr on a
  // miss (absent or idle past its timeout). The caller may update backend_id
  // in place; a state change goes through set_state().
  FlowEntry* lookup(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms);

  // Moves a live entry (from lookup or insert) to another state, and its
  // deadline to now_ms plus that state's timeout.
  void set_state(FlowEntry* e, uint8_t state, uint32_t now_ms);

  // The live entry for key without refreshing it or counting: for packets that
  // should follow a flow but not keep it alive (ICMP errors about it).
  const FlowEntry* peek(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms) const;

  // Adds an entry for a key that lookup() just missed; when both buckets are
  // full, evicts the live entry closest to expiry. Returns the stored entry.
  FlowEntry* insert(const anylb_flow_key& key, uint32_t hash, uint32_t now_ms,
                    uint32_t backend_id, uint32_t vip_id, uint8_t state);

  // Hints for burst processing: start loading the lines a lookup of this hash
  // will read. prefetch_bucket first; prefetch_entry once that line is likely
  // in cache (it reads it to find which entry line to load).
  void prefetch_bucket(uint32_t hash) const { prefetch_line(&groups_[first_bucket(hash)].bucket); }
  // A real (volatile, so kept) load of the first bucket line: for bursts,
  // where a dropped prefetch costs more than a load that waits (decide_burst).
  void load_bucket(uint32_t hash) const {
    (void)*static_cast<const volatile uint32_t*>(&groups_[first_bucket(hash)].bucket.sig[0]);
  }
  void prefetch_entry(uint32_t hash) const {
    const Group& g = groups_[first_bucket(hash)];
    const uint32_t sig = signature(hash);
    for (int w = 0; w < kWays; ++w) {
      if (g.bucket.sig[w] == sig) {
        prefetch_line(&g.entry[w]);
        return;
      }
    }
    prefetch_line(&groups_[second_bucket(hash)].bucket);
  }

  // Removes every entry (operator "flush"); keeps the memory. Timeouts set
  // later apply from each entry's next packet.
  void clear();
  // Number of entries still live at now_ms (walks the whole table: not for the fast path).
  uint64_t count_live(uint32_t now_ms) const;
  // The same, estimated from the first `sample_buckets` buckets (flows land
  // in buckets by hash, so any run of buckets is a fair sample): for metrics,
  // without walking 72 MiB per scrape.
  uint64_t estimate_live(uint32_t now_ms, uint32_t sample_buckets) const;

 private:
  using Bucket = anylb_flow_bucket;
  using Group = anylb_flow_group;
  static_assert(sizeof(Bucket) == 64, "one cache line per bucket");
  static_assert(sizeof(Group) == 64 * (1 + kWays), "a bucket line and its entry lines");
  Bucket& bucket(uint32_t b) const { return groups_[b].bucket; }
  FlowEntry& entry(uint32_t b, int way) const { return groups_[b].entry[way]; }

  static uint32_t signature(uint32_t hash) { return anylb_flow_signature(hash); }
  uint32_t first_bucket(uint32_t hash) const { return anylb_flow_first_bucket(hash, mask_); }
  uint32_t second_bucket(uint32_t hash) const { return anylb_flow_second_bucket(hash, mask_); }
  static bool expired(const Bucket& b, int way, uint32_t now_ms) {
    return anylb_flow_expired(b.deadline[way], now_ms);
  }
  FlowEntry* find_in(uint32_t bucket, const anylb_flow_key& key, uint32_t sig, int& way) const;

  uint32_t mask_;  // bucket count - 1
  FlowTimeoutsMs timeouts_;
  TableMemory memory_;
  Group* groups_;  // in memory_
  FlowTableStats stats_;
};

}  // namespace anylb
