// From the operator's config (and, later, health results) to the plain
// description the core builds a forwarding state from.
#pragma once

#include "control/config/config.h"
#include "dataplane/core/flow_table.h"
#include "dataplane/core/forwarding_state.h"

namespace anylb {

StateSpec state_spec_from_config(const Config& config);
FlowTimeoutsMs flow_timeouts_from_config(const FlowTimeouts& timeouts);

// Config -> spec -> state in one step, for tools that have no health checks.
Result<ForwardingState> build_state_from_config(const Config& config,
                                                const ForwardingState* previous);

}  // namespace anylb
