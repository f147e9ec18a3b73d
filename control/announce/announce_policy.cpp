#include "control/announce/announce_policy.h"

namespace anylb {

bool AnnouncePolicy::evaluate(const AnnounceInputs& in, uint64_t now_ms) {
  const bool can = in.ready && !in.drained && in.healthy >= in.min_healthy;
  if (!can) {
    const bool for_health = in.ready && !in.drained;
    if (announced_ && for_health) withdrawn_for_health_ = true;
    announced_ = false;
    eligible_ = false;
    reason_ = !in.ready ? "not ready" : in.drained ? "drained" : "too few healthy backends";
    return announced_;
  }
  if (!eligible_) {
    eligible_ = true;
    eligible_since_ms_ = now_ms;
  }
  // Only a route withdrawn for health waits out the hold: the first
  // announcement and an undrain go out at once.
  if (!announced_ && (!withdrawn_for_health_ || now_ms - eligible_since_ms_ >= hold_ms_)) {
    announced_ = true;
    withdrawn_for_health_ = false;
  }
  reason_ = announced_ ? "healthy" : "holding down after a withdrawal";
  return announced_;
}

}  // namespace anylb
