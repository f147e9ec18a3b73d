// The fast path anylbd drives, whichever it is: started once with the first
// state (attached, tables loaded: only then may routes be announced), then
// given every new state. Counters are summed over cores/CPUs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/config/config.h"
#include "dataplane/core/counters.h"
#include "dataplane/core/forwarding_state.h"
#include "dataplane/core/result.h"

namespace anylb {

// Flow-table fill over every core/CPU: live entries (estimated from a sample
// of each table's buckets) and capacity.
struct FlowOccupancy {
  uint64_t live = 0;
  uint64_t capacity = 0;
};

class Dataplane {
 public:
  virtual ~Dataplane() = default;
  virtual const char* kind() const = 0;
  // Before the first build: the state the fast path's tables already hold
  // (the pinned maps a previous anylbd left to XDP), for that build to keep
  // its ids; flow entries name backends by id. None for a fresh fast path.
  virtual Result<std::optional<ForwardingState>> open(const Config&) {
    return std::optional<ForwardingState>();
  }
  // Attaches the fast path with `state` loaded.
  virtual Result<bool> start(const Config& config, const ForwardingState& state) = 0;
  // Makes `state`, and the node settings and timeouts of `config`, live;
  // returns when packets see them.
  virtual Result<bool> publish(const Config& config, const ForwardingState& state) = 0;
  // What a reload from `running` to `next` changes that this fast path takes
  // only when it starts: one note per setting, for the operator.
  virtual std::vector<std::string> fixed_at_start(const Config&, const Config&) const { return {}; }
  // The fast path's counters for the VIPs and backends of `state`.
  virtual Result<std::unique_ptr<Counters>> counters(const ForwardingState& state) const = 0;
  virtual FlowOccupancy flow_occupancy() const = 0;
  // anylbd's shutdown: the XDP program stays attached (a restarted anylbd
  // takes it over with its flows); the DPDK driver stops.
  virtual void stop() = 0;
};

// The dataplane of node.dataplane. xdp_pin_root: where XDP pins its maps.
Result<std::unique_ptr<Dataplane>> make_dataplane(const Config& config,
                                                  const std::string& xdp_pin_root);

}  // namespace anylb
