// Every (VIP, backend) pair's checks on a schedule: probes started when due
// (first ones spread over the interval, so a thousand backends are not
// probed in the same millisecond), results fed into each pair's HealthState,
// and the state changes handed back to the caller.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "control/config/config.h"
#include "control/health/health_state.h"
#include "control/health/probe.h"

namespace anylb {

struct HealthChange {
  std::string vip;
  IpAddress backend;
  Health from, to;
  std::string detail;  // the probe result that settled it
};

struct BackendHealth {
  Health health = Health::Unknown;
  uint64_t checks = 0;
  uint64_t failures = 0;
  uint32_t last_latency_ms = 0;
  std::string last_detail;
  uint32_t rise_needed = 0;
};

class HealthMonitor {
 public:
  // Takes the checks of `config`; pairs still present keep their state.
  // A VIP with kind "none" has no checks: its backends count as healthy.
  Result<bool> configure(const Config& config, uint64_t now_ms);
  // Starts what is due, waits up to wait_ms for results, records them.
  std::vector<HealthChange> step(int wait_ms, uint64_t now_ms);

  // In the tables: not known to be unhealthy. A backend not checked yet
  // keeps its configured state, so that a restarted anylbd does not empty
  // the tables of a fast path that is carrying traffic.
  bool usable(const std::string& vip, const IpAddress& backend) const;
  // Counted for announcing: passed its checks (or has none).
  bool healthy(const std::string& vip, const IpAddress& backend) const;
  BackendHealth status(const std::string& vip, const IpAddress& backend) const;
  size_t checked() const { return pairs_.size(); }
  size_t in_flight() const { return prober_.in_flight(); }
  // Probe latency of every result so far, for metrics: count and sum (ms).
  uint64_t results() const { return results_; }
  uint64_t latency_sum_ms() const { return latency_sum_ms_; }

 private:
  using Key = std::pair<std::string, IpAddress>;
  struct Pair {
    ProbeTarget target;
    uint32_t interval_ms = 2000;
    HealthState state{HealthPolicy{}};
    uint64_t next_ms = 0;
    uint64_t probe_id = 0;  // 0: none in flight
    BackendHealth seen;
  };
  Prober prober_;
  std::map<Key, Pair> pairs_;
  std::map<uint64_t, Key> by_probe_;
  uint64_t results_ = 0, latency_sum_ms_ = 0;
};

}  // namespace anylb
