// The BPF program's knobs (rodata, set before load) from the core's state
// and the flow timeouts: the same values the C++ decision reads.
#pragma once

#include "dataplane/core/flow_table.h"
#include "dataplane/core/forwarding_state.h"
#include "xdp/anylb_maps.h"

namespace anylb {

anylb_node_config make_node_config(const ForwardingState& state, const FlowTimeoutsMs& timeouts);

}  // namespace anylb
