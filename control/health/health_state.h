// One backend's health as the checks see it: rise/fall hysteresis and flap
// damping. Pure: fed probe results and a clock, no I/O, so a fake clock tests
// it (tests/control).
//
// - A backend starts Unknown and counts as not healthy until `rise`
//   consecutive successes; a healthy one needs `fall` consecutive failures to
//   go down. One odd result changes nothing.
// - Flap damping: each change of state within `flap_window_ms` of the
//   previous one doubles the successes the next rise needs (up to 8 x rise);
//   a quiet window resets it. A backend that keeps flapping therefore stays
//   down instead of churning the Maglev table with every blip.
#pragma once

#include <cstdint>

namespace anylb {

enum class Health : uint8_t { Unknown, Healthy, Unhealthy };

struct HealthPolicy {
  uint32_t rise = 2;
  uint32_t fall = 3;
  uint32_t flap_window_ms = 60'000;
  uint32_t max_rise_factor = 8;
};

class HealthState {
 public:
  explicit HealthState(HealthPolicy policy) : policy_(policy) {}

  // Records one probe result at now_ms; true when the state changed.
  bool record(bool success, uint64_t now_ms);

  // A reload's new rise/fall; what was learnt so far stays.
  void set_policy(const HealthPolicy& policy) { policy_ = policy; }
  Health health() const { return health_; }
  bool healthy() const { return health_ == Health::Healthy; }
  // Successes the next rise needs (rise x the flap factor).
  uint32_t rise_needed() const { return policy_.rise * rise_factor_; }
  uint32_t transitions() const { return transitions_; }
  uint64_t last_change_ms() const { return last_change_ms_; }

 private:
  void change(Health to, uint64_t now_ms);

  HealthPolicy policy_;
  Health health_ = Health::Unknown;
  uint32_t successes_ = 0;  // consecutive
  uint32_t failures_ = 0;   // consecutive
  uint32_t rise_factor_ = 1;
  uint32_t transitions_ = 0;
  uint64_t last_change_ms_ = 0;
  bool changed_before_ = false;
};

const char* health_name(Health h);

}  // namespace anylb
