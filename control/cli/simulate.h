// `anylbctl simulate`: synthetic flows through the real decision function,
// before and after a backend change, to show an operator how traffic spreads
// and how much of it a change would move.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "control/config/config.h"
#include "dataplane/core/result.h"

namespace anylb {

struct BackendChange {
  enum class Kind { Remove, Add, Weight, Drain };
  Kind kind;
  IpAddress address;
  uint32_t weight = 100;  // Add, Weight
};

// Parses "--weight 10.1.0.1=50" style values.
Result<BackendChange> parse_weight_change(std::string_view text);

// Applies changes to every VIP they concern: Remove/Weight/Drain to the VIPs
// that list the address (an address no VIP lists is an error), Add to every
// VIP of a family that can carry it that does not list it yet.
Result<Config> apply_backend_changes(const Config& config, std::span<const BackendChange> changes);

struct BackendShare {
  IpAddress address;
  uint32_t weight = 0;
  anylb_backend_state state = ANYLB_BACKEND_ACTIVE;
  uint64_t flows = 0;
  double expected = 0;  // weight share among backends taking new flows
};

struct VipSimulation {
  std::string name;
  std::string description;  // address:port/proto
  uint64_t flows = 0;
  std::vector<BackendShare> before;
  std::vector<BackendShare> after;  // empty when there were no changes
  // New connections after the change (Maglev alone, empty flow table):
  uint64_t moved_required = 0;    // their backend left the table
  uint64_t moved_rebalanced = 0;  // to a backend added or weighted up, or off one weighted down
  uint64_t moved_needless = 0;    // between backends the change did not touch
  // Established connections (the flow table from before the change kept):
  uint64_t sticky_moved_required = 0;
  uint64_t sticky_moved_needless = 0;
  uint64_t dropped_before = 0;
  uint64_t dropped_after = 0;
};

// flows_per_vip synthetic flows per VIP (clients from documentation ranges,
// deterministic for a given seed).
Result<std::vector<VipSimulation>> simulate(const Config& config, uint32_t flows_per_vip,
                                            std::span<const BackendChange> changes,
                                            uint64_t seed = 1);

std::string format_simulation(const std::vector<VipSimulation>& sims, bool changed);

}  // namespace anylb
