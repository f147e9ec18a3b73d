#include "control/health/health_monitor.h"

#include <functional>

namespace anylb {

Result<bool> HealthMonitor::configure(const Config& config, uint64_t now_ms) {
  std::map<Key, Pair> next;
  for (const VipConfig& vip : config.vips) {
    const HealthCheckConfig& h = vip.health;
    if (h.kind == HealthCheckKind::None) continue;
    auto send = decode_escapes(h.udp_send);
    if (!send) return make_error("vip '" + vip.name + "': health.send: " + send.error().message);
    auto expect = decode_escapes(h.udp_expect);
    if (!expect) {
      return make_error("vip '" + vip.name + "': health.expect: " + expect.error().message);
    }
    for (const BackendConfig& b : vip.backends) {
      Key key{vip.name, b.address};
      Pair p;
      p.target.kind = h.kind;
      p.target.address = b.address;
      p.target.port = h.port != 0 ? h.port : vip.port;
      p.target.timeout_ms = h.timeout_ms;
      p.target.http_path = h.http_path;
      p.target.http_expect_status = h.http_expect_status;
      p.target.udp_send = *send;
      p.target.udp_expect = *expect;
      p.target.command = h.command;
      p.interval_ms = h.interval_ms;
      HealthPolicy policy;
      policy.rise = h.rise;
      policy.fall = h.fall;
      if (auto old = pairs_.find(key); old != pairs_.end()) {
        // Same pair: keep what it has learnt (a reload must not reset health).
        p.state = old->second.state;
        p.state.set_policy(policy);
        p.next_ms = old->second.next_ms;
        p.probe_id = old->second.probe_id;
        p.seen = old->second.seen;
      } else {
        p.state = HealthState(policy);
        // Spread first probes over the interval, by the pair's identity.
        const size_t spread = std::hash<std::string>{}(vip.name + b.address.to_string());
        p.next_ms = now_ms + spread % std::max<uint32_t>(h.interval_ms, 1);
      }
      next.emplace(std::move(key), std::move(p));
    }
  }
  // Results of probes for pairs that are gone are dropped when they arrive.
  pairs_ = std::move(next);
  return true;
}

std::vector<HealthChange> HealthMonitor::step(int wait_ms, uint64_t now_ms) {
  for (auto& [key, p] : pairs_) {
    if (p.probe_id == 0 && now_ms >= p.next_ms) {
      p.probe_id = prober_.start(p.target, now_ms);
      by_probe_[p.probe_id] = key;
      p.next_ms = now_ms + p.interval_ms;
    }
  }
  std::vector<HealthChange> changes;
  prober_.poll(wait_ms, now_ms, [&](const ProbeResult& r) {
    auto k = by_probe_.find(r.id);
    if (k == by_probe_.end()) return;
    const Key key = k->second;
    by_probe_.erase(k);
    auto it = pairs_.find(key);
    if (it == pairs_.end() || it->second.probe_id != r.id) return;
    Pair& p = it->second;
    p.probe_id = 0;
    ++results_;
    latency_sum_ms_ += r.latency_ms;
    p.seen.checks++;
    if (!r.ok) p.seen.failures++;
    p.seen.last_latency_ms = r.latency_ms;
    p.seen.last_detail = r.detail;
    const Health before = p.state.health();
    if (p.state.record(r.ok, now_ms)) {
      changes.push_back({key.first, key.second, before, p.state.health(), r.detail});
    }
    p.seen.health = p.state.health();
    p.seen.rise_needed = p.state.rise_needed();
  });
  return changes;
}

bool HealthMonitor::usable(const std::string& vip, const IpAddress& backend) const {
  auto it = pairs_.find({vip, backend});
  return it == pairs_.end() || it->second.state.health() != Health::Unhealthy;
}

bool HealthMonitor::healthy(const std::string& vip, const IpAddress& backend) const {
  auto it = pairs_.find({vip, backend});
  return it == pairs_.end() || it->second.state.healthy();  // unchecked: healthy
}

BackendHealth HealthMonitor::status(const std::string& vip, const IpAddress& backend) const {
  auto it = pairs_.find({vip, backend});
  if (it == pairs_.end()) {
    BackendHealth h;
    h.health = Health::Healthy;
    h.last_detail = "not checked";
    return h;
  }
  return it->second.seen;
}

}  // namespace anylb
