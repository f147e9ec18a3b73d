// From the operator's config (and, later, health results) to the plain
// description the core builds a forwarding state from.
#pragma once

#include <functional>
#include <map>
#include <utility>

#include "control/config/config.h"
#include "dataplane/core/flow_table.h"
#include "dataplane/core/forwarding_state.h"

namespace anylb {

StateSpec state_spec_from_config(const Config& config);

// What the control plane knows beyond the config: changes an operator made
// at run time (anylbctl weight), keyed by (VIP name, backend address).
struct RuntimeOverrides {
  std::map<std::pair<std::string, IpAddress>, uint32_t> weights;
};
using HealthyFn = std::function<bool(const std::string& vip, const IpAddress& backend)>;

// The spec with health and overrides applied: an operator weight replaces
// the config's; a backend its checks call unhealthy is down (out of the
// table, its flows rescheduled), whatever its configured state.
StateSpec state_spec_from_config(const Config& config, const HealthyFn& healthy,
                                 const RuntimeOverrides& overrides);
FlowTimeoutsMs flow_timeouts_from_config(const FlowTimeouts& timeouts);

// Config -> spec -> state in one step, for tools that have no health checks.
Result<ForwardingState> build_state_from_config(const Config& config,
                                                const ForwardingState* previous);

}  // namespace anylb
