// Whether this node should announce a VIP's prefix: pure, fed the VIP's
// healthy-backend count, the node's drain and readiness, and a clock.
//
// - Nothing is announced before the fast path is attached and its tables
//   are loaded (`ready`), nor while the node is drained.
// - A VIP is announced while at least min_healthy of its backends are
//   healthy. Withdrawal is immediate (sending traffic to a VIP that cannot
//   serve it is worse than moving it); announcing again after such a
//   withdrawal waits until the condition has held for `announce_hold_ms`, so
//   a VIP whose backends flap around min_healthy does not flap its route
//   (hysteresis). The first announcement and an undrain are immediate.
#pragma once

#include <cstdint>

namespace anylb {

struct AnnounceInputs {
  bool ready = false;    // fast path attached, tables loaded
  bool drained = false;  // operator drain (anylbctl drain) or shutdown
  uint32_t healthy = 0;
  uint32_t min_healthy = 1;
};

class AnnouncePolicy {
 public:
  explicit AnnouncePolicy(uint32_t announce_hold_ms) : hold_ms_(announce_hold_ms) {}

  // The decision at now_ms; call on every change and periodically.
  bool evaluate(const AnnounceInputs& in, uint64_t now_ms);
  bool announced() const { return announced_; }
  // Why the VIP is (not) announced, for status and logs.
  const char* reason() const { return reason_; }

 private:
  uint32_t hold_ms_;
  bool announced_ = false;
  bool eligible_ = false;
  bool withdrawn_for_health_ = false;
  uint64_t eligible_since_ms_ = 0;
  const char* reason_ = "not ready";
};

}  // namespace anylb
