// The DPDK fast path: ports, mbuf pool, one Worker per worker lcore, and the
// RCU-published forwarding state. The EAL must be up (init_eal) before
// start(); one driver runs at a time in a process.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/core/counters.h"
#include "dataplane/core/flow_table.h"
#include "dataplane/core/forwarding_state.h"
#include "dataplane/core/result.h"
#include "dataplane/dpdk/port.h"
#include "dataplane/dpdk/published_state.h"
#include "dataplane/dpdk/worker.h"

struct rte_mempool;

namespace anylb::dpdk {

struct DriverPort {
  std::string device;            // vdev string, PCI address, or an existing port's name
  std::string exception_device;  // mirrors the port for the kernel; empty: none
};

struct DriverOptions {
  std::vector<DriverPort> ports;
  uint32_t mbufs = 16383;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  uint16_t burst = 32;
  uint32_t flow_entries = 1u << 20;  // per worker
  FlowTimeoutsMs timeouts;
};

// The exception device for a kernel TAP named `tap`: DPDK's net_tap, with the
// kernel interface called `tap`.
std::string tap_device(const std::string& tap);

struct DriverStats {
  Counters counters;      // the decision's, summed over workers
  WorkerStats plumbing;   // the driver's, summed over workers
  std::vector<WorkerStats> per_worker;
  FlowTableStats flows;   // summed over workers
  uint64_t publications = 0;
};

class Driver {
 public:
  static Result<std::unique_ptr<Driver>> start(const DriverOptions& options,
                                               ForwardingState initial);
  ~Driver();  // stops if still running
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Publishes a new state to every worker (RCU); returns microseconds waited
  // for the workers to let go of the old one.
  uint64_t publish(ForwardingState next);
  const ForwardingState& state() const { return published_->latest(); }

  std::unique_ptr<DriverStats> stats() const;
  // {live entries (estimated from each worker's first sample_buckets
  // buckets), capacity} over the workers' flow tables.
  std::pair<uint64_t, uint64_t> flow_occupancy(uint32_t sample_buckets) const;
  const std::vector<PortSetup>& ports() const { return ports_; }
  const std::vector<PortSetup>& exception_ports() const { return exception_ports_; }
  uint32_t workers() const { return static_cast<uint32_t>(workers_.size()); }

  // Stops the workers, then the ports. Returns mbufs of the driver's pool
  // not back in it (0 unless something leaked). Idempotent.
  uint32_t stop();

 private:
  Driver() = default;
  static int worker_main(void* arg);

  rte_mempool* pool_ = nullptr;
  uint32_t pool_size_ = 0;
  std::unique_ptr<PublishedState> published_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<unsigned> lcores_;
  std::vector<PortSetup> ports_;
  std::vector<PortSetup> exception_ports_;
  std::atomic<bool> stop_{false};
  bool launched_ = false;
  bool stopped_ = false;
  uint32_t leaked_ = 0;
};

}  // namespace anylb::dpdk
