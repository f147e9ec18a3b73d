#include "control/cli/daemon_client.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

#include "control/api/http_server.h"

namespace anylb {

namespace {

using nlohmann::json;

// The reply's JSON, or an error message (transport, HTTP status, bad JSON).
Result<json> call(const DaemonCommand& c, const std::string& method, const std::string& target,
                  const std::string& body = "") {
  auto r = http_call(c.socket, method, target, body);
  if (!r) return r.error();
  json j = json::parse(r->body, nullptr, false);
  if (r->status >= 400) {
    const std::string why = !j.is_discarded() && j.contains("error") ? j["error"].get<std::string>()
                                                                      : r->body;
    return make_error(why + " (HTTP " + std::to_string(r->status) + ")");
  }
  if (j.is_discarded()) return make_error("anylbd replied with something that is not JSON");
  return j;
}

std::string s(const json& j, const char* k) {
  if (!j.contains(k)) return "-";
  return j[k].is_string() ? j[k].get<std::string>() : j[k].dump();
}

int print_vips(const json& vips, std::FILE* out) {
  fmt::print(out, "{:<16} {:<28} {:<9} {:<8} {:>12} {:>14}  {}\n", "VIP", "ADDRESS", "ROUTE",
             "HEALTHY", "PACKETS", "BYTES", "WHY");
  for (const auto& v : vips) {
    const std::string addr = s(v, "address") + ":" + s(v, "port") + "/" + s(v, "protocol");
    fmt::print(out, "{:<16} {:<28} {:<9} {:<8} {:>12} {:>14}  {}\n", s(v, "name"), addr,
               v["announced"].get<bool>() ? "announced" : "withdrawn",
               s(v, "healthy") + "/" + s(v, "min_healthy"), s(v, "packets"), s(v, "bytes"),
               s(v, "reason"));
  }
  return 0;
}

int top(const DaemonCommand& c, std::FILE* out) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> last;  // vip -> packets, bytes
  auto t_last = std::chrono::steady_clock::now();
  for (uint32_t i = 0; c.count == 0 || i < c.count; ++i) {
    auto vips = call(c, "GET", "/vips");
    if (!vips) {
      fmt::print(stderr, "anylbctl: {}\n", vips.error().message);
      return 2;
    }
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - t_last).count();
    t_last = now;
    if (isatty(fileno(out)) && c.count != 1) fmt::print(out, "\033[H\033[2J");  // a terminal: redraw
    // Live flows: what is left to bleed off a drained node.
    if (auto st = call(c, "GET", "/status")) {
      const json& f = (*st)["flows"];
      fmt::print(out, "node {}{}: {} live flows (estimated) of {}\n", s(*st, "node"),
                 (*st)["drained"].get<bool>() ? " (drained)" : "", s(f, "live_estimate"),
                 s(f, "capacity"));
    }
    fmt::print(out, "{:<16} {:<9} {:>8} {:>12} {:>12} {:>12}\n", "VIP", "ROUTE", "HEALTHY",
               "PKT/S", "MBIT/S", "PACKETS");
    for (const auto& v : *vips) {
      const std::string name = s(v, "name");
      const uint64_t p = v.value("packets", uint64_t{0}), b = v.value("bytes", uint64_t{0});
      double pps = 0, mbps = 0;
      if (auto it = last.find(name); it != last.end() && dt > 0) {
        pps = double(p - it->second.first) / dt;
        mbps = double(b - it->second.second) * 8 / dt / 1e6;
      }
      last[name] = {p, b};
      fmt::print(out, "{:<16} {:<9} {:>8} {:>12.0f} {:>12.2f} {:>12}\n", name,
                 v["announced"].get<bool>() ? "announced" : "withdrawn",
                 s(v, "healthy") + "/" + s(v, "min_healthy"), pps, mbps, p);
    }
    std::fflush(out);
    if (c.count == 0 || i + 1 < c.count) {
      std::this_thread::sleep_for(std::chrono::duration<double>(c.interval_s));
    }
  }
  return 0;
}

}  // namespace

int run_daemon_command(const DaemonCommand& c, std::FILE* out) {
  auto fail = [](const Error& e) {
    fmt::print(stderr, "anylbctl: {}\n", e.message);
    return 2;
  };
  if (c.name == "status") {
    auto j = call(c, "GET", "/status");
    if (!j) return fail(j.error());
    const json& sp = (*j)["speaker"];
    const json& pub = (*j)["publications"];
    fmt::print(out, "node:        {} ({} fast path){}\n", s(*j, "node"), s(*j, "dataplane"),
               (*j)["ready"].get<bool>() ? "" : ", NOT READY");
    fmt::print(out, "routes:      {}\n", (*j)["shutting_down"].get<bool>() ? "withdrawn (shutting down)"
                                         : (*j)["drained"].get<bool>()   ? "withdrawn (drained)"
                                                                         : "per VIP health");
    fmt::print(out, "speaker:     {} {}{}\n", s(sp, "kind"), s(sp, "state"),
               s(sp, "error").empty() ? "" : ": " + s(sp, "error"));
    fmt::print(out, "publications: {} (last {:.2f} ms, max {:.2f} ms)\n", s(pub, "count"),
               pub["last_ms"].get<double>(), pub["max_ms"].get<double>());
    fmt::print(out, "flows:       {} live (estimated) of {}\n", s((*j)["flows"], "live_estimate"),
               s((*j)["flows"], "capacity"));
    fmt::print(out, "health:      {} checked pairs, {} results\n",
               s((*j)["health_checks"], "pairs"), s((*j)["health_checks"], "results"));
    return 0;
  }
  if (c.name == "vips") {
    auto j = call(c, "GET", "/vips");
    return j ? print_vips(*j, out) : fail(j.error());
  }
  if (c.name == "backends") {
    auto j = call(c, "GET", "/backends");
    if (!j) return fail(j.error());
    fmt::print(out, "{:<16} {:<24} {:>6} {:<9} {:<9} {:<10} {:>12}  {}\n", "VIP", "BACKEND", "WEIGHT",
               "STATE", "CONFIG", "HEALTH", "PACKETS", "LAST CHECK");
    for (const auto& b : *j) {
      fmt::print(out, "{:<16} {:<24} {:>6} {:<9} {:<9} {:<10} {:>12}  {} ({} ms)\n", s(b, "vip"),
                 s(b, "address"), s(b, "weight"), s(b, "state"), s(b, "configured"),
                 s(b, "health"), s(b, "packets"), s(b, "last_check"), s(b, "latency_ms"));
    }
    return 0;
  }
  if (c.name == "drain" || c.name == "undrain") {
    auto j = call(c, "POST", "/" + c.name);
    if (!j) return fail(j.error());
    fmt::print(out, "{}\n", c.name == "drain"
                                ? "drained: every VIP withdrawn; existing flows keep being forwarded"
                                : "undrained: VIPs announced again as their health allows");
    if (c.name == "drain" && c.count > 0) {
      // Traffic bleeding off as routers move it elsewhere.
      DaemonCommand watch = c;
      watch.interval_s = 1.0;
      return top(watch, out);
    }
    return 0;
  }
  if (c.name == "reload") {
    auto j = call(c, "POST", "/reload");
    if (!j) return fail(j.error());
    fmt::print(out, "reloaded: {} VIPs\n", s(*j, "vips"));
    for (const auto& n : (*j)["notes"]) fmt::print(out, "note: {}\n", n.get<std::string>());
    return 0;
  }
  if (c.name == "weight") {
    const json body = {{"vip", c.vip}, {"backend", c.backend}, {"weight", c.weight}};
    auto j = call(c, "POST", "/weight", body.dump());
    if (!j) return fail(j.error());
    fmt::print(out, "{} {}: weight {}\n", c.vip, c.backend, c.weight);
    return 0;
  }
  if (c.name == "top") return top(c, out);
  if (c.name == "lookup") {
    const LookupQuery& q = c.lookup;
    auto r = http_call(c.socket, "GET",
                       fmt::format("/lookup?protocol={}&src={}&sport={}&dst={}&dport={}", q.protocol,
                                   q.src, q.sport, q.dst, q.dport));
    if (!r) return fail(r.error());
    if (r->status >= 400) {
      json j = json::parse(r->body, nullptr, false);
      return fail(make_error(j.is_discarded() ? r->body : j.value("error", r->body)));
    }
    fmt::print(out, "{}", r->body);
    return 0;
  }
  return fail(make_error("unknown daemon command '" + c.name + "'"));
}

}  // namespace anylb
