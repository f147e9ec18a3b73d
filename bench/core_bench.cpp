// Micro-benchmarks of the pieces of the per-packet decision: parsing, the flow
// hash, the Maglev lookup and build, the flow table. The whole decision is in
// decide_bench.cpp.
//
// Every per-item benchmark walks a set of distinct, pre-built inputs (4096 to
// 4M of them) rather than one, so that figures include the cache misses a
// real mix of flows causes, and reports items/s.
#include <algorithm>
#include <map>
#include <numeric>

#include "bench/bench_state.h"
#include "dataplane/core/maglev.h"

namespace anylb::bench {
namespace {

// ---- parse_frame

enum class ParseKind { Tcp4, Tcp6Ext, Udp4 };
constexpr size_t kParseFrames = 4096;

const FrameArena& parse_arena(ParseKind kind) {
  static std::map<ParseKind, std::unique_ptr<FrameArena>> cache;
  auto& slot = cache[kind];
  if (slot) return *slot;
  std::mt19937_64 rng(kSeed);
  switch (kind) {
    case ParseKind::Tcp4:
      slot = std::make_unique<FrameArena>(
          make_arena(make_flows(kParseFrames, {{addr("192.0.2.10"), 80, kTcp}}, rng), kTcpAck));
      break;
    case ParseKind::Udp4:
      slot = std::make_unique<FrameArena>(
          make_arena(make_flows(kParseFrames, {{addr("192.0.2.53"), 53, kUdp}}, rng), 0));
      break;
    case ParseKind::Tcp6Ext: {
      const auto keys = make_flows(kParseFrames, v6_vip(), rng);
      slot = std::make_unique<FrameArena>(kParseFrames);
      for (size_t i = 0; i < keys.size(); ++i) {
        const auto f = tcp6_with_dest_opts(keys[i], kTcpAck);
        slot->set(i, f.data(), static_cast<uint32_t>(f.size()));
      }
      slot->finalize();
      break;
    }
  }
  // Every frame must parse cleanly, or we would be timing an early exit.
  for (size_t i = 0; i < slot->size(); ++i) {
    PacketView v;
    if (parse_frame(slot->bytes(i), v) != ANYLB_DROP_NONE || v.key.sport == 0 ||
        (kind == ParseKind::Tcp6Ext && v.l4_offset != 14 + 40 + 8)) {
      die("parse benchmark frame " + std::to_string(i) + " does not parse as intended");
    }
  }
  return *slot;
}

void BM_ParseFrame(benchmark::State& state, ParseKind kind) {
  const FrameArena& frames = parse_arena(kind);
  const size_t mask = frames.size() - 1;
  size_t i = 0;
  PacketView view;
  for (auto _ : state) {
    const anylb_drop_reason r = parse_frame(frames.bytes(i), view);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(view);
    i = (i + 1) & mask;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_ParseFrame, tcp4, ParseKind::Tcp4);
BENCHMARK_CAPTURE(BM_ParseFrame, tcp6_ext_hdr, ParseKind::Tcp6Ext);
BENCHMARK_CAPTURE(BM_ParseFrame, udp4, ParseKind::Udp4);

// ---- flow_hash

constexpr size_t kHashKeys = 65536;

void BM_FlowHash(benchmark::State& state) {
  std::mt19937_64 rng(kSeed);
  const auto keys = make_flows(kHashKeys, v4_vips(), rng);
  size_t i = 0;
  for (auto _ : state) {
    const uint32_t h = flow_hash(keys[i], kSeed);
    benchmark::DoNotOptimize(h);
    i = (i + 1) & (kHashKeys - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_FlowHash);

// ---- Maglev

// hash % M and the slot read, on the 65537-slot table of a built state, for
// the hashes of 65536 distinct flows. M is a run-time value, as in decide().
void BM_MaglevLookup(benchmark::State& state) {
  const ForwardingState st = bench_state();
  const Vip* web = st.find_vip_by_name("web");
  if (web == nullptr || web->table.slots.size() != kTableSize) die("no 65537-slot table");
  const std::vector<uint32_t>& slots = web->table.slots;
  std::mt19937_64 rng(kSeed);
  const auto keys = make_flows(kHashKeys, v4_vips(), rng);
  std::vector<uint32_t> hashes(keys.size());
  for (size_t k = 0; k < keys.size(); ++k) hashes[k] = flow_hash(keys[k], kSeed);
  const uint32_t table_size = static_cast<uint32_t>(slots.size());
  benchmark::DoNotOptimize(table_size);
  size_t i = 0;
  for (auto _ : state) {
    const uint32_t backend = slots[maglev_slot(hashes[i], table_size)];
    benchmark::DoNotOptimize(backend);
    i = (i + 1) & (kHashKeys - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_MaglevLookup);

// A full build of an M = 65537 table for N equally weighted IPv4 backends,
// from an empty previous table (so `changed` lists every slot).
void BM_MaglevBuild(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  std::vector<MaglevBackend> backends;
  for (uint32_t i = 0; i < n; ++i) {
    backends.push_back({i, IpAddress::v4(10, static_cast<uint8_t>(i / 250),
                                         static_cast<uint8_t>(i % 250 + 1), 1),
                        100});
  }
  const MaglevTable empty;
  for (auto _ : state) {
    auto built = build_maglev(backends, kTableSize, empty);
    if (!built) die(built.error().message);
    benchmark::DoNotOptimize(built->table.slots.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));  // builds/s
  state.SetLabel("M=65537");
  if (n == 1000) state.counters["target_ms"] = kTargetMaglevBuildMs;
}
BENCHMARK(BM_MaglevBuild)->ArgName("backends")->Arg(10)->Arg(100)->Arg(1000)->Unit(
    benchmark::kMillisecond);

// ---- FlowTable

constexpr uint32_t kFlowTableCapacity = 1u << 20;

// Lookups of live flows in random order: a 1M-entry table holding 512K
// established flows. A few keys land in a bucket that was already full and
// were evicted on insert: hit_ratio says how many lookups hit.
struct HitFixture {
  FlowTable flows{kFlowTableCapacity, FlowTimeoutsMs{}};
  std::vector<anylb_flow_key> keys;  // in lookup order
  std::vector<uint32_t> hashes;
  uint32_t now_ms = 1'000'000;

  HitFixture() {
    std::mt19937_64 rng(kSeed);
    keys = make_flows(kFlowTableCapacity / 2, v4_vips(), rng);
    for (const auto& k : keys) {
      flows.insert(k, flow_hash(k, kSeed), now_ms, 0, 0, ANYLB_FLOW_TCP_ESTABLISHED);
    }
    std::shuffle(keys.begin(), keys.end(), rng);
    hashes.resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) hashes[i] = flow_hash(keys[i], kSeed);
  }
};

void BM_FlowTableHit(benchmark::State& state) {
  static HitFixture* fx = new HitFixture();
  const size_t n = fx->keys.size();
  const uint64_t hits_before = fx->flows.stats().hits;
  size_t i = 0;
  for (auto _ : state) {
    FlowEntry* e = fx->flows.lookup(fx->keys[i], fx->hashes[i], fx->now_ms);
    benchmark::DoNotOptimize(e);
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["hit_ratio"] = static_cast<double>(fx->flows.stats().hits - hits_before) /
                                static_cast<double>(std::max<uint64_t>(state.iterations(), 1));
}
BENCHMARK(BM_FlowTableHit);

// Lookup (a miss) then insert, as decide() does for a new flow, into a 1M-entry
// table at steady state, for 4M distinct keys cycled through (hashes
// precomputed; the key is written from its index, one 4-byte store). The ms
// clock advances one tick every `pkts_per_ms` packets; new entries are TCP_SYN
// (5 s timeout):
//   pkts_per_ms:1024  entries live for 5.1M inserts, more than the table holds:
//                     the table is full of live flows, each insert evicts its
//                     bucket's least recently seen one (a SYN flood).
//   pkts_per_ms:16    entries expire after 80K inserts: inserts reuse expired ways.
// The stats counters say which happened.
struct MissFixture {
  static constexpr uint32_t kKeys = 4u << 20;
  FlowTable flows{kFlowTableCapacity, FlowTimeoutsMs{}};
  anylb_flow_key key{};
  std::vector<uint32_t> hashes;
  uint32_t pkts_per_ms;
  uint64_t n = 0;  // packets so far: drives the key index and the clock

  explicit MissFixture(uint32_t ppm) : pkts_per_ms(ppm) {
    key = make_flow_key(IpAddress::v4(0, 0, 0, 0), 40000, addr("192.0.2.10"), 80, kTcp);
    hashes.resize(kKeys);
    for (uint32_t k = 0; k < kKeys; ++k) hashes[k] = flow_hash(key_for(k), kSeed);
    for (uint32_t k = 0; k < 2 * kFlowTableCapacity; ++k) step();  // fill: steady state
  }
  const anylb_flow_key& key_for(uint32_t index) {
    const uint32_t src = 0x0a000000u + index;
    std::memcpy(key.src, &src, 4);
    return key;
  }
  FlowEntry* step() {
    const uint32_t index = static_cast<uint32_t>(n % kKeys);
    const uint32_t now_ms = 1'000'000 + static_cast<uint32_t>(n / pkts_per_ms);
    ++n;
    const anylb_flow_key& k = key_for(index);
    FlowEntry* e = flows.lookup(k, hashes[index], now_ms);
    if (e == nullptr) e = flows.insert(k, hashes[index], now_ms, 0, 0, ANYLB_FLOW_TCP_SYN);
    return e;
  }
};

void BM_FlowTableMissInsert(benchmark::State& state) {
  static std::map<int64_t, MissFixture*> fixtures;
  MissFixture*& fx = fixtures[state.range(0)];
  if (fx == nullptr) fx = new MissFixture(static_cast<uint32_t>(state.range(0)));
  const FlowTableStats before = fx->flows.stats();
  for (auto _ : state) {
    FlowEntry* e = fx->step();
    benchmark::DoNotOptimize(e);
  }
  const FlowTableStats& after = fx->flows.stats();
  const double it = static_cast<double>(std::max<uint64_t>(state.iterations(), 1));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["hit_ratio"] = static_cast<double>(after.hits - before.hits) / it;
  state.counters["evict_ratio"] = static_cast<double>(after.evictions - before.evictions) / it;
  state.counters["expire_ratio"] =
      static_cast<double>(after.expirations - before.expirations) / it;
}
BENCHMARK(BM_FlowTableMissInsert)->ArgName("pkts_per_ms")->Arg(1024)->Arg(16);

}  // namespace
}  // namespace anylb::bench

BENCHMARK_MAIN();
