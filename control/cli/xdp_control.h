// What `anylbctl xdp ...` does with an interface: apply a config (load with
// pinned maps, publish the state, attach or swap the program), read the
// counters, stop.
#pragma once

#include <memory>
#include <string>

#include "control/config/config.h"
#include "dataplane/core/result.h"
#include "dataplane/core/counters.h"
#include "xdp/state_writer.h"
#include "xdp/xdp_program.h"

namespace anylb {

struct ApplyReport {
  PublishStats publish;
  double publish_ms = 0;
  bool attached_now = false;  // false: a running program was swapped in place
};

// pin_root: where the maps and the link are pinned (kDefaultPinRoot).
Result<ApplyReport> xdp_apply(const Config& config, bool generic, const std::string& pin_root);
Result<bool> xdp_stop(const std::string& interface, const std::string& pin_root);
// The program's counters summed over CPUs, for the VIPs and backends of `state`.
Result<std::unique_ptr<Counters>> read_xdp_counters(const XdpMaps& maps,
                                                    const ForwardingState& state);

// Live flow-table entries over every CPU's table, estimated from the first
// `sample_buckets` buckets of each, and the capacity: {live, capacity}.
// now_ms: the program's clock (monotonic_ms()).
Result<std::pair<uint64_t, uint64_t>> read_xdp_flow_occupancy(const XdpMaps& maps,
                                                               uint32_t now_ms,
                                                               uint32_t sample_buckets);

// Counters summed over CPUs, as text.
Result<std::string> xdp_stats(const std::string& interface, const std::string& pin_root);

}  // namespace anylb
