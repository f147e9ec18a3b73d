// Per-core counters of the decision: per VIP, per backend, per drop reason.
// Sized once at start for the largest ids the state can hold, so counting is
// an index and an add, never an allocation. The drivers sum them over cores.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "abi.h"
#include "forwarding_state.h"

namespace anylb {

struct VipCounters {
  uint64_t packets = 0;  // forwarded to a backend
  uint64_t bytes = 0;    // inner IP bytes forwarded
  uint64_t new_flows = 0;
  uint64_t drops = 0;    // dropped after the VIP was found
};

struct BackendCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct Counters {
  std::vector<VipCounters> vip = std::vector<VipCounters>(kMaxVipIds);
  std::vector<BackendCounters> backend = std::vector<BackendCounters>(kMaxBackendIds);
  std::array<uint64_t, ANYLB_DROP_REASON_COUNT> drops{};
  uint64_t passed = 0;
  uint64_t transmitted = 0;
  uint64_t replied = 0;
  uint64_t rescheduled = 0;  // flow-table hits whose backend had gone: picked again
  uint64_t icmp_errors_routed = 0;
  uint64_t fragments_routed = 0;

  void add(const Counters& other);
};

const char* drop_reason_name(anylb_drop_reason reason);

}  // namespace anylb
