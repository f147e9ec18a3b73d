#include "simulate.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <random>

#include "control/cli/synthetic_frame.h"
#include "control/tables/state_spec.h"
#include "dataplane/core/decide.h"
#include "dataplane/core/flow_key.h"
#include "dataplane/core/packet_view.h"

namespace anylb {
namespace {

std::vector<anylb_flow_key> make_flows(const VipConfig& vip, uint32_t n, uint64_t seed) {
  std::mt19937_64 rng(seed ^ std::hash<std::string>{}(vip.name));
  std::vector<anylb_flow_key> flows;
  flows.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    IpAddress client;
    if (vip.address.is_v4()) {
      // 198.18.0.0/15 (RFC 2544 benchmarking range): 131072 clients.
      const uint32_t host = static_cast<uint32_t>(rng() % 131072);
      client = IpAddress::v4(198, static_cast<uint8_t>(18 + (host >> 16)),
                             static_cast<uint8_t>(host >> 8), static_cast<uint8_t>(host));
    } else {
      client = *parse_ip_address("2001:db8:ffff::");  // documentation range
      const uint64_t host = rng();
      for (int b = 0; b < 8; ++b) client.bytes[8 + b] = static_cast<uint8_t>(host >> (8 * b));
    }
    const uint16_t sport = static_cast<uint16_t>(1024 + rng() % 64000);
    const uint16_t dport = vip.port != 0 ? vip.port : static_cast<uint16_t>(1 + rng() % 65535);
    flows.push_back(make_flow_key(client, sport, vip.address, dport, vip.protocol));
  }
  return flows;
}

struct RunResult {
  std::vector<uint32_t> backend_of;  // per flow: backend id or invalid (dropped)
  uint64_t dropped = 0;
};

RunResult run_flows(const std::vector<anylb_flow_key>& flows, const ForwardingState& st,
                    FlowTable& table, Counters& counters) {
  RunResult r;
  r.backend_of.reserve(flows.size());
  for (const auto& key : flows) {
    SyntheticFrame f = make_flow_frame(key, key.proto == 6 ? kTcpSyn : 0);
    PacketBuffer buf = f.buffer();
    const Decision d = decide(buf, st, table, /*now_ms=*/1000, counters);
    r.backend_of.push_back(d.verdict == ANYLB_VERDICT_TX ? d.backend_id : ANYLB_INVALID_ID);
    if (d.verdict != ANYLB_VERDICT_TX) ++r.dropped;
  }
  return r;
}

std::vector<BackendShare> shares(const Vip& vip, const ForwardingState& st, const RunResult& run) {
  std::map<uint32_t, uint64_t> counts;
  for (auto id : run.backend_of) {
    if (id != ANYLB_INVALID_ID) ++counts[id];
  }
  uint64_t total_weight = 0;
  for (auto id : vip.backend_ids) {
    const Backend* b = st.backend(id);
    if (b && b->state == ANYLB_BACKEND_ACTIVE) total_weight += b->weight;
  }
  std::vector<BackendShare> out;
  for (auto id : vip.backend_ids) {
    const Backend* b = st.backend(id);
    if (!b) continue;
    BackendShare s;
    s.address = b->address;
    s.weight = b->weight;
    s.state = b->state;
    s.flows = counts[id];
    s.expected = (b->state == ANYLB_BACKEND_ACTIVE && total_weight > 0)
                     ? double(b->weight) / double(total_weight)
                     : 0.0;
    out.push_back(s);
  }
  std::sort(out.begin(), out.end(),
            [](const BackendShare& a, const BackendShare& b) { return a.address < b.address; });
  return out;
}

}  // namespace

Result<BackendChange> parse_weight_change(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return make_error("--weight '" + std::string(text) + "': want ADDRESS=WEIGHT");
  }
  auto addr = parse_ip_address(text.substr(0, eq));
  if (!addr) return make_error("--weight '" + std::string(text) + "': " + addr.error().message);
  const std::string w(text.substr(eq + 1));
  if (w.empty() || w.size() > 5 || w.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(w) > 65535) {
    return make_error("--weight '" + std::string(text) + "': weight must be 0..65535");
  }
  return BackendChange{BackendChange::Kind::Weight, *addr, static_cast<uint32_t>(std::stoul(w))};
}

Result<Config> apply_backend_changes(const Config& config, std::span<const BackendChange> changes) {
  Config out = config;
  for (const auto& ch : changes) {
    bool applied = false;
    for (auto& vip : out.vips) {
      auto it = std::find_if(vip.backends.begin(), vip.backends.end(),
                             [&](const BackendConfig& b) { return b.address == ch.address; });
      switch (ch.kind) {
        case BackendChange::Kind::Remove:
          if (it != vip.backends.end()) {
            vip.backends.erase(it);
            applied = true;
          }
          break;
        case BackendChange::Kind::Weight:
          if (it != vip.backends.end()) {
            it->weight = ch.weight;
            applied = true;
          }
          break;
        case BackendChange::Kind::Drain:
          if (it != vip.backends.end()) {
            it->state = ANYLB_BACKEND_DRAINING;
            applied = true;
          }
          break;
        case BackendChange::Kind::Add:
          if (it == vip.backends.end() && !(vip.address.is_v6() && ch.address.is_v4())) {
            BackendConfig b;
            b.address = ch.address;
            b.weight = ch.weight;
            vip.backends.push_back(b);
            applied = true;
          } else if (it != vip.backends.end()) {
            applied = true;  // already there: nothing to add
          }
          break;
      }
    }
    if (!applied) {
      return make_error("backend " + ch.address.to_string() +
                        (ch.kind == BackendChange::Kind::Add ? ": no VIP of its address family"
                                                             : ": no VIP lists it"));
    }
  }
  return out;
}

Result<std::vector<VipSimulation>> simulate(const Config& config, uint32_t flows_per_vip,
                                            std::span<const BackendChange> changes,
                                            uint64_t seed) {
  auto before_state = build_state_from_config(config, nullptr);
  if (!before_state) return before_state.error();
  std::optional<ForwardingState> after_state;
  if (!changes.empty()) {
    auto changed = apply_backend_changes(config, changes);
    if (!changed) return changed.error();
    auto built = build_state_from_config(*changed, &*before_state);
    if (!built) return built.error();
    after_state = std::move(*built);
  }
  const FlowTimeoutsMs timeouts = flow_timeouts_from_config(config.timeouts);
  auto counters = std::make_unique<Counters>();
  std::vector<VipSimulation> sims;
  for (const auto& vc : config.vips) {
    const Vip* vip = before_state->find_vip(vc.address.bytes.data(), vc.address.family, vc.port,
                                            vc.protocol);
    if (!vip) continue;
    const auto flows = make_flows(vc, flows_per_vip, seed);
    VipSimulation sim;
    sim.name = vc.name;
    sim.description = fmt::format(fmt::runtime(vc.address.is_v6() ? "[{}]:{}/{}" : "{}:{}/{}"),
                                  vc.address.to_string(), vc.port, protocol_name(vc.protocol));
    sim.flows = flows.size();
    FlowTable sticky(flows_per_vip * 2, timeouts);
    const RunResult before = run_flows(flows, *before_state, sticky, *counters);
    sim.before = shares(*vip, *before_state, before);
    sim.dropped_before = before.dropped;
    if (after_state) {
      const Vip* vip_after = after_state->vip(vip->id);
      FlowTable fresh(flows_per_vip * 2, timeouts);
      const RunResult after_new = run_flows(flows, *after_state, fresh, *counters);
      const RunResult after_sticky = run_flows(flows, *after_state, sticky, *counters);
      sim.after = shares(*vip_after, *after_state, after_new);
      sim.dropped_after = after_new.dropped;
      auto still_in_table = [&](uint32_t id) {
        const Backend* b = after_state->backend(id);
        return b && b->state == ANYLB_BACKEND_ACTIVE && b->weight > 0;
      };
      auto still_serving = [&](uint32_t id) {
        const Backend* b = after_state->backend(id);
        return b && b->state != ANYLB_BACKEND_DOWN;
      };
      // Weight a backend had in the table before (0: not in it).
      auto weight_before = [&](uint32_t id) -> uint32_t {
        const Backend* b = before_state->backend(id);
        return b && b->state == ANYLB_BACKEND_ACTIVE ? b->weight : 0;
      };
      auto weight_after = [&](uint32_t id) -> uint32_t {
        const Backend* b = after_state->backend(id);
        return b && b->state == ANYLB_BACKEND_ACTIVE ? b->weight : 0;
      };
      for (size_t i = 0; i < flows.size(); ++i) {
        const uint32_t was = before.backend_of[i];
        const uint32_t now = after_new.backend_of[i];
        if (was == ANYLB_INVALID_ID) continue;
        if (now != was) {
          if (!still_in_table(was)) {
            ++sim.moved_required;
          } else if (weight_after(was) < weight_before(was) ||
                     (now != ANYLB_INVALID_ID && weight_after(now) > weight_before(now))) {
            ++sim.moved_rebalanced;
          } else {
            ++sim.moved_needless;
          }
        }
        if (after_sticky.backend_of[i] != was) {
          ++(still_serving(was) ? sim.sticky_moved_needless : sim.sticky_moved_required);
        }
      }
    }
    sims.push_back(std::move(sim));
  }
  return sims;
}

std::string format_simulation(const std::vector<VipSimulation>& sims, bool changed) {
  std::string out;
  auto table = [&](const std::vector<BackendShare>& rows, uint64_t flows) {
    out += fmt::format("  {:<28} {:>6} {:>9} {:>8} {:>8} {:>8}\n", "backend", "weight", "state",
                       "flows", "share", "expected");
    for (const auto& r : rows) {
      out += fmt::format("  {:<28} {:>6} {:>9} {:>8} {:>7.2f}% {:>7.2f}%\n", r.address.to_string(),
                         r.weight, backend_state_name(r.state), r.flows,
                         flows ? 100.0 * double(r.flows) / double(flows) : 0.0, 100.0 * r.expected);
    }
  };
  auto pct = [](uint64_t n, uint64_t d) { return d ? 100.0 * double(n) / double(d) : 0.0; };
  for (const auto& s : sims) {
    out += fmt::format("vip {} {}: {} flows\n", s.name, s.description, s.flows);
    table(s.before, s.flows);
    if (s.dropped_before) out += fmt::format("  dropped: {}\n", s.dropped_before);
    if (changed) {
      out += "  after the change:\n";
      table(s.after, s.flows);
      if (s.dropped_after) out += fmt::format("  dropped: {}\n", s.dropped_after);
      out += fmt::format(
          "  new connections moved: {:.2f}% (had to move {:.2f}%, rebalanced {:.2f}%, moved "
          "needlessly {:.2f}%)\n",
          pct(s.moved_required + s.moved_rebalanced + s.moved_needless, s.flows),
          pct(s.moved_required, s.flows), pct(s.moved_rebalanced, s.flows),
          pct(s.moved_needless, s.flows));
      out += fmt::format(
          "  established connections moved (flow table kept): {:.2f}% (had to move {:.2f}%, "
          "moved needlessly {:.2f}%)\n",
          pct(s.sticky_moved_required + s.sticky_moved_needless, s.flows),
          pct(s.sticky_moved_required, s.flows), pct(s.sticky_moved_needless, s.flows));
    }
    out += "\n";
  }
  return out;
}

}  // namespace anylb
