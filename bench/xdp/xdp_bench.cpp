// anylb-bench-xdp: the XDP program (xdp/anylb.bpf.c) through BPF_PROG_TEST_RUN,
// side by side, on the same frames, with three controls:
//   drop     return XDP_DROP                         (the call overhead)
//   macswap  swap the Ethernet addresses, XDP_TX     (the least an XDP_TX does)
//   ipip     adjust_head + Ethernet + outer IPv4 with checksum, no lookup,
//            XDP_TX                                  (the floor for an IPIP balancer)
//
// Method. With `repeat` > 1 the kernel runs the program again on the frame it
// left, so an encapsulating program would see its own output from the second
// iteration. Every frame is therefore one BPF_PROG_TEST_RUN call with
// repeat = 1, and each call's in-kernel duration (opts.duration: ktime around
// the program run, bh-disable and run-context setup included) is summed; the
// same sum for the `drop` control on the same frames is the call overhead, and
// it is subtracted:
//     net(prog) = duration(prog) - duration(drop)           per frame
// Wall-clock time per call (syscall, frame copy-in, page allocation) is printed
// too, and gives a second, noisier net figure by the same subtraction. As a
// cross-check on frames the program does not rewrite (not a VIP: XDP_PASS),
// net is also measured with repeat = R on each frame.
//
// Hot loop, the second regime: every frame with repeat = H, each iteration
// entering through restore.bpf.c, which puts the frame back as it came in
// (length and first bytes) and tail-calls the program under test. The kernel
// reports the mean time per iteration; the same figure with `drop` in the
// tail-call slot (the restore, the tail call, the loop) is subtracted. Here
// the program runs with warm caches and predictors on one flow at a time: the
// best case, and the regime in which per-packet figures of other balancers
// are usually quoted. For new flows, restore.bpf.c also gives every
// iteration the next IPv4 source address (checksums patched), so each
// iteration is a miss and a real insert; batch / H frames keep the number of
// inserts per round at the batch size, as in the repeat = 1 rounds.
//
// Cases, each over a batch of distinct flows (the frames of bench_state.h):
//   est   established TCP/IPv4 to web:80 and web-tls:443 (flow-table hit), IPIP
//   udp   UDP/IPv4 to dns:53, established (hit), GUE over IPv4
//   pass  TCP/IPv4 to a non-VIP address: one address lookup, XDP_PASS
//   new   TCP SYN of never-seen flows to web:80: a real insert into the
//         flow table (1M entries per CPU), first with free ways, then again
//         after `prefill` more flows have filled it (evictions counted)
// The anylb program runs with its counters checked: every `est`/`udp` frame
// must be a flow hit, every `new` frame a miss, every verdict the expected one.
//
// Rounds: every case is measured `rounds` times, the programs in a rotating
// order; figures are medians over the rounds.
//
// --live adds a run through a veth pair in a private network namespace: the
// program under test native on one end; on the other end, frames are injected
// by BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES (XDP_TX out of that end)
// and counted and dropped by a native XDP program when they come back. The
// programs take turns in chunks of a quarter of --live-packets, and the
// anylb/ipip ratio is the median over neighbouring chunk pairs.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "bench/bench_state.h"
#include "dataplane/core/checksum.h"
#include "ipip.skel.h"
#include "live.skel.h"
#include "macswap.skel.h"
#include "restore.skel.h"
#include "trivial.skel.h"
#include "xdp/node_config.h"
#include "xdp/state_writer.h"
#include "xdp/xdp_program.h"

namespace anylb::bench {
namespace {

struct Options {
  size_t batch = 65536;        // distinct flows per case
  int rounds = 5;
  uint32_t table = 1u << 20;   // flow-table entries (per CPU)
  size_t prefill = 1u << 20;   // new flows inserted before the `new` rounds
  uint32_t repeat = 100;       // repeat for the pass cross-check
  uint32_t hot_repeat = 64;    // iterations per frame in the hot loop
  int cpu = 0;
  bool live = false;
  uint32_t live_packets = 4u << 20;
  uint32_t live_flows = 65536;
};

double now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---- frames

// Frames packed back to back; each call copies one in.
struct Frames {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> off, len;
  size_t size() const { return off.size(); }
  void add(const SyntheticFrame& f) {
    off.push_back(static_cast<uint32_t>(bytes.size()));
    len.push_back(f.len);
    bytes.insert(bytes.end(), f.storage.begin() + SyntheticFrame::kHeadroom,
                 f.storage.begin() + SyntheticFrame::kHeadroom + f.len);
  }
  const uint8_t* frame(size_t i) const { return bytes.data() + off[i]; }
};

Frames frames_for(const std::vector<anylb_flow_key>& keys, uint8_t flags, size_t from = 0,
                  size_t count = SIZE_MAX) {
  Frames f;
  const size_t end = std::min(keys.size(), from + std::min(count, keys.size()));
  for (size_t i = from; i < end; ++i) f.add(make_flow_frame(keys[i], flags));
  return f;
}

// ---- test runs

struct Prog {
  const char* name;
  int fd;
};

struct Timing {
  double kernel_ns = 0;  // opts.duration per call
  double wall_ns = 0;    // wall clock per call
};

// Every frame of `f` once, repeat 1. Dies on an unexpected verdict.
Timing run_batch(const Prog& p, const Frames& f, uint32_t expected) {
  uint64_t kernel = 0;
  const double t0 = now_ns();
  for (size_t i = 0; i < f.size(); ++i) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.frame(i), .data_size_in = f.len[i],
                .repeat = 1);
    if (int err = bpf_prog_test_run_opts(p.fd, &opts); err != 0) {
      die(std::string(p.name) + ": BPF_PROG_TEST_RUN: " + std::strerror(-err));
    }
    if (opts.retval != expected) {
      die(std::string(p.name) + ": frame " + std::to_string(i) + ": verdict " +
          std::to_string(opts.retval) + ", expected " + std::to_string(expected));
    }
    kernel += opts.duration;
  }
  const double t1 = now_ns();
  const double n = static_cast<double>(f.size());
  return {static_cast<double>(kernel) / n, (t1 - t0) / n};
}

// Every frame with repeat R: the per-iteration duration, averaged over frames.
double run_repeat(const Prog& p, const Frames& f, uint32_t repeat, uint32_t expected) {
  uint64_t total = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.frame(i), .data_size_in = f.len[i],
                .repeat = static_cast<int>(repeat));
    if (int err = bpf_prog_test_run_opts(p.fd, &opts); err != 0) {
      die(std::string(p.name) + ": BPF_PROG_TEST_RUN (repeat): " + std::strerror(-err));
    }
    if (opts.retval != expected) die(std::string(p.name) + ": unexpected verdict (repeat)");
    total += opts.duration;
  }
  return static_cast<double>(total) / static_cast<double>(f.size());
}

// The hot loop: every frame with repeat H behind the restore program, whose
// tail-call slot holds the program under test. The per-iteration duration,
// averaged over frames.
struct HotLoop {
  bench_restore* skel;
  int fd;
  int slot;  // the under_test PROG_ARRAY

  void select(const Prog& p) const {
    const uint32_t zero = 0;
    const int fd_under_test = p.fd;
    if (bpf_map_update_elem(slot, &zero, &fd_under_test, BPF_ANY) != 0) {
      die(std::string("hot loop: put ") + p.name + " into the tail-call slot");
    }
  }
  // From here on every iteration gives its frame the next source address,
  // counting up from `first`; 0 turns that off.
  void set_new_source(uint32_t first) const { skel->bss->new_source = first; }
  uint32_t next_source() const { return skel->bss->new_source; }

  void load_frame(const Frames& f, size_t i) const {
    static_assert(sizeof skel->bss->frame_head <= 42);
    if (f.len[i] < sizeof skel->bss->frame_head) die("hot loop: frame shorter than the restore");
    skel->bss->frame_len = f.len[i];
    std::memcpy(skel->bss->frame_head, f.frame(i), sizeof skel->bss->frame_head);
    if (skel->bss->new_source != 0) load_checksum_rests(f.frame(i), f.len[i]);
  }
  // The sums restore.bpf.c completes with each new source address: the IPv4
  // header's and the TCP checksum's (pseudo-header included), each over
  // everything but the source address and the checksum itself.
  void load_checksum_rests(const uint8_t* fr, uint32_t len) const {
    const uint8_t* ip = fr + 14;
    if (len < 54 || load_be16(fr + 12) != 0x0800 || ip[0] != 0x45 || ip[9] != kTcp) {
      die("hot loop: new flows need untagged TCP/IPv4 frames without options");
    }
    const uint32_t tcp_len = load_be16(ip + 2) - 20u;
    if (tcp_len < 20 || 34 + tcp_len > len) die("hot loop: new flows: bad TCP length");
    skel->bss->ip_sum_rest = csum_add_bytes(csum_add_bytes(0, ip, 10), ip + 16, 4);
    uint32_t sum = csum_add_bytes(0, ip + 16, 4) + kTcp + tcp_len;  // pseudo-header
    sum = csum_add_bytes(sum, fr + 34, 16);                          // up to the checksum
    skel->bss->tcp_sum_rest = csum_add_bytes(sum, fr + 52, tcp_len - 18);
  }
  double run(const Prog& p, const Frames& f, uint32_t repeat, uint32_t expected) const {
    select(p);
    uint64_t total = 0;
    for (size_t i = 0; i < f.size(); ++i) {
      load_frame(f, i);
      LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.frame(i), .data_size_in = f.len[i],
                  .repeat = static_cast<int>(repeat));
      if (int err = bpf_prog_test_run_opts(fd, &opts); err != 0) {
        die(std::string(p.name) + ": BPF_PROG_TEST_RUN (hot loop): " + std::strerror(-err));
      }
      if (opts.retval != expected) {
        die(std::string(p.name) + ": hot loop: frame " + std::to_string(i) + ": verdict " +
            std::to_string(opts.retval) + ", expected " + std::to_string(expected));
      }
      total += opts.duration;
    }
    return static_cast<double>(total) / static_cast<double>(f.size());
  }
  // The frame that leaves the last of `repeat` iterations: the same bytes as
  // one plain run of the program, or the restore is wrong.
  std::vector<uint8_t> output(const Prog& p, const Frames& f, size_t i, uint32_t repeat) const {
    select(p);
    load_frame(f, i);
    std::vector<uint8_t> out(f.len[i] + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.frame(i), .data_out = out.data(),
                .data_size_in = f.len[i], .data_size_out = static_cast<__u32>(out.size()),
                .repeat = static_cast<int>(repeat));
    if (int err = bpf_prog_test_run_opts(fd, &opts); err != 0) {
      die(std::string(p.name) + ": BPF_PROG_TEST_RUN (hot loop): " + std::strerror(-err));
    }
    out.resize(opts.data_size_out);
    return out;
  }
};

// The floor under a new flow: a new flow must read both of its groups, at
// random places in a table of this size, and neither can be in cache. So one
// dependent load into memory of the flow table's size, in 4 KiB pages as BPF
// map memory is, chasing a random cycle through group-sized strides, in ns.
double dependent_load_ns(uint32_t table_entries) {
  const size_t stride = sizeof(anylb_flow_group);
  const size_t n = std::max<size_t>(2, table_entries / ANYLB_FLOW_WAYS);
  void* area = mmap(nullptr, n * stride, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
  if (area == MAP_FAILED) die("dependent load: mmap: " + std::string(std::strerror(errno)));
  madvise(area, n * stride, MADV_NOHUGEPAGE);  // as if THP were "always": keep 4 KiB pages
  const std::span<uint8_t> mem(static_cast<uint8_t*>(area), n * stride);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(kSeed));
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* next = mem.data() + order[(i + 1) % n] * stride;
    std::memcpy(mem.data() + order[i] * stride, &next, sizeof next);
  }
  const size_t steps = 1u << 20;
  const uint8_t* at = mem.data() + order[0] * stride;
  const double t0 = now_ns();
  for (size_t i = 0; i < steps; ++i) std::memcpy(&at, at, sizeof at);
  const double t = (now_ns() - t0) / static_cast<double>(steps);
  if (at == nullptr) die("dependent load: lost the cycle");  // keeps the chase
  munmap(area, n * stride);
  return t;
}

// One frame with its output: for the sanity checks.
std::pair<uint32_t, std::vector<uint8_t>> run_one(int fd, const uint8_t* frame, uint32_t len) {
  std::vector<uint8_t> out(len + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_out = out.data(),
              .data_size_in = len, .data_size_out = static_cast<__u32>(out.size()), .repeat = 1);
  if (int err = bpf_prog_test_run_opts(fd, &opts); err != 0) {
    die(std::string("BPF_PROG_TEST_RUN: ") + std::strerror(-err));
  }
  out.resize(opts.data_size_out);
  return {opts.retval, out};
}

anylb_path_stats read_path_stats(int fd) {
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<anylb_path_stats> v(static_cast<size_t>(ncpu));
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(fd, &zero, v.data()) != 0) die("read path_stats");
  anylb_path_stats s{};
  for (const auto& c : v) {
    s.passed += c.passed;
    s.transmitted += c.transmitted;
    s.flow_hits += c.flow_hits;
    s.flow_misses += c.flow_misses;
    s.flow_evictions += c.flow_evictions;
  }
  return s;
}

// ---- the run

enum ProgIndex { kDrop, kMacswap, kIpip, kAnylb, kProgs };
const char* const kProgNames[kProgs] = {"drop (overhead)", "macswap XDP_TX", "ipip control",
                                        "anylb"};

struct CaseResult {
  std::vector<double> kernel[kProgs], wall[kProgs];  // per round, gross
  std::vector<double> net[kProgs], net_wall[kProgs];  // per round, minus drop
};

void add_round(CaseResult& r, const Timing (&t)[kProgs]) {
  for (int p = 0; p < kProgs; ++p) {
    r.kernel[p].push_back(t[p].kernel_ns);
    r.wall[p].push_back(t[p].wall_ns);
    r.net[p].push_back(t[p].kernel_ns - t[kDrop].kernel_ns);
    r.net_wall[p].push_back(t[p].wall_ns - t[kDrop].wall_ns);
  }
}

void print_case(const char* title, const CaseResult& r) {
  const double ipip = median(r.net[kIpip]);
  std::printf("\n%s\n", title);
  std::printf("  %-17s %10s %10s %9s %8s %12s %12s\n", "program", "call ns", "net ns", "Mpps",
              "x ipip", "wall/call", "net (wall)");
  for (int p = 0; p < kProgs; ++p) {
    const double net = median(r.net[p]);
    if (p == kDrop) {
      std::printf("  %-17s %10.1f %10s %9s %8s %12.1f %12s\n", kProgNames[p],
                  median(r.kernel[p]), "-", "-", "-", median(r.wall[p]), "-");
      continue;
    }
    std::printf("  %-17s %10.1f %10.1f %9.2f %8.2f %12.1f %12.1f\n", kProgNames[p],
                median(r.kernel[p]), net, net > 0 ? 1e3 / net : 0.0, ipip > 0 ? net / ipip : 0.0,
                median(r.wall[p]), median(r.net_wall[p]));
  }
}

void print_hot(const char* title, const CaseResult& r) {
  const double ipip = median(r.net[kIpip]);
  std::printf("  %s\n", title);
  for (int p = 0; p < kProgs; ++p) {
    const double net = median(r.net[p]);
    if (p == kDrop) {
      std::printf("    %-17s %7.1f ns per iteration (restore + tail call + loop)\n", kProgNames[p],
                  median(r.kernel[p]));
      continue;
    }
    std::printf("    %-17s %7.1f ns net  %8.2f Mpps  %6.2fx ipip\n", kProgNames[p], net,
                net > 0 ? 1e3 / net : 0.0, ipip > 0 ? net / ipip : 0.0);
  }
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: anylb-bench-xdp [--short] [--rounds N] [--batch N] [--prefill N]\n"
               "                       [--table N] [--repeat N] [--hot-repeat N] [--cpu N]\n"
               "                       [--live] [--live-packets N] [--live-flows N]\n");
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto num = [&]() -> unsigned long long {
      if (i + 1 >= argc) usage();
      return std::strtoull(argv[++i], nullptr, 0);
    };
    if (a == "--short") {
      o.batch = 4096;
      o.rounds = 3;
      o.repeat = 20;
      o.hot_repeat = 32;
    } else if (a == "--rounds") {
      o.rounds = static_cast<int>(num());
    } else if (a == "--batch") {
      o.batch = num();
    } else if (a == "--prefill") {
      o.prefill = num();
    } else if (a == "--table") {
      o.table = static_cast<uint32_t>(num());
    } else if (a == "--repeat") {
      o.repeat = static_cast<uint32_t>(num());
    } else if (a == "--hot-repeat") {
      o.hot_repeat = static_cast<uint32_t>(num());
    } else if (a == "--cpu") {
      o.cpu = static_cast<int>(num());
    } else if (a == "--live") {
      o.live = true;
    } else if (a == "--live-packets") {
      o.live_packets = static_cast<uint32_t>(num());
    } else if (a == "--live-flows") {
      o.live_flows = static_cast<uint32_t>(num());
    } else {
      usage();
    }
  }
  if (o.rounds < 1 || o.batch < 1 || o.hot_repeat < 2) usage();
  return o;
}

template <typename Skel>
struct SkelOwner {
  Skel* s;
  void (*destroy)(Skel*);
  ~SkelOwner() { destroy(s); }
};

void run_live(const Options& o, XdpProgram& anylb, const Prog& ipip, const Prog& macswap,
              const std::vector<anylb_flow_key>& template_key);

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// BPF_PROG_TEST_RUN for XDP puts the program into the kernel's XDP dispatcher
// for the length of the call and takes it out after (bpf_prog_change_xdp), and
// each change of the dispatcher waits for an RCU grace period: milliseconds per
// call. A program already attached to a device is in the dispatcher already,
// and then the call changes nothing. So every program under test is attached,
// natively, to one end of a veth pair in this process's own network namespace
// (gone with the process).
bool hold_in_dispatcher(const std::vector<int>& fds) {
  if (unshare(CLONE_NEWNET) != 0) {
    std::printf("warning: unshare(CLONE_NEWNET): %s: test runs will be slow\n",
                std::strerror(errno));
    return false;
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    const std::string a = "bh" + std::to_string(i) + "a", b = "bh" + std::to_string(i) + "b";
    if (sh("ip link add " + a + " type veth peer name " + b) != 0) return false;
    LIBBPF_OPTS(bpf_xdp_attach_opts, aopts);
    if (int err = bpf_xdp_attach(static_cast<int>(if_nametoindex(a.c_str())), fds[i],
                                 XDP_FLAGS_DRV_MODE, &aopts);
        err != 0) {
      std::printf("warning: attach to %s: %s: test runs will be slow\n", a.c_str(),
                  std::strerror(-err));
      return false;
    }
  }
  return true;
}

int run(const Options& o) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(o.cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) die("pin to CPU " + std::to_string(o.cpu));

  // The program under test and its state.
  const ForwardingState state = bench_state();
  FlowTimeoutsMs timeouts;  // an hour: nothing expires during the run
  timeouts.tcp_syn = timeouts.tcp_established = timeouts.tcp_closing = timeouts.udp =
      timeouts.other = 3'600'000;
  auto loaded = XdpProgram::load(make_node_config(state, timeouts), o.table, "");
  if (!loaded) die("load anylb: " + loaded.error().message);
  std::unique_ptr<XdpProgram> anylb = std::move(*loaded);
  auto writer = XdpStateWriter::open(anylb->maps());
  if (!writer) die("state writer: " + writer.error().message);
  if (auto ok = writer->publish(state); !ok) die("publish: " + ok.error().message);

  // The controls.
  bench_trivial* trivial = bench_trivial__open_and_load();
  bench_macswap* macswap = bench_macswap__open_and_load();
  bench_ipip* ipip = bench_ipip__open_and_load();
  bench_restore* restore = bench_restore__open_and_load();
  if (!trivial || !macswap || !ipip || !restore) die("load the control programs");
  SkelOwner<bench_trivial> own1{trivial, bench_trivial__destroy};
  SkelOwner<bench_macswap> own2{macswap, bench_macswap__destroy};
  SkelOwner<bench_ipip> own3{ipip, bench_ipip__destroy};
  SkelOwner<bench_restore> own4{restore, bench_restore__destroy};
  const HotLoop hot{restore, bpf_program__fd(restore->progs.bench_restore),
                    bpf_map__fd(restore->maps.under_test)};
  const Prog progs[kProgs] = {{kProgNames[kDrop], bpf_program__fd(trivial->progs.bench_drop)},
                              {kProgNames[kMacswap], bpf_program__fd(macswap->progs.bench_macswap)},
                              {kProgNames[kIpip], bpf_program__fd(ipip->progs.bench_ipip)},
                              {kProgNames[kAnylb], anylb->prog_fd()}};

  const bool held = hold_in_dispatcher({progs[kDrop].fd, progs[kMacswap].fd, progs[kIpip].fd,
                                        progs[kAnylb].fd, hot.fd});

  // The frames.
  std::mt19937_64 rng(kSeed);
  const auto est_keys = make_flows(o.batch, {{addr("192.0.2.10"), 80, kTcp},
                                             {addr("192.0.2.10"), 443, kTcp}}, rng);
  const auto udp_keys = make_flows(o.batch, {{addr("192.0.2.53"), 53, kUdp}}, rng);
  const auto pass_keys = make_flows(o.batch, non_vip(), rng);
  const auto new_keys = make_flows(2 * o.batch * static_cast<size_t>(o.rounds),
                                   {{addr("192.0.2.10"), 80, kTcp}}, rng);
  const Frames est = frames_for(est_keys, kTcpAck);
  const Frames udp = frames_for(udp_keys, 0);
  const Frames pass = frames_for(pass_keys, kTcpAck);
  // The hot loop's new flows: each iteration takes the next source address
  // from 240.0.0.0 on. Client ports below 1024, which make_flows() never
  // gives, keep these flows apart from every other flow of the run.
  std::vector<anylb_flow_key> hot_new_keys(
      std::max<size_t>(1, o.batch / o.hot_repeat),
      make_flow_key(addr("240.0.0.0"), 0, addr("192.0.2.10"), 80, kTcp));
  for (size_t i = 0; i < hot_new_keys.size(); ++i) {
    hot_new_keys[i].sport = hton16(static_cast<uint16_t>(1 + i % 1023));
  }
  const Frames hot_new = frames_for(hot_new_keys, kTcpSyn);
  uint32_t next_source = 0xf0000000;  // 240.0.0.0

  // Sanity: verdicts and output lengths of one frame of each case.
  {
    auto check = [&](const char* what, int fd, const Frames& f, uint32_t verdict, int grow) {
      auto [v, out] = run_one(fd, f.frame(0), f.len[0]);
      if (v != verdict || static_cast<int>(out.size()) != static_cast<int>(f.len[0]) + grow) {
        die(std::string("sanity: ") + what + ": verdict " + std::to_string(v) + ", " +
            std::to_string(out.size()) + " bytes out of " + std::to_string(f.len[0]));
      }
    };
    check("anylb est", progs[kAnylb].fd, est, XDP_TX, 20);
    check("anylb udp", progs[kAnylb].fd, udp, XDP_TX, 28);
    check("anylb pass", progs[kAnylb].fd, pass, XDP_PASS, 0);
    check("ipip est", progs[kIpip].fd, est, XDP_TX, 20);
    check("macswap est", progs[kMacswap].fd, est, XDP_TX, 0);
    check("drop est", progs[kDrop].fd, est, XDP_DROP, 0);
    // The hot loop's last iteration must leave what one plain run leaves.
    for (int p : {kMacswap, kIpip, kAnylb}) {
      for (const Frames* f : {&est, &udp, &pass}) {
        if (p != kAnylb && f != &est) continue;
        auto [v, once] = run_one(progs[p].fd, f->frame(1), f->len[1]);
        if (hot.output(progs[p], *f, 1, o.hot_repeat) != once) {
          die(std::string("sanity: hot loop output of ") + progs[p].name +
              " differs from one plain run");
        }
      }
    }
    // With new sources, the last iteration's frame must be the one
    // make_flow_frame() makes for its flow, checksums included: anylb's
    // output for it then equals a plain run's on that frame (a hit now).
    hot.set_new_source(next_source);
    const std::vector<uint8_t> hot_out = hot.output(progs[kAnylb], hot_new, 0, o.hot_repeat);
    anylb_flow_key last = hot_new_keys[0];
    const uint32_t last_source = next_source + o.hot_repeat - 1;
    for (int b = 0; b < 4; ++b) last.src[b] = static_cast<uint8_t>(last_source >> (24 - 8 * b));
    next_source = hot.next_source();
    hot.set_new_source(0);
    SyntheticFrame canonical = make_flow_frame(last, kTcpSyn);
    auto [v, once] = run_one(progs[kAnylb].fd, canonical.buffer().data, canonical.len);
    if (next_source != last_source + 1 || v != XDP_TX || hot_out != once) {
      die("sanity: hot loop new flows: the restored frame is not the flow's own frame");
    }
  }

  std::printf("anylb-bench-xdp: CPU %d, %zu flows per case, %d rounds, flow table %u entries\n",
              o.cpu, o.batch, o.rounds, o.table);
  std::printf("method: BPF_PROG_TEST_RUN repeat=1 per frame; net = in-kernel duration minus the\n"
              "        drop control's on the same frames (wall-clock net shown alongside)\n");

  // Warm-up: the established flows into the flow table, caches and branch
  // predictors of every program.
  for (int p = 0; p < kProgs; ++p) {
    const uint32_t tx = p == kDrop ? XDP_DROP : XDP_TX;
    run_batch(progs[p], est, tx);
    run_batch(progs[p], udp, tx);
    run_batch(progs[p], pass, p == kAnylb ? uint32_t{XDP_PASS} : tx);
  }

  auto expected = [](int p, uint32_t anylb_verdict) -> uint32_t {
    if (p == kDrop) return XDP_DROP;
    return p == kAnylb ? anylb_verdict : uint32_t{XDP_TX};
  };
  CaseResult r_est, r_udp, r_pass, r_new, r_new_full;
  std::vector<double> rep_net_anylb, rep_net_macswap, rep_drop;
  const int maps_path = anylb->maps().path_stats;
  for (int round = 0; round < o.rounds; ++round) {
    struct {
      const Frames* f;
      CaseResult* r;
      uint32_t verdict;
      bool hits;
    } cases[] = {{&est, &r_est, XDP_TX, true}, {&udp, &r_udp, XDP_TX, true},
                 {&pass, &r_pass, XDP_PASS, false}};
    for (auto& c : cases) {
      Timing t[kProgs];
      const anylb_path_stats before = read_path_stats(maps_path);
      for (int k = 0; k < kProgs; ++k) {
        const int p = (k + round) % kProgs;  // rotate the order
        t[p] = run_batch(progs[p], *c.f, expected(p, c.verdict));
      }
      const anylb_path_stats after = read_path_stats(maps_path);
      if (c.hits && after.flow_hits - before.flow_hits != c.f->size()) {
        die("established frames that were not flow-table hits");
      }
      add_round(*c.r, t);
    }
    // Cross-check on frames nobody rewrites: repeat R.
    const double d = run_repeat(progs[kDrop], pass, o.repeat, XDP_DROP);
    rep_drop.push_back(d);
    rep_net_anylb.push_back(run_repeat(progs[kAnylb], pass, o.repeat, XDP_PASS) - d);
    rep_net_macswap.push_back(run_repeat(progs[kMacswap], pass, o.repeat, XDP_TX) - d);
  }

  // The hot loop, on the same frames (est, udp and pass only).
  CaseResult h_est, h_udp, h_pass;
  for (int round = 0; round < o.rounds; ++round) {
    struct {
      const Frames* f;
      CaseResult* r;
      uint32_t verdict;
    } cases[] = {{&est, &h_est, XDP_TX}, {&udp, &h_udp, XDP_TX}, {&pass, &h_pass, XDP_PASS}};
    for (auto& c : cases) {
      Timing t[kProgs];
      for (int k = 0; k < kProgs; ++k) {
        const int p = (k + round) % kProgs;
        t[p].kernel_ns = hot.run(progs[p], *c.f, o.hot_repeat, expected(p, c.verdict));
      }
      add_round(*c.r, t);
    }
  }

  // New flows, twice: into the table as it is (free ways), then into the
  // table filled to capacity, where most inserts evict (counted: a group
  // pair can still have a free way).
  auto new_flow_rounds = [&](CaseResult& r, size_t first_key, uint64_t& evictions) {
    for (int round = 0; round < o.rounds; ++round) {
      const Frames f = frames_for(new_keys, kTcpSyn,
                                  first_key + static_cast<size_t>(round) * o.batch, o.batch);
      Timing t[kProgs];
      // The controls first (their order rotated), then anylb: it must see the
      // frames' flows for the first time.
      for (int k = 0; k < kAnylb; ++k) {
        const int p = (k + round) % kAnylb;
        t[p] = run_batch(progs[p], f, expected(p, XDP_TX));
      }
      const anylb_path_stats before = read_path_stats(maps_path);
      t[kAnylb] = run_batch(progs[kAnylb], f, XDP_TX);
      const anylb_path_stats after = read_path_stats(maps_path);
      if (after.flow_misses - before.flow_misses != f.size()) die("new flows that were not misses");
      evictions += after.flow_evictions - before.flow_evictions;
      add_round(r, t);
    }
  };
  // New flows in the hot loop, on a miss every iteration (checked).
  auto hot_new_rounds = [&](CaseResult& r, uint64_t& evictions) {
    for (int round = 0; round < o.rounds; ++round) {
      Timing t[kProgs];
      for (int k = 0; k < kProgs; ++k) {
        const int p = (k + round) % kProgs;
        if (uint64_t{next_source} + hot_new.size() * o.hot_repeat > UINT32_MAX) {
          die("hot loop: new flows: out of source addresses (fewer --batch or --rounds)");
        }
        const anylb_path_stats before = read_path_stats(maps_path);
        hot.set_new_source(next_source);
        t[p].kernel_ns = hot.run(progs[p], hot_new, o.hot_repeat, expected(p, XDP_TX));
        next_source = hot.next_source();
        hot.set_new_source(0);
        if (p != kAnylb) continue;
        const anylb_path_stats after = read_path_stats(maps_path);
        if (after.flow_misses - before.flow_misses != hot_new.size() * o.hot_repeat) {
          die("hot loop: new flows that were not misses");
        }
        evictions += after.flow_evictions - before.flow_evictions;
      }
      add_round(r, t);
    }
  };
  CaseResult h_new, h_new_full;
  uint64_t new_evicted = 0, new_full_evicted = 0, h_new_evicted = 0, h_new_full_evicted = 0;
  new_flow_rounds(r_new, 0, new_evicted);
  hot_new_rounds(h_new, h_new_evicted);
  {
    std::mt19937_64 fill_rng(kSeed ^ 0xf111);
    const double t0 = now_ns();
    const anylb_path_stats before = read_path_stats(maps_path);
    const size_t chunk = 65536;
    for (size_t done = 0; done < o.prefill; done += chunk) {
      const auto keys =
          make_flows(std::min(chunk, o.prefill - done), {{addr("192.0.2.10"), 443, kTcp}}, fill_rng);
      const Frames f = frames_for(keys, kTcpSyn);
      run_batch(progs[kAnylb], f, XDP_TX);
    }
    const anylb_path_stats after = read_path_stats(maps_path);
    std::printf("prefill: %zu new flows inserted in %.1f s (%llu misses)\n", o.prefill,
                (now_ns() - t0) / 1e9, static_cast<unsigned long long>(after.flow_misses - before.flow_misses));
  }
  new_flow_rounds(r_new_full, o.batch * static_cast<size_t>(o.rounds), new_full_evicted);
  hot_new_rounds(h_new_full, h_new_full_evicted);

  print_case("(a) established TCP/IPv4 (flow-table hit), IPIP", r_est);
  char title[160];
  const size_t inserts = o.batch * static_cast<size_t>(o.rounds);
  std::snprintf(title, sizeof title,
                "(b) new TCP flows (SYN, miss + insert into the %u-entry table; %llu of %zu "
                "evicted), IPIP",
                o.table, static_cast<unsigned long long>(new_evicted), inserts);
  print_case(title, r_new);
  std::snprintf(title, sizeof title,
                "(b') new TCP flows into the same table after %zu more (full: %llu of %zu "
                "evicted), IPIP",
                o.prefill, static_cast<unsigned long long>(new_full_evicted), inserts);
  print_case(title, r_new_full);
  print_case("(c) UDP/IPv4 established, GUE over IPv4", r_udp);
  print_case("(d) not a VIP (XDP_PASS)", r_pass);
  std::printf("\ncross-check, (d) with repeat=%u per frame (no syscall per run):\n", o.repeat);
  std::printf("  drop per iteration %.1f ns; net anylb %.1f ns (%.2f Mpps), net macswap %.1f ns\n",
              median(rep_drop), median(rep_net_anylb), 1e3 / median(rep_net_anylb),
              median(rep_net_macswap));

  std::printf("\nhot loop: repeat=%u per frame behind restore.bpf.c (tail call); net = mean\n"
              "          per iteration minus the same with drop in the slot\n", o.hot_repeat);
  print_hot("(a) established TCP/IPv4 (flow-table hit), IPIP", h_est);
  const size_t hot_inserts = hot_new.size() * o.hot_repeat * static_cast<size_t>(o.rounds);
  std::snprintf(title, sizeof title,
                "(b) new TCP flows, a new source every iteration (miss + insert; %llu of %zu "
                "evicted), IPIP",
                static_cast<unsigned long long>(h_new_evicted), hot_inserts);
  print_hot(title, h_new);
  std::snprintf(title, sizeof title,
                "(b') new TCP flows after the prefill (%llu of %zu evicted), IPIP",
                static_cast<unsigned long long>(h_new_full_evicted), hot_inserts);
  print_hot(title, h_new_full);
  print_hot("(c) UDP/IPv4 established, GUE over IPv4", h_udp);
  print_hot("(d) not a VIP (XDP_PASS)", h_pass);

  std::printf("\ntargets (net, ratio to the ipip control measured in the same run):\n");
  const double ipip_est = median(r_est.net[kIpip]);
  const double a = median(r_est.net[kAnylb]) / ipip_est;
  const double a_hot = median(h_est.net[kAnylb]) / median(h_est.net[kIpip]);
  const double b = median(r_new.net[kAnylb]) / median(r_new.net[kIpip]);
  const double bf = median(r_new_full.net[kAnylb]) / median(r_new_full.net[kIpip]);
  const double b_hot = median(h_new.net[kAnylb]) / median(h_new.net[kIpip]);
  const double bf_hot = median(h_new_full.net[kAnylb]) / median(h_new_full.net[kIpip]);
  // A disturbed run can leave a net figure at or below zero: no verdict then.
  auto verdict = [](double ratio, double limit) {
    return ratio <= 0 ? "DISTURBED (rerun)" : ratio <= limit ? "MET" : "NOT MET";
  };
  std::printf("  established <= 2.5x ipip: %.2fx  %s  (hot loop: %.2fx  %s)\n", a,
              verdict(a, 2.5), a_hot, verdict(a_hot, 2.5));
  std::printf("  new flows   <= 10x ipip:  %.2fx  %s  (full table: %.2fx  %s)\n", b,
              verdict(b, 10), bf, verdict(bf, 10));
  std::printf("              hot loop:     %.2fx  %s  (full table: %.2fx  %s)\n", b_hot,
              verdict(b_hot, 10), bf_hot, verdict(bf_hot, 10));
  const double miss = dependent_load_ns(o.table);
  std::printf("  for scale: one dependent load at random into %zu MiB (the table's size)\n"
              "             takes %.1f ns here = %.1fx the hot-loop ipip control\n",
              static_cast<size_t>(o.table) / ANYLB_FLOW_WAYS * sizeof(anylb_flow_group) >> 20,
              miss, miss / median(h_est.net[kIpip]));
  std::fflush(stdout);

  if (o.live && !held) std::printf("\nlive run: skipped (no private network namespace)\n");
  if (o.live && held) run_live(o, *anylb, progs[kIpip], progs[kMacswap], est_keys);
  return 0;
}

// ---- live run

void run_live(const Options& o, XdpProgram& anylb, const Prog& ipip, const Prog& macswap,
              const std::vector<anylb_flow_key>& keys) {
  std::printf("\nlive run: veth pair in a private network namespace\n");
  if (sh("ip link add bxa type veth peer name bxb && ip link set bxa up && ip link set bxb up") !=
      0) {
    std::printf("  skipped: could not create the veth pair\n");
    return;
  }
  const int a = static_cast<int>(if_nametoindex("bxa"));
  const int b = static_cast<int>(if_nametoindex("bxb"));

  bench_live* live = bench_live__open();
  if (!live) die("open live programs");
  SkelOwner<bench_live> own{live, bench_live__destroy};
  live->rodata->flows = o.live_flows;
  // The template frame's Ethernet header, which the injector writes back.
  const SyntheticFrame tmpl = make_flow_frame(keys[0], kTcpAck);
  const uint8_t* tf = tmpl.storage.data() + SyntheticFrame::kHeadroom;
  for (int i = 0; i < 14; ++i) const_cast<uint8_t&>(live->rodata->eth_header[i]) = tf[i];
  if (bench_live__load(live) != 0) die("load live programs");
  const int inject = bpf_program__fd(live->progs.bench_inject);
  const int count = bpf_program__fd(live->progs.bench_count);
  const int counters = bpf_map__fd(live->maps.counters);

  LIBBPF_OPTS(bpf_xdp_attach_opts, aopts);
  if (int err = bpf_xdp_attach(b, count, XDP_FLAGS_DRV_MODE, &aopts); err != 0) {
    std::printf("  skipped: attach the counter natively: %s\n", std::strerror(-err));
    return;
  }
  auto received = [&]() {
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<uint64_t> v(static_cast<size_t>(ncpu));
    uint32_t one = 1;
    if (bpf_map_lookup_elem(counters, &one, v.data()) != 0) die("read live counter");
    uint64_t s = 0;
    for (auto x : v) s += x;
    return s;
  };
  // Mpps of the whole pipeline: injector -> veth -> program -> veth -> counter.
  auto drive = [&](uint32_t packets) {
    xdp_md ctx{};
    ctx.ingress_ifindex = static_cast<__u32>(b);
    ctx.data_end = tmpl.len;  // the kernel wants data_end == data_size_in
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = tf, .data_size_in = tmpl.len,
                .ctx_in = &ctx, .ctx_size_in = sizeof ctx, .repeat = static_cast<int>(packets),
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
    const uint64_t r0 = received();
    const double t0 = now_ns();
    if (int err = bpf_prog_test_run_opts(inject, &opts); err != 0) {
      std::printf("  live test run: %s\n", std::strerror(-err));
      return std::pair<double, double>{0, 0};
    }
    const double t1 = now_ns();
    const uint64_t got = received() - r0;
    return std::pair<double, double>{static_cast<double>(got) / (t1 - t0) * 1e3,
                                     static_cast<double>(got) / packets};
  };
  const struct {
    const char* name;
    int fd;
  } under_test[] = {{"ipip control", ipip.fd}, {"anylb", anylb.prog_fd()},
                    {"macswap XDP_TX", macswap.fd}};
  // Each round runs every program in short chunks, one after the other, so
  // that a neighbour's burst on this shared machine hits all three alike; the
  // ratio to the control is taken chunk by chunk, from runs under a second apart.
  constexpr int kChunks = 4;
  const uint32_t chunk_packets = std::max<uint32_t>(o.live_packets / kChunks, 1);
  std::vector<double> mpps[3], delivered[3], ratio;
  uint64_t live_hits = 0, live_misses = 0;
  bool warmed[3] = {false, false, false};
  for (int round = 0; round < o.rounds; ++round) {
    for (int chunk = 0; chunk < kChunks; ++chunk) {
      double got[3] = {0, 0, 0};
      for (int k = 0; k < 3; ++k) {
        const int i = (k + round + chunk) % 3;
        if (int err = bpf_xdp_attach(a, under_test[i].fd, XDP_FLAGS_DRV_MODE, &aopts); err != 0) {
          std::printf("  skipped: attach %s natively: %s\n", under_test[i].name,
                      std::strerror(-err));
          return;
        }
        if (!warmed[i]) {  // untimed: the flows into anylb's table, caches for all
          drive(o.live_flows * 2);
          warmed[i] = true;
        }
        const anylb_path_stats before = read_path_stats(anylb.maps().path_stats);
        auto [m, d] = drive(chunk_packets);
        const anylb_path_stats after = read_path_stats(anylb.maps().path_stats);
        if (under_test[i].fd == anylb.prog_fd()) {
          live_hits += after.flow_hits - before.flow_hits;
          live_misses += after.flow_misses - before.flow_misses;
        }
        mpps[i].push_back(m);
        delivered[i].push_back(d);
        got[i] = m;
      }
      if (got[0] > 0) ratio.push_back(got[1] / got[0]);
    }
  }
  bpf_xdp_detach(a, XDP_FLAGS_DRV_MODE, &aopts);
  bpf_xdp_detach(b, XDP_FLAGS_DRV_MODE, &aopts);
  std::printf("  %u packets per program and round over %u established flows, %d rounds of %d\n"
              "  chunks (median per program);  anylb's flow table in the timed runs: %" PRIu64
              " hits, %" PRIu64 " misses\n",
              o.live_packets, o.live_flows, o.rounds, kChunks, live_hits, live_misses);
  const double ipip_mpps = median(mpps[0]);
  for (int i = 0; i < 3; ++i) {
    std::printf("  %-17s %8.2f Mpps  (%.1f ns/pkt pipeline)  x ipip time %.2f  delivered %.3f\n",
                under_test[i].name, median(mpps[i]), 1e3 / median(mpps[i]),
                ipip_mpps / median(mpps[i]), median(delivered[i]));
  }
  if (ratio.empty()) return;
  std::sort(ratio.begin(), ratio.end());
  std::printf("  anylb / ipip Mpps, chunk by chunk: median %.3f (lowest %.3f, highest %.3f, "
              "%zu chunks)  target >= 0.85: %s\n",
              median(ratio), ratio.front(), ratio.back(), ratio.size(),
              median(ratio) >= 0.85 ? "MET" : "NOT MET");
}

}  // namespace
}  // namespace anylb::bench

int main(int argc, char** argv) {
  const anylb::bench::Options o = anylb::bench::parse_args(argc, argv);
  if (geteuid() != 0) {
    std::printf("anylb-bench-xdp: skipped: BPF_PROG_TEST_RUN needs root\n");
    return 77;  // meson's "skipped", for the check run in the xdp suite
  }
  return anylb::bench::run(o);
}
