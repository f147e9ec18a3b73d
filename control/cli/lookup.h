// `anylbctl lookup`: where one flow would go on this config, and why.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "control/config/config.h"
#include "dataplane/core/forwarding_state.h"
#include "dataplane/core/result.h"

namespace anylb {

struct LookupQuery {
  std::string protocol;  // tcp | udp
  std::string src;
  uint16_t sport = 0;
  std::string dst;
  uint16_t dport = 0;
};

// A human-readable explanation; errors name the bad argument.
Result<std::string> explain_lookup(const Config& config, const LookupQuery& query);
// The same against a built state (the live daemon's, health applied). A new
// flow's answer: the flow table of the running fast path is not consulted.
Result<std::string> explain_lookup(const Config& config, const ForwardingState& state,
                                   const LookupQuery& query);

}  // namespace anylb
