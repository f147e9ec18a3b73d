#include "control/daemon/controller.h"

#include <algorithm>
#include <chrono>
#include <new>
#include <set>

namespace anylb {

void PublishTimings::add(double ms) {
  ++count;
  last_ms = ms;
  sum_ms += ms;
  if (ms > max_ms) max_ms = ms;
}

Controller::Controller(Config config, std::unique_ptr<Dataplane> dataplane,
                       std::unique_ptr<BgpSpeaker> speaker)
    : config_(std::move(config)), dataplane_(std::move(dataplane)), speaker_(std::move(speaker)) {}

bool Controller::past_drain_grace(const std::string& vip, const IpAddress& b,
                                  uint64_t now_ms) const {
  if (config_.node.drain_grace_ms == 0) return false;
  auto it = draining_since_.find({vip, b});
  return it != draining_since_.end() && now_ms - it->second >= config_.node.drain_grace_ms;
}

size_t Controller::count_past_drain_grace(uint64_t now_ms) const {
  size_t n = 0;
  for (const auto& [key, since] : draining_since_) n += past_drain_grace(key.first, key.second, now_ms);
  return n;
}

uint32_t Controller::healthy_backends(const VipConfig& v) const {
  // Only active backends that passed their checks and take new flows count
  // towards min_healthy (a draining one past node.drain_grace is not active
  // to begin with; one of weight 0, by config or operator, is in no table).
  uint32_t n = 0;
  for (const BackendConfig& b : v.backends) {
    auto w = overrides_.weights.find({v.name, b.address});
    const uint32_t weight = w != overrides_.weights.end() ? w->second : b.weight;
    n += b.state == ANYLB_BACKEND_ACTIVE && weight > 0 && health_.healthy(v.name, b.address);
  }
  return n;
}

bool Controller::usable(const std::string& vip, const IpAddress& b, uint64_t now_ms) const {
  return health_.usable(vip, b) && !past_drain_grace(vip, b, now_ms);
}

void Controller::track_draining(uint64_t now_ms) {
  std::map<Key, uint64_t> next;
  for (const VipConfig& v : config_.vips) {
    for (const BackendConfig& b : v.backends) {
      if (b.state != ANYLB_BACKEND_DRAINING) continue;
      auto it = draining_since_.find({v.name, b.address});
      next[{v.name, b.address}] = it != draining_since_.end() ? it->second : now_ms;
    }
  }
  draining_since_ = std::move(next);
}

Result<bool> Controller::rebuild(uint64_t now_ms) {
  const StateSpec spec = state_spec_from_config(
      config_, [&](const std::string& v, const IpAddress& b) { return usable(v, b, now_ms); },
      overrides_);
  // Over the state before (empty at the first build, unless the fast path
  // kept one from a previous anylbd): ids stay with what they name.
  Result<ForwardingState> built = make_error("");
  try {
    built = build_forwarding_state(spec, &state_);
  } catch (const std::bad_alloc&) {
    return make_error("state: out of memory building the tables");
  }
  if (!built) return built.error();
  if (ready_) {
    if (auto ok = dataplane_->publish(config_, *built); !ok) {
      // Some of it may be in the fast path already. Whatever the caller puts
      // back (a refused reload restores the old config) is published again
      // on the next tick, over what the maps now hold.
      rebuild_pending_ = true;
      return ok.error();
    }
  }
  state_ = std::move(*built);
  past_grace_in_tables_ = count_past_drain_grace(now_ms);
  return true;
}

Result<bool> Controller::start(uint64_t now_ms) {
  auto running = dataplane_->open(config_);
  if (!running) return running.error();
  if (*running) state_ = std::move(**running);
  if (auto ok = health_.configure(config_, now_ms); !ok) return ok.error();
  track_draining(now_ms);
  if (auto ok = rebuild(now_ms); !ok) return ok.error();
  if (auto ok = dataplane_->start(config_, state_); !ok) return ok.error();
  ready_ = true;
  announce(now_ms);
  return true;
}

std::vector<HealthChange> Controller::tick(uint64_t now_ms, int wait_ms) {
  const auto changes = health_.step(wait_ms, now_ms);
  // A draining backend crossing node.drain_grace is a change too; the tables
  // remember how many had crossed when they were built.
  const bool grace_expired = count_past_drain_grace(now_ms) != past_grace_in_tables_;
  if (!changes.empty() || grace_expired) rebuild_pending_ = true;
  // A failed publish is tried again on every tick until it goes through:
  // the health change it carried has been taken and will not come again.
  if (ready_ && rebuild_pending_) {
    const auto t0 = std::chrono::steady_clock::now();
    if (auto ok = rebuild(now_ms); ok) {
      publish_.add(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                       .count());
      rebuild_pending_ = false;
      publish_error_.clear();
    } else {
      publish_error_ = ok.error().message;
    }
  }
  announce(now_ms);
  return changes;
}

std::string Controller::route_key(const VipConfig& v) const {
  // What the speaker acts on. ExaBGP is told prefixes, and VIPs on one
  // address (other ports) share theirs. BIRD holds a static protocol per VIP,
  // named from the VIP's name: a reload that renames web-1 to web_1 keeps the
  // same protocol, so it must stay one route.
  switch (config_.bgp.speaker) {
    case SpeakerKind::ExaBgp: return v.address.to_string() + (v.address.is_v6() ? "/128" : "/32");
    case SpeakerKind::Bird: return bird_protocol_name(config_.bgp.protocol_prefix, v.name);
    case SpeakerKind::None: break;
  }
  return v.name;
}

void Controller::announce(uint64_t now_ms) {
  std::map<std::string, bool> wanted;  // by route
  const bool withdrawn_by_operator = drained_ || shutdown_at_ms_.has_value();
  route_of_.clear();
  for (const VipConfig& v : config_.vips) {
    const uint32_t healthy = healthy_backends(v);
    auto it = policies_.try_emplace(v.name, config_.bgp.announce_hold_ms).first;
    const bool want =
        it->second.evaluate({ready_, withdrawn_by_operator, healthy, v.min_healthy}, now_ms);
    const std::string key = route_key(v);
    route_of_[v.name] = key;
    routes_[key] = {v.name, v.address};
    wanted[key] = wanted[key] || want;  // a shared prefix: while any of its VIPs wants it
  }
  // A route no VIP of the config has any more (a VIP removed, an address
  // changed) is withdrawn.
  for (const auto& [key, was] : told_) wanted.try_emplace(key, false);

  // Each route on its own: one the speaker refuses (a protocol missing from
  // BIRD's config) waits bgp.retry without holding back the others.
  // Announcements go before withdrawals, so that a VIP moving to another
  // prefix has a route all the time.
  std::vector<std::pair<std::string, bool>> order(wanted.begin(), wanted.end());
  std::stable_partition(order.begin(), order.end(), [](const auto& w) { return w.second; });
  for (const auto& [key, want] : order) {
    auto told = told_.find(key);
    if (told != told_.end() && told->second == want) {
      route_errors_.erase(key);
      continue;
    }
    auto failed = route_errors_.find(key);
    if (failed != route_errors_.end() && now_ms < failed->second.retry_ms) continue;
    // Also a first "withdraw": a previous anylbd may have left it announced.
    if (speaker_) {
      if (auto ok = speaker_->set(routes_[key], want); !ok) {
        route_errors_[key] = {"route '" + key + "': " + ok.error().message,
                              now_ms + config_.bgp.retry_ms};
        continue;
      }
    }
    told_[key] = want;
    route_errors_.erase(key);
  }
  // A route no VIP has any more is forgotten once it is withdrawn, or if
  // the speaker never took it (a first announcement refused).
  std::set<std::string> live;
  for (const auto& [name, key] : route_of_) live.insert(key);
  for (auto it = routes_.begin(); it != routes_.end();) {
    auto told = told_.find(it->first);
    const bool done = !live.count(it->first) && (told == told_.end() || !told->second);
    if (done) {
      route_errors_.erase(it->first);
      if (told != told_.end()) told_.erase(told);
    }
    it = done ? routes_.erase(it) : std::next(it);
  }
  speaker_error_.clear();
  for (const auto& [key, e] : route_errors_) {
    speaker_error_ += (speaker_error_.empty() ? "" : "; ") + e.message;
  }
}

Result<std::vector<std::string>> Controller::reload(Config next, uint64_t now_ms) {
  std::vector<std::string> notes;
  auto restart_note = [&](bool changed, const char* what) {
    if (changed) notes.push_back(std::string(what) + " changed: takes effect on restart");
  };
  restart_note(next.node.dataplane != config_.node.dataplane, "node.dataplane");
  restart_note(next.node.interface != config_.node.interface, "node.interface");
  restart_note(next.node.flow_table_entries != config_.node.flow_table_entries,
               "node.flow_table_entries");
  restart_note(next.bgp.speaker != config_.bgp.speaker || next.bgp.bird_socket != config_.bgp.bird_socket,
               "bgp.speaker");
  restart_note(next.api.socket != config_.api.socket || next.api.tcp_port != config_.api.tcp_port,
               "[api]");
  // A new seed moves nearly every flow to another group and Maglev slot: the
  // flow table would lose every connection. Only a restart of every node of
  // the PoP together, in a quiet hour, should do that.
  restart_note(next.node.hash_seed != config_.node.hash_seed, "node.hash_seed");
  restart_note(next.bgp.protocol_prefix != config_.bgp.protocol_prefix ||
                   next.bgp.exabgp_pipe != config_.bgp.exabgp_pipe,
               "bgp.protocol_prefix or bgp.exabgp_pipe");
  for (std::string& n : dataplane_->fixed_at_start(config_, next)) notes.push_back(std::move(n));
  // Try everything on copies first: a bad config changes nothing.
  HealthMonitor probe_check;
  if (auto ok = probe_check.configure(next, now_ms); !ok) return ok.error();
  Config old = std::move(config_);
  config_ = std::move(next);
  // Settings that need a restart keep their running values.
  config_.node.dataplane = old.node.dataplane;
  config_.node.interface = old.node.interface;
  config_.node.flow_table_entries = old.node.flow_table_entries;
  config_.node.hash_seed = old.node.hash_seed;
  config_.bgp.speaker = old.bgp.speaker;
  config_.bgp.bird_socket = old.bgp.bird_socket;
  config_.api = old.api;
  config_.dpdk = old.dpdk;
  config_.bgp.protocol_prefix = old.bgp.protocol_prefix;
  config_.bgp.exabgp_pipe = old.bgp.exabgp_pipe;
  // An operator weight lasts until the config says something new about the
  // backend: it goes with the backend, or when the config's weight changes.
  auto config_weight = [](const Config& c, const Key& k) -> std::optional<uint32_t> {
    for (const VipConfig& v : c.vips) {
      if (v.name != k.first) continue;
      for (const BackendConfig& b : v.backends) {
        if (b.address == k.second) return b.weight;
      }
    }
    return std::nullopt;
  };
  auto saved_weights = overrides_.weights;
  for (auto it = overrides_.weights.begin(); it != overrides_.weights.end();) {
    const auto now = config_weight(config_, it->first);
    const bool keep = now && now == config_weight(old, it->first);
    it = keep ? std::next(it) : overrides_.weights.erase(it);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto saved_draining = draining_since_;
  track_draining(now_ms);
  if (auto ok = rebuild(now_ms); !ok) {
    config_ = std::move(old);
    draining_since_ = std::move(saved_draining);
    overrides_.weights = std::move(saved_weights);
    return ok.error();
  }
  publish_.add(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  (void)health_.configure(config_, now_ms);  // checked above: cannot fail now
  // The tables above were built on the old checks' results. A check the
  // reload changed (or turned off) gives new ones now: build again on those,
  // or a backend an old check had failed would stay out of its VIP's table.
  if (auto ok = rebuild(now_ms); !ok) {
    rebuild_pending_ = true;
    publish_error_ = ok.error().message;
  }
  for (auto it = policies_.begin(); it != policies_.end();) {
    bool present = false;
    for (const VipConfig& v : config_.vips) present = present || v.name == it->first;
    it = present ? std::next(it) : policies_.erase(it);
  }
  announce(now_ms);
  return notes;
}

Result<bool> Controller::set_weight(const std::string& vip, const std::string& backend,
                                    int64_t weight, uint64_t now_ms) {
  if (weight < 0 || weight > 65535) {
    return make_error("weight " + std::to_string(weight) + ": must be 0..65535");
  }
  auto address = parse_ip_address(backend);
  if (!address) return make_error("backend '" + backend + "': not an IP address");
  const VipConfig* v = nullptr;
  for (const VipConfig& c : config_.vips) v = c.name == vip ? &c : v;
  if (v == nullptr) return make_error("unknown VIP '" + vip + "'");
  bool found = false;
  for (const BackendConfig& b : v->backends) found = found || b.address == *address;
  if (!found) return make_error("VIP '" + vip + "' has no backend " + address->to_string());
  const auto key = std::make_pair(vip, *address);
  auto saved = overrides_.weights;
  overrides_.weights[key] = static_cast<uint32_t>(weight);
  if (auto ok = rebuild(now_ms); !ok) {
    overrides_.weights = std::move(saved);
    return ok.error();
  }
  announce(now_ms);
  return true;
}

void Controller::retry_routes_now() {
  for (auto& [key, e] : route_errors_) e.retry_ms = 0;
}

void Controller::drain(uint64_t now_ms) {
  if (!drained_) drained_since_ms_ = now_ms;
  drained_ = true;
  retry_routes_now();  // the withdrawals go out now, whatever waits for a retry
  announce(now_ms);
}

void Controller::undrain(uint64_t now_ms) {
  drained_ = false;
  announce(now_ms);
}

void Controller::begin_shutdown(uint64_t now_ms) {
  if (!shutdown_at_ms_) shutdown_at_ms_ = now_ms;
  retry_routes_now();
  announce(now_ms);
}

bool Controller::shutdown_done(uint64_t now_ms) const {
  return shutdown_at_ms_ && now_ms - *shutdown_at_ms_ >= config_.bgp.shutdown_grace_ms;
}

std::vector<VipStatus> Controller::vips() const {
  std::vector<VipStatus> out;
  for (const VipConfig& v : config_.vips) {
    VipStatus s;
    s.name = v.name;
    s.address = v.address;
    s.port = v.port;
    s.protocol = v.protocol;
    s.min_healthy = v.min_healthy;
    s.backends = static_cast<uint32_t>(v.backends.size());
    s.healthy = healthy_backends(v);
    auto route = route_of_.find(v.name);
    auto told = route != route_of_.end() ? told_.find(route->second) : told_.end();
    s.announced = told != told_.end() && told->second;
    auto p = policies_.find(v.name);
    s.want_announced = p != policies_.end() && p->second.announced();
    s.reason = p != policies_.end() ? p->second.reason() : "not evaluated";
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<BackendStatus> Controller::backends() const {
  std::vector<BackendStatus> out;
  for (const VipConfig& v : config_.vips) {
    const Vip* vip = state_.find_vip_by_name(v.name);
    for (const BackendConfig& b : v.backends) {
      BackendStatus s;
      s.vip = v.name;
      s.address = b.address;
      s.configured = b.state;
      auto w = overrides_.weights.find({v.name, b.address});
      s.weight = w != overrides_.weights.end() ? w->second : b.weight;
      s.health = health_.status(v.name, b.address);
      s.effective = b.state;
      if (vip != nullptr) {
        for (uint32_t id : vip->backend_ids) {
          const Backend* be = state_.backend(id);
          if (be != nullptr && be->address == b.address) {
            s.effective = be->state;
            s.id = id;
          }
        }
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace anylb
