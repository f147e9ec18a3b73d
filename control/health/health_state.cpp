#include "control/health/health_state.h"

#include <algorithm>

namespace anylb {

bool HealthState::record(bool success, uint64_t now_ms) {
  if (success) {
    ++successes_;
    failures_ = 0;
    if (health_ != Health::Healthy && successes_ >= rise_needed()) {
      change(Health::Healthy, now_ms);
      return true;
    }
  } else {
    ++failures_;
    successes_ = 0;
    // An Unknown backend is not taking traffic yet: one failure settles it.
    if (health_ == Health::Unknown || (health_ == Health::Healthy && failures_ >= policy_.fall)) {
      change(Health::Unhealthy, now_ms);
      return true;
    }
  }
  return false;
}

void HealthState::change(Health to, uint64_t now_ms) {
  const bool flapping = changed_before_ && now_ms - last_change_ms_ < policy_.flap_window_ms;
  // Leaving Unknown is the first verdict, not a flap; but a change soon
  // after it is.
  if (health_ != Health::Unknown) {
    rise_factor_ = flapping ? std::min(rise_factor_ * 2, policy_.max_rise_factor) : 1;
    ++transitions_;
  }
  changed_before_ = true;
  health_ = to;
  last_change_ms_ = now_ms;
  successes_ = 0;
  failures_ = 0;
}

const char* health_name(Health h) {
  switch (h) {
    case Health::Unknown: return "unknown";
    case Health::Healthy: return "healthy";
    case Health::Unhealthy: return "unhealthy";
  }
  return "?";
}

}  // namespace anylb
