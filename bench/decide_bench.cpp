// The whole per-packet decision: parse, VIP lookup, flow hash, flow table,
// Maglev, encapsulation, counters, as the DPDK driver calls it.
//
// decide() rewrites the frame in place, so every iteration first restores it
// (FrameArena::restore: a 14-byte copy of the Ethernet header and a reset of
// the PacketBuffer; see bench_state.h, and verify_restore() which checks in
// setup that a restored frame is byte-identical and decides identically).
// THE BM_Decide* FIGURES INCLUDE THAT RESTORE; BM_FrameRestore times it alone.
#include <algorithm>
#include <array>
#include <map>

#include "bench/bench_state.h"

namespace anylb::bench {
namespace {

constexpr uint32_t kFlowTableCapacity = 1u << 20;  // per core

// The restore alone, over the 65536-frame arena the decide benchmarks use.
void BM_FrameRestore(benchmark::State& state) {
  std::mt19937_64 rng(kSeed);
  FrameArena frames = make_arena(make_flows(65536, v4_vips(), rng), kTcpAck);
  const size_t mask = frames.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    PacketBuffer buf = frames.restore(i);
    benchmark::DoNotOptimize(buf);
    benchmark::ClobberMemory();
    i = (i + 1) & mask;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_FrameRestore);

// One timed pass over a fixture's frames; returns how many decisions took `path`.
template <typename BeforeDecide>
uint64_t run(benchmark::State& state, DecideFixture& fx, DecisionPath path,
             BeforeDecide&& before) {
  const size_t mask = fx.frames.size() - 1;
  size_t i = 0;
  uint64_t on_path = 0;
  for (auto _ : state) {
    PacketBuffer buf = fx.frames.restore(i);
    before(buf);
    const Decision d = decide(buf, fx.state, fx.flows, fx.now_ms, *fx.counters);
    benchmark::DoNotOptimize(d);
    benchmark::DoNotOptimize(buf);
    on_path += d.path == path;
    i = (i + 1) & mask;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  return on_path;
}

double ratio(uint64_t part, const benchmark::State& state) {
  return static_cast<double>(part) / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
}

// ---- (a) established flows: flow-table hits.
//
// `flows` distinct client flows in a 1M-entry table; every flow ran once
// before timing. 65536 flows is the realistic case: the touched flow-table
// lines (two per flow) and frames do not fit in L2 and partly not in L3. 4096
// flows fit in L3; 256 fit in L1/L2: that one is the compute-only floor.
//   v4:   TCP ACK segments to web:80 and web-tls:443, UDP to dns:53, in turn
//         (IPIP 4in4 and GUE 4in4).
//   v6:   TCP ACK segments to web6:443 (IPIP 6in6).
//   quic_1200B: 1200-byte UDP payloads to quic:443, GUE 4in6: the outer IPv6
//         UDP checksum is computed over the whole inner packet.
enum class Traffic { V4, V6, Quic };

DecideFixture& established_fixture(int64_t flows, Traffic traffic) {
  static std::map<std::pair<int64_t, Traffic>, DecideFixture*> fixtures;
  DecideFixture*& fx = fixtures[{flows, traffic}];
  if (fx == nullptr) {
    std::mt19937_64 rng(kSeed);
    const auto n = static_cast<size_t>(flows);
    FrameArena arena =
        traffic == Traffic::V4   ? make_arena(make_flows(n, v4_vips(), rng), kTcpAck)
        : traffic == Traffic::V6 ? make_arena(make_flows(n, v6_vip(), rng), kTcpAck)
                                 : make_arena(make_flows(n, quic_vip(), rng), 0, 1200);
    fx = new DecideFixture(kFlowTableCapacity, std::move(arena));
    verify_restore(*fx, ANYLB_VERDICT_TX);  // also the warm-up: inserts every flow
  }
  return *fx;
}

void BM_DecideEstablished(benchmark::State& state, Traffic traffic) {
  DecideFixture& fx = established_fixture(state.range(0), traffic);
  const uint64_t hits = run(state, fx, DecisionPath::FlowHit, [](PacketBuffer&) {});
  state.counters["flow_hit_ratio"] = ratio(hits, state);
  state.counters["target_ns"] = kTargetDecideNs;
}
BENCHMARK_CAPTURE(BM_DecideEstablished, v4, Traffic::V4)
    ->ArgName("flows")->Arg(65536)->Arg(4096)->Arg(256);
BENCHMARK_CAPTURE(BM_DecideEstablished, v6, Traffic::V6)->ArgName("flows")->Arg(65536);
BENCHMARK_CAPTURE(BM_DecideEstablished, quic_1200B, Traffic::Quic)->ArgName("flows")->Arg(4096);

// The same established flows through decide_burst() in bursts of kMaxBurst,
// as the DPDK driver calls it: the flow-table lines of a burst are prefetched
// before any packet needs them, so their cache misses overlap. Items are
// packets; the restore of all 32 frames is inside the timing.
void BM_DecideBurstEstablished(benchmark::State& state, Traffic traffic) {
  DecideFixture& fx = established_fixture(state.range(0), traffic);
  const size_t n = fx.frames.size();
  std::array<PacketBuffer, kMaxBurst> bufs;
  std::array<Decision, kMaxBurst> out;
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < kMaxBurst; ++k) bufs[k] = fx.frames.restore((i + k) % n);
    decide_burst(bufs, fx.state, fx.flows, fx.now_ms, *fx.counters, out);
    for (const auto& d : out) hits += d.path == DecisionPath::FlowHit;
    benchmark::DoNotOptimize(out);
    i = (i + kMaxBurst) % n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMaxBurst));
  state.counters["flow_hit_ratio"] =
      static_cast<double>(hits) / static_cast<double>(std::max<int64_t>(state.iterations(), 1) * kMaxBurst);
  state.counters["target_ns"] = kTargetDecideNs;
}
BENCHMARK_CAPTURE(BM_DecideBurstEstablished, v4, Traffic::V4)
    ->ArgName("flows")->Arg(65536)->Arg(4096)->Arg(256);
BENCHMARK_CAPTURE(BM_DecideBurstEstablished, v6, Traffic::V6)->ArgName("flows")->Arg(65536);

// ---- (b) new IPv4 flows: flow-table miss, Maglev, insert.
//
// 65536 frames (TCP SYN to web:80 and web-tls:443, UDP to dns:53), each given
// a client address never used before just before decide() (one 4-byte store
// next to the restored Ethernet header, same cache line; the IPv4 header
// checksum goes stale, which the parser does not look at): every packet is a
// flow the table has not seen. The 1M-entry table is at steady state (filled
// by 2M packets before timing). The ms clock advances one tick every
// `pkts_per_ms` packets:
//   1024: SYN entries (5 s timeout) outlive the table's capacity, so the table
//         is full of live flows and each insert evicts one (SYN flood).
//    16:  entries expire after 80K packets: inserts reuse expired ways.
// evict_ratio / expire_ratio report what the table did.
struct NewFlowFixture {
  DecideFixture fx;
  uint32_t pkts_per_ms;
  uint64_t n = 0;
  uint32_t base_ms;

  NewFlowFixture(FrameArena arena, uint32_t ppm)
      : fx(kFlowTableCapacity, std::move(arena)), pkts_per_ms(ppm), base_ms(fx.now_ms) {}

  // Before each decide(): a fresh client address and the clock.
  void next(PacketBuffer& buf) {
    const uint32_t client = 0x64400000u + static_cast<uint32_t>(n);  // from 100.64.0.0 up
    std::memcpy(buf.data + 14 + 12, &client, 4);
    fx.now_ms = base_ms + static_cast<uint32_t>(n / pkts_per_ms);
    ++n;
  }
};

NewFlowFixture& new_flow_fixture(int64_t pkts_per_ms) {
  static std::map<int64_t, NewFlowFixture*> fixtures;
  NewFlowFixture*& nf = fixtures[pkts_per_ms];
  if (nf == nullptr) {
    std::mt19937_64 rng(kSeed);
    nf = new NewFlowFixture(make_arena(make_flows(65536, v4_vips(), rng), kTcpSyn),
                            static_cast<uint32_t>(pkts_per_ms));
    verify_restore(nf->fx, ANYLB_VERDICT_TX);
    const size_t mask = nf->fx.frames.size() - 1;
    for (size_t i = 0; i < 2 * size_t{kFlowTableCapacity}; ++i) {
      PacketBuffer buf = nf->fx.frames.restore(i & mask);
      nf->next(buf);
      decide(buf, nf->fx.state, nf->fx.flows, nf->fx.now_ms, *nf->fx.counters);
    }
  }
  return *nf;
}

void BM_DecideNewFlow(benchmark::State& state) {
  NewFlowFixture& nf = new_flow_fixture(state.range(0));
  const FlowTableStats before = nf.fx.flows.stats();
  const uint64_t new_flows =
      run(state, nf.fx, DecisionPath::NewFlow, [&nf](PacketBuffer& buf) { nf.next(buf); });
  const FlowTableStats& after = nf.fx.flows.stats();
  state.counters["new_flow_ratio"] = ratio(new_flows, state);
  state.counters["evict_ratio"] = ratio(after.evictions - before.evictions, state);
  state.counters["expire_ratio"] = ratio(after.expirations - before.expirations, state);
}
BENCHMARK(BM_DecideNewFlow)->ArgName("pkts_per_ms")->Arg(1024)->Arg(16);

// ---- (c) not for a VIP: parse, one address-index miss, pass.
void BM_DecidePass(benchmark::State& state) {
  static DecideFixture* fx = [] {
    std::mt19937_64 rng(kSeed);
    auto* f = new DecideFixture(4096, make_arena(make_flows(65536, non_vip(), rng), kTcpAck));
    verify_restore(*f, ANYLB_VERDICT_PASS);
    return f;
  }();
  run(state, *fx, DecisionPath::None, [](PacketBuffer&) {});
}
BENCHMARK(BM_DecidePass);

}  // namespace
}  // namespace anylb::bench
