// One worker lcore: polls the (port, queue) pairs it owns, decides each burst
// with the core's decide_burst(), and sends the results out again. Each pair
// is owned by exactly one worker, which is also the only one to transmit on
// that queue number of the port and of its exception port: no locks.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/core/counters.h"
#include "dataplane/core/decide.h"
#include "dataplane/core/flow_table.h"
#include "dataplane/dpdk/published_state.h"

struct rte_mbuf;

namespace anylb::dpdk {

constexpr uint16_t kNoPort = 0xffff;
// Frames a TX buffer collects before it sends them.
constexpr uint16_t kTxBufferFrames = 64;

// What the driver adds to the decision's counters: the plumbing around it.
struct alignas(64) WorkerStats {
  uint64_t rx = 0;                    // frames received from ports
  uint64_t tx = 0;                    // frames handed to a port's TX queue (TX and REPLY)
  uint64_t tx_refused = 0;            // frames a port's TX queue refused (freed)
  uint64_t exception_out = 0;         // non-VIP frames handed to the exception port
  uint64_t exception_out_refused = 0;
  uint64_t exception_in = 0;          // frames from the exception port, sent out the port
  uint64_t pass_unmirrored = 0;       // PASS on a port without exception port (freed)
  uint64_t multi_segment = 0;         // frames in chained mbufs (dropped: never on our ports)
  uint64_t loops = 0;
  uint64_t busy_loops = 0;            // loops that received at least one frame

  void add(const WorkerStats& o);
};

struct QueueAssignment {
  uint16_t port = kNoPort;
  uint16_t queue = 0;
  uint16_t exception_port = kNoPort;  // same queue number there
};

class Worker {
 public:
  // id: the worker's RCU reader id (0..workers-1).
  Worker(uint32_t id, PublishedState& state, uint32_t flow_entries, FlowTimeoutsMs timeouts,
         uint16_t burst);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void add_queue(const QueueAssignment& q);

  // The loop: poll_once() and a quiescent report, until `stop`; then the
  // pending TX is flushed and the worker goes offline for RCU.
  void run(const std::atomic<bool>& stop);
  // One pass over every owned queue: receive, decide, send. Returns frames received.
  uint32_t poll_once();

  // Read by the control thread while the worker runs: plain loads of
  // counters only the worker writes, as DPDK's examples read port stats.
  const Counters& counters() const { return *counters_; }
  const WorkerStats& stats() const { return stats_; }
  const FlowTable& flows() const { return flows_; }
  uint32_t id() const { return id_; }
  // The worker's ms clock (its flow-table deadlines are on it).
  uint32_t clock_ms() const { return now_ms(); }

 private:
  struct TxBuffer;
  struct OwnedQueue;
  void process(OwnedQueue& q, rte_mbuf** frames, uint16_t n, const ForwardingState& st,
               uint32_t now_ms);
  uint32_t now_ms() const;

  uint32_t id_;
  PublishedState& state_;
  FlowTable flows_;
  std::unique_ptr<Counters> counters_;
  WorkerStats stats_;
  uint16_t burst_;
  uint64_t tsc_per_ms_;
  std::vector<std::unique_ptr<OwnedQueue>> owned_;
};

}  // namespace anylb::dpdk
