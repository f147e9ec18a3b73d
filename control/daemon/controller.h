// anylbd's core: the config, the backends' health, operator changes, the
// forwarding state published to the fast path, and the routes announced
// through the BGP speaker. Driven by tick() with the time passed in; the
// admin API calls its operator methods (under the daemon's lock).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/announce/announce_policy.h"
#include "control/announce/speaker.h"
#include "control/config/config.h"
#include "control/daemon/dataplane.h"
#include "control/health/health_monitor.h"
#include "control/tables/state_spec.h"

namespace anylb {

// Timings of "a check result changed a backend" to "the new tables are live".
struct PublishTimings {
  uint64_t count = 0;
  double last_ms = 0, max_ms = 0, sum_ms = 0;
  void add(double ms);
};

struct VipStatus {
  std::string name;
  IpAddress address;
  uint16_t port = 0;
  uint8_t protocol = 0;
  uint32_t healthy = 0, backends = 0, min_healthy = 0;
  bool announced = false;       // what the speaker was last told, successfully
  bool want_announced = false;  // what the policy says
  std::string reason;
};

struct BackendStatus {
  std::string vip;
  IpAddress address;
  uint32_t weight = 0;             // in effect (operator override or config)
  anylb_backend_state configured = ANYLB_BACKEND_ACTIVE;
  anylb_backend_state effective = ANYLB_BACKEND_ACTIVE;  // after health and drain grace
  BackendHealth health;
  uint32_t id = ANYLB_INVALID_ID;  // in the forwarding state
};

class Controller {
 public:
  // speaker may be null (bgp.speaker = "none").
  Controller(Config config, std::unique_ptr<Dataplane> dataplane,
             std::unique_ptr<BgpSpeaker> speaker);

  // Health checks set up, the first state built and loaded, the fast path
  // attached. Routes go out only after this succeeded.
  Result<bool> start(uint64_t now_ms);
  // Health results, drain-grace expiries, rebuild and publish when needed,
  // route decisions and speaker retries. Waits up to wait_ms for probes.
  // Returns the health changes it acted on (for the log).
  std::vector<HealthChange> tick(uint64_t now_ms, int wait_ms);

  // ---- operator actions; each error says what was wrong and changes nothing
  // A new config: validated, then only the difference applied (flows and
  // health kept). Returns notes (e.g. settings that need a restart).
  Result<std::vector<std::string>> reload(Config next, uint64_t now_ms);
  Result<bool> set_weight(const std::string& vip, const std::string& backend, int64_t weight,
                          uint64_t now_ms);
  void drain(uint64_t now_ms);
  void undrain(uint64_t now_ms);
  // Withdraws every route now; done() once bgp.shutdown_grace has passed.
  void begin_shutdown(uint64_t now_ms);
  bool shutdown_done(uint64_t now_ms) const;
  void stop_dataplane() { dataplane_->stop(); }

  // ---- views
  const Config& config() const { return config_; }
  const ForwardingState& state() const { return state_; }
  bool ready() const { return ready_; }
  bool drained() const { return drained_; }
  uint64_t drained_since_ms() const { return drained_since_ms_; }
  bool shutting_down() const { return shutdown_at_ms_.has_value(); }
  const char* dataplane_kind() const { return dataplane_->kind(); }
  const char* speaker_kind() const { return speaker_ ? speaker_->kind() : "none"; }
  const std::string& speaker_error() const { return speaker_error_; }
  // Why the last table publication failed (retried every tick), or empty.
  const std::string& publish_error() const { return publish_error_; }
  const PublishTimings& publish_timings() const { return publish_; }
  const HealthMonitor& health() const { return health_; }
  std::vector<VipStatus> vips() const;
  std::vector<BackendStatus> backends() const;
  Result<std::unique_ptr<Counters>> counters() const { return dataplane_->counters(state_); }
  uint64_t publications() const { return publish_.count; }
  FlowOccupancy flow_occupancy() const { return dataplane_->flow_occupancy(); }

 private:
  using Key = std::pair<std::string, IpAddress>;
  // In the table: not known unhealthy, and not a draining backend past node.drain_grace.
  bool usable(const std::string& vip, const IpAddress& b, uint64_t now_ms) const;
  bool past_drain_grace(const std::string& vip, const IpAddress& b, uint64_t now_ms) const;
  size_t count_past_drain_grace(uint64_t now_ms) const;
  uint32_t healthy_backends(const VipConfig& v) const;
  Result<bool> rebuild(uint64_t now_ms);
  void announce(uint64_t now_ms);
  std::string route_key(const VipConfig& v) const;
  // A drain or a shutdown sends its withdrawals at once, not after bgp.retry.
  void retry_routes_now();
  void track_draining(uint64_t now_ms);

  Config config_;
  std::unique_ptr<Dataplane> dataplane_;
  std::unique_ptr<BgpSpeaker> speaker_;
  HealthMonitor health_;
  RuntimeOverrides overrides_;
  ForwardingState state_;
  bool ready_ = false;
  bool drained_ = false;
  uint64_t drained_since_ms_ = 0;
  std::optional<uint64_t> shutdown_at_ms_;
  std::map<Key, uint64_t> draining_since_;  // configured draining, for node.drain_grace
  size_t past_grace_in_tables_ = 0;         // of those, past the grace when the tables were built
  std::map<std::string, AnnouncePolicy> policies_;  // by VIP name
  // Routes, by route_key(): what the speaker last accepted, what each is
  // (kept for withdrawing one no VIP has any more), the refusals waiting for
  // bgp.retry, and each VIP's route.
  struct RouteError {
    std::string message;
    uint64_t retry_ms = 0;
  };
  std::map<std::string, bool> told_;
  std::map<std::string, VipRoute> routes_;
  std::map<std::string, RouteError> route_errors_;
  std::map<std::string, std::string> route_of_;
  std::string speaker_error_;
  bool rebuild_pending_ = false;
  std::string publish_error_;
  PublishTimings publish_;
};

}  // namespace anylb
