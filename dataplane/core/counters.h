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

// The same structs the BPF program counts in (abi.h), so that both fast
// paths' counters read and sum the same way.
using VipCounters = anylb_vip_stats;
using BackendCounters = anylb_backend_stats;

struct Counters {
  std::vector<VipCounters> vip = std::vector<VipCounters>(kMaxVipIds);
  std::vector<BackendCounters> backend = std::vector<BackendCounters>(kMaxBackendIds);
  std::array<uint64_t, ANYLB_DROP_REASON_COUNT> drops{};
  anylb_path_stats path{};  // passed, transmitted, replied, ... flow_hits, flow_misses

  void add(const Counters& other);
};

const char* drop_reason_name(anylb_drop_reason reason);

}  // namespace anylb
