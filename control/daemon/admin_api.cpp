#include "control/daemon/admin_api.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "control/cli/lookup.h"

namespace anylb {

namespace {

using nlohmann::json;

// Replies echo request input (a path, a lookup's addresses), which may be any
// bytes: invalid UTF-8 becomes U+FFFD rather than a type_error thrown out of
// the server thread.
std::string dump(const json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

HttpResponse reply(int status, const json& body) { return {status, "application/json", dump(body, 2) + "\n"}; }
HttpResponse error(int status, const std::string& message) {
  return reply(status, json{{"error", message}});
}

json status_json(const Controller& c) {
  const PublishTimings& p = c.publish_timings();
  const FlowOccupancy flows = c.flow_occupancy();
  return {{"node", c.config().node.name},
          {"flows", {{"live_estimate", flows.live}, {"capacity", flows.capacity}}},
          {"dataplane", c.dataplane_kind()},
          {"ready", c.ready()},
          {"drained", c.drained()},
          {"shutting_down", c.shutting_down()},
          {"speaker", {{"kind", c.speaker_kind()},
                       {"state", c.speaker_error().empty() ? "ok" : "error"},
                       {"error", c.speaker_error()}}},
          {"publications", {{"count", p.count}, {"last_ms", p.last_ms}, {"max_ms", p.max_ms},
                            {"mean_ms", p.count ? p.sum_ms / double(p.count) : 0.0},
                            {"error", c.publish_error()}}},
          {"health_checks", {{"pairs", c.health().checked()}, {"in_flight", c.health().in_flight()},
                             {"results", c.health().results()}}}};
}

json vips_json(const Controller& c) {
  auto counters = c.counters();
  json out = json::array();
  for (const VipStatus& v : c.vips()) {
    json j = {{"name", v.name},
              {"address", v.address.to_string()},
              {"port", v.port},
              {"protocol", protocol_name(v.protocol)},
              {"announced", v.announced},
              {"wanted", v.want_announced},
              {"reason", v.reason},
              {"healthy", v.healthy},
              {"backends", v.backends},
              {"min_healthy", v.min_healthy}};
    const Vip* vip = c.state().find_vip_by_name(v.name);
    if (counters && vip != nullptr) {
      const VipCounters& k = (*counters)->vip[vip->id];
      j["packets"] = k.packets;
      j["bytes"] = k.bytes;
      j["new_flows"] = k.new_flows;
      j["drops"] = k.drops;
    }
    out.push_back(std::move(j));
  }
  return out;
}

json backends_json(const Controller& c) {
  auto counters = c.counters();
  json out = json::array();
  for (const BackendStatus& b : c.backends()) {
    json j = {{"vip", b.vip},
              {"address", b.address.to_string()},
              {"weight", b.weight},
              {"configured", backend_state_name(b.configured)},
              {"state", backend_state_name(b.effective)},
              {"health", health_name(b.health.health)},
              {"checks", b.health.checks},
              {"failures", b.health.failures},
              {"last_check", b.health.last_detail},
              {"latency_ms", b.health.last_latency_ms}};
    if (counters && b.id != ANYLB_INVALID_ID) {
      j["packets"] = (*counters)->backend[b.id].packets;
      j["bytes"] = (*counters)->backend[b.id].bytes;
    }
    out.push_back(std::move(j));
  }
  return out;
}

HttpResponse post_weight(const HttpRequest& r, Controller& c, const ApiContext& ctx) {
  json body;
  try {
    body = json::parse(r.body);
  } catch (const json::parse_error& e) {
    return error(400, std::string("body: not JSON: ") + e.what());
  }
  if (!body.is_object() || !body.contains("vip") || !body["vip"].is_string() ||
      !body.contains("backend") || !body["backend"].is_string() || !body.contains("weight") ||
      !body["weight"].is_number_integer()) {
    return error(400, "body: want {\"vip\": string, \"backend\": string, \"weight\": integer}");
  }
  const std::string vip = body["vip"], backend = body["backend"];
  // Checked before converting: above INT64_MAX the value would wrap (and be
  // reported as some other number); the message quotes what the client sent.
  const json& w = body["weight"];
  if (w.is_number_unsigned() ? w.get<uint64_t>() > 65535 : w.get<int64_t>() < 0) {
    return error(422, "weight " + dump(w) + ": must be 0..65535");
  }
  const int64_t weight = w.get<int64_t>();
  auto ok = c.set_weight(vip, backend, weight, ctx.now_ms());
  if (!ok) {
    const std::string& m = ok.error().message;
    return error(m.rfind("unknown VIP", 0) == 0 || m.find("has no backend") != std::string::npos
                     ? 404
                     : 422,
                 m);
  }
  return reply(200, json{{"vip", vip}, {"backend", backend}, {"weight", weight}});
}

HttpResponse post_reload(Controller& c, const ApiContext& ctx) {
  auto next = load_config_or_default(ctx.config_path);
  if (!next) return error(400, next.error().message);
  auto notes = c.reload(std::move(*next), ctx.now_ms());
  if (!notes) return error(400, notes.error().message);
  return reply(200, json{{"reloaded", true}, {"notes", *notes},
                         {"vips", c.config().vips.size()}});
}

HttpResponse get_lookup(const HttpRequest& r, const Controller& c) {
  LookupQuery q;
  auto get = [&](const char* k) -> std::string {
    auto it = r.query.find(k);
    return it == r.query.end() ? "" : it->second;
  };
  auto port = [&](const char* k, uint16_t& out) -> bool {
    const std::string v = get(k);
    char* end = nullptr;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 0 || n > 65535) return false;
    out = static_cast<uint16_t>(n);
    return true;
  };
  q.protocol = get("protocol");
  q.src = get("src");
  q.dst = get("dst");
  if (!port("sport", q.sport) || !port("dport", q.dport)) {
    return error(400, "sport and dport: want integers 0..65535");
  }
  auto text = explain_lookup(c.config(), c.state(), q);
  if (!text) return error(400, text.error().message);
  return {200, "text/plain; charset=utf-8", *text};
}

}  // namespace

HttpResponse handle_api(const HttpRequest& r, Controller& c, const ApiContext& ctx) {
  const bool get = r.method == "GET", post = r.method == "POST";
  // The TCP port is for a Prometheus scraper, and every local user can reach
  // it: the rest of the API (drain, reload, weight, and what it tells about
  // the backends) stays behind the 0600 Unix socket.
  if (r.from_tcp && !(r.path == "/metrics" && get)) {
    return error(403, r.method + " " + r.path +
                          ": the TCP port serves only GET /metrics; the rest of the admin API "
                          "is on the Unix socket (api.socket)");
  }
  if (r.path == "/status" && get) return reply(200, status_json(c));
  if (r.path == "/vips" && get) return reply(200, vips_json(c));
  if (r.path == "/backends" && get) return reply(200, backends_json(c));
  if (r.path == "/metrics" && get) return {200, "text/plain; version=0.0.4", render_metrics(c)};
  if (r.path == "/lookup" && get) return get_lookup(r, c);
  if (r.path == "/drain" && post) {
    c.drain(ctx.now_ms());
    return reply(200, json{{"drained", true}});
  }
  if (r.path == "/undrain" && post) {
    c.undrain(ctx.now_ms());
    return reply(200, json{{"drained", false}});
  }
  if (r.path == "/reload" && post) return post_reload(c, ctx);
  if (r.path == "/weight" && post) return post_weight(r, c, ctx);
  for (const char* p : {"/status", "/vips", "/backends", "/metrics", "/lookup", "/drain",
                        "/undrain", "/reload", "/weight"}) {
    if (r.path == p) return error(405, r.method + " " + r.path + ": method not allowed");
  }
  return error(404, "no such endpoint: " + r.path);
}

std::string render_metrics(const Controller& c) {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  const std::string node = c.config().node.name;
  auto counters = c.counters();
  const ForwardingState& st = c.state();

  family("anylb_up", "gauge", "1 once the fast path is attached with its tables loaded");
  out += fmt::format("anylb_up{{node=\"{}\",dataplane=\"{}\"}} {}\n", node, c.dataplane_kind(),
                     c.ready() ? 1 : 0);
  family("anylb_drained", "gauge", "1 while the node is drained (every VIP withdrawn)");
  out += fmt::format("anylb_drained {}\n", c.drained() ? 1 : 0);
  family("anylb_speaker_up", "gauge", "1 when the last BGP speaker command succeeded");
  out += fmt::format("anylb_speaker_up{{speaker=\"{}\"}} {}\n", c.speaker_kind(),
                     c.speaker_error().empty() ? 1 : 0);

  family("anylb_vip_announced", "gauge", "1 when this node announces the VIP's route");
  for (const VipStatus& v : c.vips()) {
    out += fmt::format("anylb_vip_announced{{vip=\"{}\"}} {}\n", v.name, v.announced ? 1 : 0);
  }
  family("anylb_vip_healthy_backends", "gauge", "active backends passing their checks");
  for (const VipStatus& v : c.vips()) {
    out += fmt::format("anylb_vip_healthy_backends{{vip=\"{}\"}} {}\n", v.name, v.healthy);
  }
  family("anylb_backend_healthy", "gauge", "1 when the backend passes its checks");
  for (const BackendStatus& b : c.backends()) {
    out += fmt::format("anylb_backend_healthy{{vip=\"{}\",backend=\"{}\"}} {}\n", b.vip,
                       b.address.to_string(), b.health.health == Health::Healthy ? 1 : 0);
  }
  family("anylb_backend_weight", "gauge", "weight in effect");
  for (const BackendStatus& b : c.backends()) {
    out += fmt::format("anylb_backend_weight{{vip=\"{}\",backend=\"{}\"}} {}\n", b.vip,
                       b.address.to_string(), b.weight);
  }
  family("anylb_backend_state", "gauge", "1 for the backend's state in the forwarding tables");
  for (const BackendStatus& b : c.backends()) {
    out += fmt::format("anylb_backend_state{{vip=\"{}\",backend=\"{}\",state=\"{}\"}} 1\n", b.vip,
                       b.address.to_string(), backend_state_name(b.effective));
  }
  if (counters) {
    const Counters& k = **counters;
    family("anylb_vip_packets_total", "counter", "packets forwarded to the VIP's backends");
    for (const Vip& v : st.vips) {
      if (v.present) out += fmt::format("anylb_vip_packets_total{{vip=\"{}\"}} {}\n", v.name, k.vip[v.id].packets);
    }
    family("anylb_vip_bytes_total", "counter", "inner IP bytes forwarded");
    for (const Vip& v : st.vips) {
      if (v.present) out += fmt::format("anylb_vip_bytes_total{{vip=\"{}\"}} {}\n", v.name, k.vip[v.id].bytes);
    }
    family("anylb_vip_new_flows_total", "counter", "flows the flow table did not know");
    for (const Vip& v : st.vips) {
      if (v.present) out += fmt::format("anylb_vip_new_flows_total{{vip=\"{}\"}} {}\n", v.name, k.vip[v.id].new_flows);
    }
    family("anylb_backend_packets_total", "counter", "packets sent to the backend");
    family("anylb_backend_bytes_total", "counter", "inner IP bytes sent to the backend");
    for (const Backend& b : st.backends) {
      if (!b.present) continue;
      const Vip* v = st.vip(b.vip_id);
      const std::string labels = fmt::format("vip=\"{}\",backend=\"{}\"", v ? v->name : "?",
                                             b.address.to_string());
      out += fmt::format("anylb_backend_packets_total{{{}}} {}\n", labels, k.backend[b.id].packets);
      out += fmt::format("anylb_backend_bytes_total{{{}}} {}\n", labels, k.backend[b.id].bytes);
    }
    family("anylb_drops_total", "counter", "packets dropped, by reason");
    for (int r = 1; r < ANYLB_DROP_REASON_COUNT; ++r) {
      out += fmt::format("anylb_drops_total{{reason=\"{}\"}} {}\n",
                         drop_reason_name(static_cast<anylb_drop_reason>(r)), k.drops[r]);
    }
    family("anylb_packets_total", "counter", "packets by outcome");
    out += fmt::format("anylb_packets_total{{outcome=\"transmitted\"}} {}\n", k.path.transmitted);
    out += fmt::format("anylb_packets_total{{outcome=\"passed\"}} {}\n", k.path.passed);
    out += fmt::format("anylb_packets_total{{outcome=\"replied\"}} {}\n", k.path.replied);
    family("anylb_flow_table_lookups_total", "counter", "flow-table lookups by result");
    out += fmt::format("anylb_flow_table_lookups_total{{result=\"hit\"}} {}\n", k.path.flow_hits);
    out += fmt::format("anylb_flow_table_lookups_total{{result=\"miss\"}} {}\n", k.path.flow_misses);
    const FlowOccupancy occ = c.flow_occupancy();
    family("anylb_flow_table_entries", "gauge",
           "live flow-table entries over every core (estimated from a sample of buckets)");
    out += fmt::format("anylb_flow_table_entries {}\n", occ.live);
    family("anylb_flow_table_capacity", "gauge", "flow-table entries over every core");
    out += fmt::format("anylb_flow_table_capacity {}\n", occ.capacity);
    family("anylb_flow_table_evictions_total", "counter",
           "new flows that pushed a live flow out of a full bucket pair");
    out += fmt::format("anylb_flow_table_evictions_total {}\n", k.path.flow_evictions);
    family("anylb_flows_rescheduled_total", "counter", "known flows whose backend had gone");
    out += fmt::format("anylb_flows_rescheduled_total {}\n", k.path.rescheduled);
  }
  const PublishTimings& p = c.publish_timings();
  family("anylb_table_publish_seconds", "summary",
         "from a check result (or reload) to the new tables live in the fast path");
  out += fmt::format("anylb_table_publish_seconds_count {}\nanylb_table_publish_seconds_sum {:.6f}\n",
                     p.count, p.sum_ms / 1000.0);
  family("anylb_table_publish_seconds_max", "gauge", "the slowest publication so far");
  out += fmt::format("anylb_table_publish_seconds_max {:.6f}\n", p.max_ms / 1000.0);
  family("anylb_health_check_seconds", "summary", "health probe latency");
  out += fmt::format("anylb_health_check_seconds_count {}\nanylb_health_check_seconds_sum {:.6f}\n",
                     c.health().results(), double(c.health().latency_sum_ms()) / 1000.0);
  return out;
}

}  // namespace anylb
