#include "xdp/xdp_decider.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>

#include <cerrno>
#include <cstring>

#include "xdp/node_config.h"

namespace anylb {

Result<std::unique_ptr<XdpDecider>> XdpDecider::create(const ForwardingState& state,
                                                       uint32_t flow_entries,
                                                       const FlowTimeoutsMs& timeouts) {
  const int cpu = sched_getcpu();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    return make_error(std::string("pin to CPU ") + std::to_string(cpu) + ": " + std::strerror(errno));
  }
  auto program = XdpProgram::load(make_node_config(state, timeouts), flow_entries, "");
  if (!program) return program.error();
  auto writer = XdpStateWriter::open((*program)->maps());
  if (!writer) return writer.error();
  std::unique_ptr<XdpDecider> d(new XdpDecider(std::move(*program), std::move(*writer), cpu));
  if (auto ok = d->publish(state); !ok) return ok.error();
  return d;
}

Result<bool> XdpDecider::publish(const ForwardingState& state) {
  auto stats = writer_.publish(state);
  if (!stats) return stats.error();
  return true;
}

// This decider's maps are private and only its own test runs touch them, so
// a counter that moved during a run moved because of that run.
template <typename T>
static Result<T> per_cpu_value(int fd, uint32_t key, int cpu) {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0 || cpu >= ncpu) return make_error("cannot count possible CPUs");
  std::vector<T> values(static_cast<size_t>(ncpu));
  if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) {
    return make_error(std::string("read per-CPU counters: ") + std::strerror(errno));
  }
  return values[static_cast<size_t>(cpu)];
}

Result<FrameResult> XdpDecider::decide(std::span<const uint8_t> frame, uint32_t /*now_ms*/) {
  // The program reads its own clock (bpf_ktime_get_coarse_ns); now_ms is the model's.
  if (frame.size() < 14) {
    // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header, and
    // no driver hands one to XDP: on the wire such a runt is dropped before
    // the program, which is what the model's eth_truncated says too.
    FrameResult runt;
    runt.verdict = ANYLB_VERDICT_DROP;
    runt.reason = ANYLB_DROP_ETH_TRUNCATED;
    return runt;
  }
  auto run = program_->test_run(frame);
  if (!run) return run.error();
  FrameResult res;
  switch (run->action) {
    case XDP_PASS: res.verdict = ANYLB_VERDICT_PASS; break;
    case XDP_DROP: res.verdict = ANYLB_VERDICT_DROP; break;
    case XDP_TX: res.verdict = ANYLB_VERDICT_TX; break;
    default: return make_error("program returned XDP action " + std::to_string(run->action));
  }
  if (res.verdict == ANYLB_VERDICT_DROP) {
    if (seen_drops_.empty()) seen_drops_.assign(ANYLB_DROP_REASON_COUNT, 0);
    for (uint32_t r = 0; r < ANYLB_DROP_REASON_COUNT; ++r) {
      auto n = per_cpu_value<uint64_t>(program_->maps().drop_stats, r, cpu_);
      if (!n) return n.error();
      if (*n != seen_drops_[r]) res.reason = static_cast<anylb_drop_reason>(r);
      seen_drops_[r] = *n;
    }
  }
  if (res.verdict == ANYLB_VERDICT_TX) {
    // XDP_TX carries both encapsulated frames and echo replies.
    auto path = per_cpu_value<anylb_path_stats>(program_->maps().path_stats, 0, cpu_);
    if (!path) return path.error();
    if (path->replied != seen_replies_) res.verdict = ANYLB_VERDICT_REPLY;
    seen_replies_ = path->replied;
    res.out = std::move(run->out);
  }
  return res;
}

}  // namespace anylb
