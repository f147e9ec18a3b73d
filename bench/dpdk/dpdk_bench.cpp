// anylb-bench-dpdk: the DPDK driver's worker loop in one process, fed by an
// in-process ring loop, beside its I/O ceiling and the core decision alone.
//
// The loop: port P = rte_eth_from_rings(rx ring A, tx ring B); its exception
// port E sends to B as well. One iteration is Worker::poll_once() (burst in
// from A, decide, burst out to B), then up to one burst moves from B back to
// A, restored (data_off and length reset, the 14-byte Ethernet header the
// encapsulation wrote over copied back; for new flows, a fresh client
// address). The restore is the generator; the same restore runs in all three
// loops, so the ratios compare like with like:
//   driver      poll_once + restore
//   io-forward  rx_burst(P) -> tx_burst(P) + restore     (the ceiling of these ports)
//   core alone  decide_burst over the same mbufs in memory + restore
// Runs go on worker lcore 1 (pinned by the EAL); runs in which the thread
// waited for its CPU (schedstat) more than 1% of the time are dropped, and so
// are rounds whose io-forward control ran below 70% of its best (the host
// slowed them: a guest's schedstat does not see that).
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>

#include "bench/bench_state.h"
#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/published_state.h"
#include "dataplane/dpdk/worker.h"

namespace anylb::bench {
namespace {

using dpdk::PublishedState;
using dpdk::Worker;

enum class Case { Established, NewFlows, NotVip };
const char* case_name(Case c) {
  switch (c) {
    case Case::Established: return "established";
    case Case::NewFlows: return "new flows";
    case Case::NotVip: return "not a VIP";
  }
  return "?";
}

constexpr uint16_t kFrameLen = 60;  // a minimum Ethernet frame, as a NIC delivers it
constexpr uint16_t kBurst = 32;

struct Options {
  uint32_t flows = 4096;
  uint32_t frames_per_run = 4'000'000;
  int runs = 7;
  uint32_t flow_entries = 1u << 20;
  bool two_workers = true;
};

// Nanoseconds this thread has waited for a CPU (the scheduler's run-queue time).
uint64_t run_queue_wait_ns() {
  std::ifstream f("/proc/thread-self/schedstat");
  uint64_t on_cpu = 0, waited = 0;
  f >> on_cpu >> waited;
  return waited;
}

// Free hugepage memory (MiB) from /proc/meminfo.
uint64_t free_hugepage_mb() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t free_pages = 0, page_kb = 0, value = 0;
  while (f >> key >> value) {
    if (key == "HugePages_Free:") free_pages = value;
    if (key == "Hugepagesize:") page_kb = value;
    f.ignore(256, '\n');
  }
  return free_pages * page_kb / 1024;
}

// One ring loop: the port, its exception port, and the frames in flight.
class RingLoop {
 public:
  RingLoop(const std::string& name, rte_mempool* pool, uint32_t frames) : pool_(pool) {
    const unsigned size = rte_align32pow2(frames + 2 * kBurst + 1);
    a_ = rte_ring_create((name + "_a").c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    b_ = rte_ring_create((name + "_b").c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    e_ = rte_ring_create((name + "_e").c_str(), 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (a_ == nullptr || b_ == nullptr || e_ == nullptr) die("cannot create rings for " + name);
    port_ = from_rings(name + "_p", a_, b_);
    exception_ = from_rings(name + "_e", e_, b_);
  }

  uint16_t port() const { return port_; }
  uint16_t exception_port() const { return exception_; }
  const std::vector<rte_mbuf*>& mbufs() const { return mbufs_; }

  // Fills the loop with one frame per flow of the case.
  void load(Case c, uint32_t flows) {
    case_ = c;
    free_all();
    std::mt19937_64 rng(42);
    const auto keys = make_flows(flows, c == Case::NotVip ? non_vip() : std::vector<Destination>{
                                                                            v4_vips()[0]},
                                 rng);
    for (const auto& key : keys) {
      SyntheticFrame f = make_flow_frame(key, 0x10 /* ACK */, kFrameLen - 54);
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      if (m == nullptr) die("mbuf pool too small");
      std::memcpy(rte_pktmbuf_append(m, kFrameLen), f.storage.data() + SyntheticFrame::kHeadroom,
                  kFrameLen);
      mbufs_.push_back(m);
    }
    std::memcpy(l2_, rte_pktmbuf_mtod(mbufs_[0], uint8_t*), 14);
    rte_ring_enqueue_bulk(a_, reinterpret_cast<void* const*>(mbufs_.data()),
                          static_cast<unsigned>(mbufs_.size()), nullptr);
  }

  // The frame as it first arrived (or as a new flow's first packet).
  void restore(rte_mbuf* m) {
    m->data_off = RTE_PKTMBUF_HEADROOM;
    m->data_len = kFrameLen;
    m->pkt_len = kFrameLen;
    uint8_t* p = rte_pktmbuf_mtod(m, uint8_t*);
    std::memcpy(p, l2_, 14);
    if (case_ == Case::NewFlows) {
      ++client_;
      std::memcpy(p + 14 + 12, &client_, 4);  // IPv4 source: a flow never seen before
    }
  }

  // Up to one burst from B back to A.
  void recycle() {
    rte_mbuf* ms[kBurst];
    const unsigned n = rte_ring_dequeue_burst(b_, reinterpret_cast<void**>(ms), kBurst, nullptr);
    for (unsigned i = 0; i < n; ++i) restore(ms[i]);
    rte_ring_enqueue_burst(a_, reinterpret_cast<void* const*>(ms), n, nullptr);
  }

  // Pulls every frame out of the rings and rebuilds the in-memory list.
  void collect() {
    void* m;
    for (rte_ring* r : {a_, b_}) {
      while (rte_ring_dequeue(r, &m) == 0) {}
    }
    for (rte_mbuf* mb : mbufs_) restore(mb);
  }

  size_t in_flight() const { return rte_ring_count(a_) + rte_ring_count(b_); }

 private:
  uint16_t from_rings(const std::string& name, rte_ring* rx, rte_ring* tx) {
    const int id = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, 0);
    if (id < 0) die("rte_eth_from_rings " + name);
    rte_eth_conf conf{};
    const auto port = static_cast<uint16_t>(id);
    if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(port, 0, 64, 0, nullptr, pool_) != 0 ||
        rte_eth_tx_queue_setup(port, 0, 64, 0, nullptr) != 0 || rte_eth_dev_start(port) != 0) {
      die("cannot start ring port " + name);
    }
    return port;
  }
  void free_all() {
    collect();
    for (rte_mbuf* m : mbufs_) rte_pktmbuf_free(m);
    mbufs_.clear();
  }

  rte_mempool* pool_;
  rte_ring *a_, *b_, *e_;
  uint16_t port_, exception_;
  std::vector<rte_mbuf*> mbufs_;
  uint8_t l2_[14] = {};
  Case case_ = Case::Established;
  uint32_t client_ = 0x0a000000;
};

struct Run {
  double cycles_per_packet;
  double mpps;
  bool disturbed;
};

// Times `step` (which returns frames done) until `frames` are done.
Run timed(uint64_t frames, const std::function<uint32_t()>& step) {
  const uint64_t wait0 = run_queue_wait_ns();
  const uint64_t t0 = rte_rdtsc();
  uint64_t done = 0;
  while (done < frames) done += step();
  const uint64_t cycles = rte_rdtsc() - t0;
  const uint64_t waited = run_queue_wait_ns() - wait0;
  const double seconds = double(cycles) / double(rte_get_tsc_hz());
  return {double(cycles) / double(done), double(done) / seconds / 1e6,
          double(waited) > 0.01 * seconds * 1e9};
}

struct Summary {
  double median_cycles = 0, median_mpps = 0, max_mpps = 0;
  int kept = 0, dropped = 0;
};

Summary summarize(std::vector<Run> runs) {
  Summary s;
  std::vector<Run> kept;
  for (const Run& r : runs) (r.disturbed ? s.dropped : s.kept)++;
  for (const Run& r : runs) {
    if (!r.disturbed) kept.push_back(r);
  }
  if (kept.empty()) kept = runs;  // every run disturbed: say so, report them anyway
  std::sort(kept.begin(), kept.end(), [](const Run& a, const Run& b) { return a.mpps < b.mpps; });
  const Run& mid = kept[kept.size() / 2];
  s.median_cycles = mid.cycles_per_packet;
  s.median_mpps = mid.mpps;
  s.max_mpps = kept.back().mpps;
  return s;
}

// Everything one lcore needs to measure a path: its loop, worker and table.
struct Bench {
  RingLoop loop;
  std::unique_ptr<PublishedState> state;
  std::unique_ptr<Worker> worker;

  Bench(const std::string& name, rte_mempool* pool, const Options& o)
      : loop(name, pool, std::max(o.flows, 1024u)) {
    auto published = PublishedState::create(std::make_unique<const ForwardingState>(bench_state()), 1);
    if (!published) die(published.error().message);
    state = std::move(*published);
    worker = std::make_unique<Worker>(0, *state, o.flow_entries, FlowTimeoutsMs{}, kBurst);
    worker->add_queue({loop.port(), 0, loop.exception_port()});
  }

  Run driver(uint64_t frames) {
    return timed(frames, [&] {
      const uint32_t n = worker->poll_once();
      loop.recycle();
      return n;
    });
  }

  Run io_forward(uint64_t frames) {
    return timed(frames, [&] {
      rte_mbuf* ms[kBurst];
      const uint16_t n = rte_eth_rx_burst(loop.port(), 0, ms, kBurst);
      const uint16_t sent = rte_eth_tx_burst(loop.port(), 0, ms, n);
      if (sent < n) rte_pktmbuf_free_bulk(ms + sent, n - sent);
      loop.recycle();
      return n;
    });
  }

  // decide_burst over the loop's mbufs where they are, as the worker calls it.
  Run core_alone(uint64_t frames, FlowTable& flows, Counters& counters) {
    loop.collect();
    const auto& ms = loop.mbufs();
    const ForwardingState& st = *state->current();
    const uint32_t tsc_per_ms = static_cast<uint32_t>(rte_get_tsc_hz() / 1000);
    size_t next = 0;
    Run r = timed(frames, [&] {
      PacketBuffer bufs[kBurst];
      Decision decisions[kBurst];
      const size_t n = std::min<size_t>(kBurst, ms.size() - next);
      for (size_t i = 0; i < n; ++i) {
        rte_mbuf* m = ms[next + i];
        bufs[i] = {rte_pktmbuf_mtod(m, uint8_t*), m->data_len, rte_pktmbuf_headroom(m)};
      }
      decide_burst(std::span(bufs, n), st, flows,
                   static_cast<uint32_t>(rte_rdtsc() / tsc_per_ms), counters,
                   std::span(decisions, n));
      for (size_t i = 0; i < n; ++i) loop.restore(ms[next + i]);
      next = next + n == ms.size() ? 0 : next + n;
      return static_cast<uint32_t>(n);
    });
    return r;  // the caller reloads the ring (RingLoop::load) before the next driver run
  }
};

struct LcoreJob {
  std::function<void()> fn;
};
int run_job(void* arg) {
  static_cast<LcoreJob*>(arg)->fn();
  return 0;
}
// Runs fn on worker lcore `lcore` and waits without spinning on the main lcore's CPU.
void on_lcore(unsigned lcore, std::function<void()> fn) {
  LcoreJob job{std::move(fn)};
  if (rte_eal_remote_launch(run_job, &job, lcore) != 0) die("cannot launch on lcore");
  while (rte_eal_get_lcore_state(lcore) != WAIT) usleep(2000);
  rte_eal_wait_lcore(lcore);
}

void print_row(const char* c, const char* path, const Summary& s) {
  std::printf("  %-12s %-11s %9.1f %9.2f %9.2f   %d/%d%s\n", c, path, s.median_cycles,
              s.median_mpps, s.max_mpps, s.kept, s.kept + s.dropped,
              s.kept == 0 ? "  (all runs disturbed)" : "");
}

}  // namespace
}  // namespace anylb::bench

int main(int argc, char** argv) {
  using namespace anylb::bench;
  CLI::App app{"anylb DPDK driver benchmark (in-process ring loop)"};
  Options o;
  bool short_run = false, hugepages = false;
  std::string only;
  app.add_option("--flows", o.flows, "distinct flows (= frames in the loop)")->check(CLI::Range(64u, 1u << 20));
  app.add_option("--frames", o.frames_per_run, "frames per run")->check(CLI::Range(10'000u, 1u << 30));
  app.add_option("--runs", o.runs, "runs per path and case")->check(CLI::Range(1, 101));
  bool no_hugepages = false;
  app.add_flag("--hugepages", hugepages, "EAL with hugepages (default: when 256 MiB are free)");
  app.add_flag("--no-hugepages", no_hugepages, "EAL with --no-huge");
  app.add_flag("--short", short_run, "few, short runs (meson benchmark)");
  app.add_option("--case", only, "run one case only")
      ->check(CLI::IsMember({"established", "new", "not-vip"}));
  CLI11_PARSE(app, argc, argv);
  if (!hugepages && !no_hugepages) hugepages = free_hugepage_mb() >= 256;
  if (short_run) {
    o.frames_per_run = 200'000;
    o.runs = 3;
    o.flow_entries = 1u << 16;
  }

  anylb::dpdk::EalOptions eal;
  eal.main_cpu = 0;
  eal.worker_cpus = {sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1u : 0u};
  eal.hugepages = hugepages;
  eal.memory_mb = 256;
  eal.extra = {"--log-level", "lib.eal:warning"};
  if (auto ok = anylb::dpdk::init_eal(eal); !ok) {
    std::fprintf(stderr, "anylb-bench-dpdk: %s\n", ok.error().message.c_str());
    return 1;
  }
  const unsigned worker_lcore = rte_get_next_lcore(-1, 1, 0);
  rte_mempool* pool = rte_pktmbuf_pool_create("bench", 2 * (o.flows + 4096) - 1, 256, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  if (pool == nullptr) die("cannot create the mbuf pool");

  const double ghz = double(rte_get_tsc_hz()) / 1e9;
  std::printf("anylb-bench-dpdk: %u flows (one 60-byte frame each, web 192.0.2.10:80/tcp, IPIP), "
              "%u frames per run, %d runs, flow table %u entries, TSC %.2f GHz, %s\n",
              o.flows, o.frames_per_run, o.runs, o.flow_entries, ghz,
              hugepages ? "hugepages"
                        : "no hugepages (echo 512 > /proc/sys/vm/nr_hugepages for the faster "
                          "figures)");
  std::printf("  worker lcore %u on CPU %u; median and max over rounds not disturbed (scheduler, or "
              "io-forward < 70%% of its best)\n\n",
              worker_lcore, rte_lcore_to_cpu_id(static_cast<int>(worker_lcore)));
  std::printf("  %-12s %-11s %9s %9s %9s   %s\n", "case", "path", "cyc/pkt", "Mpps", "max Mpps",
              "runs kept");

  Bench one("w1", pool, o);
  double est_driver = 0, est_core = 0;
  for (Case c : {Case::Established, Case::NewFlows, Case::NotVip}) {
    const char* key = c == Case::Established ? "established" : c == Case::NewFlows ? "new" : "not-vip";
    if (!only.empty() && only != key) continue;
    one.loop.load(c, o.flows);
    std::vector<Run> driver, io, core;
    anylb::FlowTable core_flows(o.flow_entries, anylb::FlowTimeoutsMs{});
    auto counters = std::make_unique<anylb::Counters>();
    on_lcore(worker_lcore, [&] {
      // One lap first: established flows are then in both flow tables.
      if (c == Case::Established) {
        one.driver(o.flows);
        one.core_alone(o.flows, core_flows, *counters);
        one.loop.load(c, o.flows);
      }
      for (int r = 0; r < o.runs; ++r) {
        driver.push_back(one.driver(o.frames_per_run));
        io.push_back(one.io_forward(o.frames_per_run));
        core.push_back(one.core_alone(o.frames_per_run, core_flows, *counters));
        one.loop.load(c, o.flows);
      }
    });
    // A run the scheduler did not see disturbed may still have been slowed
    // by the host (other guests on the core or memory). The io-forward run
    // of the same round is the canary: a round whose io-forward fell below
    // 70% of the best one is dropped for all three paths.
    double best_io = 0;
    for (const Run& r : io) best_io = std::max(best_io, r.mpps);
    for (size_t r = 0; r < io.size(); ++r) {
      if (io[r].mpps < 0.7 * best_io) driver[r].disturbed = io[r].disturbed = core[r].disturbed = true;
    }
    const Summary d = summarize(driver), i = summarize(io), k = summarize(core);
    print_row(case_name(c), "driver", d);
    print_row("", "io-forward", i);
    print_row("", "core alone", k);
    std::printf("  %-12s driver / core alone = %.2f, driver / io-forward = %.2f\n\n", "",
                d.median_mpps / k.median_mpps, d.median_mpps / i.median_mpps);
    if (c == Case::Established) {
      est_driver = d.median_mpps;
      est_core = k.median_mpps;
    }
  }
  if (est_core > 0) {
    std::printf("targets (established): driver / core alone %.2f (>= 0.8), driver %.2f Mpps per "
                "worker lcore (>= 15)\n",
                est_driver / est_core, est_driver);
  }

  if (o.two_workers && est_driver > 0 && rte_lcore_count() >= 2 && sysconf(_SC_NPROCESSORS_ONLN) > 1) {
    // Two workers: lcore 1 and the main lcore (CPU 0), each its own loop and table.
    Bench two("w2", pool, o);
    one.loop.load(Case::Established, o.flows);
    two.loop.load(Case::Established, o.flows);
    std::vector<Run> a, b;
    std::atomic<int> ready{0};
    auto both = [&](Bench& bench, std::vector<Run>& out) {
      bench.driver(o.flows);
      ready.fetch_add(1);
      while (ready.load() < 2) {}
      for (int r = 0; r < o.runs; ++r) out.push_back(bench.driver(o.frames_per_run));
    };
    LcoreJob job{[&] { both(one, a); }};
    rte_eal_remote_launch(run_job, &job, worker_lcore);
    both(two, b);
    rte_eal_wait_lcore(worker_lcore);
    const Summary sa = summarize(a), sb = summarize(b);
    std::printf("\ntwo worker lcores (CPU %u and CPU %u, established, each its own ring loop):\n",
                rte_lcore_to_cpu_id(static_cast<int>(worker_lcore)), rte_lcore_to_cpu_id(0));
    std::printf("  %.2f + %.2f = %.2f Mpps (%.2fx one worker); runs kept %d/%d and %d/%d\n",
                sa.median_mpps, sb.median_mpps, sa.median_mpps + sb.median_mpps,
                (sa.median_mpps + sb.median_mpps) / est_driver, sa.kept, sa.kept + sa.dropped,
                sb.kept, sb.kept + sb.dropped);
  }
  return 0;
}
