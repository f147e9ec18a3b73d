#include "control/cli/daemon_client.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>
#include <unistd.h>

#include "control/api/http_server.h"

namespace anylb {

namespace {

using nlohmann::json;

// A reply this anylbctl cannot read: a field missing, or of another type than
// anylbd sends. run_daemon_command turns it into one line naming the field.
struct BadReply : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A short quote of a JSON value for messages.
std::string quote(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

// Part of a reply and where it is in it ("/status.speaker", "/vips[2]"),
// read with type checks: a field the output depends on that is missing or
// of another type throws BadReply naming it, rather than printing something
// wrong or reading a key that is not there.
class Reply {
 public:
  Reply(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  Reply object(const char* key) const {
    const json& v = member(key);
    if (!v.is_object()) bad(key, v, "an object");
    return Reply(v, where_ + "." + key);
  }
  // The elements of an array reply; each must be an object.
  std::vector<Reply> entries() const {
    if (!j_.is_array()) throw BadReply(where_ + ": " + quote(j_) + ", want a JSON array");
    std::vector<Reply> out;
    for (size_t i = 0; i < j_.size(); ++i) {
      const std::string at = where_ + "[" + std::to_string(i) + "]";
      if (!j_[i].is_object()) throw BadReply(at + ": " + quote(j_[i]) + ", want an object");
      out.emplace_back(j_[i], at);
    }
    return out;
  }
  bool flag(const char* key) const {
    const json& v = member(key);
    if (!v.is_boolean()) bad(key, v, "true or false");
    return v.get<bool>();
  }
  double number(const char* key) const {
    const json& v = member(key);
    if (!v.is_number()) bad(key, v, "a number");
    return v.get<double>();
  }
  // A counter anylbd sends only when the dataplane has counters: 0 when absent.
  uint64_t counter_or_zero(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end()) return 0;
    if (!it->is_number_unsigned()) bad(key, *it, "a non-negative integer");
    return it->get<uint64_t>();
  }
  // A value only shown: a string as it is, anything else as JSON.
  std::string text(const char* key, const char* absent = "-") const {
    const auto it = j_.find(key);
    if (it == j_.end()) return absent;
    return it->is_string() ? it->get<std::string>() : quote(*it);
  }
  // Strings shown one a line; absent: none.
  std::vector<std::string> lines(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end()) return {};
    if (!it->is_array()) bad(key, *it, "an array");
    std::vector<std::string> out;
    for (const json& v : *it) out.push_back(v.is_string() ? v.get<std::string>() : quote(v));
    return out;
  }

 private:
  const json& member(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end()) throw BadReply(where_ + ": '" + key + "' is missing");
    return *it;
  }
  [[noreturn]] void bad(const char* key, const json& v, const char* want) const {
    throw BadReply(where_ + ": '" + key + "' is " + quote(v) + ", want " + want);
  }

  const json& j_;  // an object, except for a whole array reply
  std::string where_;
};

// What anylbd said went wrong: its {"error": "..."} when it sent one, else
// the body as it came.
std::string error_text(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto it = j.find("error"); it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return body.empty() ? "no message" : body;
}

// The reply's JSON, or an error message (transport, HTTP status, bad JSON).
Result<json> call(const DaemonCommand& c, const std::string& method, const std::string& target,
                  const std::string& body = "") {
  auto r = http_call(c.socket, method, target, body);
  if (!r) return r.error();
  if (r->status >= 400) {
    return make_error(error_text(r->body) + " (HTTP " + std::to_string(r->status) + ")");
  }
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return make_error("anylbd replied with something that is not JSON");
  return j;
}

// The whole reply must be an object; a member of a missing key is an error.
Reply object_reply(const json& j, const std::string& target) {
  if (!j.is_object()) throw BadReply(target + ": " + quote(j) + ", want a JSON object");
  return Reply(j, target);
}

const char* route(const Reply& vip) { return vip.flag("announced") ? "announced" : "withdrawn"; }

int print_vips(const json& vips, std::FILE* out) {
  const auto entries = Reply(vips, "/vips").entries();
  fmt::print(out, "{:<16} {:<28} {:<9} {:<8} {:>12} {:>14}  {}\n", "VIP", "ADDRESS", "ROUTE",
             "HEALTHY", "PACKETS", "BYTES", "WHY");
  for (const Reply& v : entries) {
    const std::string addr = v.text("address") + ":" + v.text("port") + "/" + v.text("protocol");
    fmt::print(out, "{:<16} {:<28} {:<9} {:<8} {:>12} {:>14}  {}\n", v.text("name"), addr, route(v),
               v.text("healthy") + "/" + v.text("min_healthy"), v.text("packets"), v.text("bytes"),
               v.text("reason"));
  }
  return 0;
}

int print_status(const json& j, std::FILE* out) {
  const Reply st = object_reply(j, "/status");
  const Reply sp = st.object("speaker"), pub = st.object("publications"),
              flows = st.object("flows"), health = st.object("health_checks");
  const std::string speaker_error = sp.text("error", "");
  fmt::print(out, "node:        {} ({} fast path){}\n", st.text("node"), st.text("dataplane"),
             st.flag("ready") ? "" : ", NOT READY");
  fmt::print(out, "routes:      {}\n", st.flag("shutting_down") ? "withdrawn (shutting down)"
                                       : st.flag("drained")     ? "withdrawn (drained)"
                                                                : "per VIP health");
  fmt::print(out, "speaker:     {} {}{}\n", sp.text("kind"), sp.text("state"),
             speaker_error.empty() ? "" : ": " + speaker_error);
  fmt::print(out, "publications: {} (last {:.2f} ms, max {:.2f} ms)\n", pub.text("count"),
             pub.number("last_ms"), pub.number("max_ms"));
  fmt::print(out, "flows:       {} live (estimated) of {}\n", flows.text("live_estimate"),
             flows.text("capacity"));
  fmt::print(out, "health:      {} checked pairs, {} results\n", health.text("pairs"),
             health.text("results"));
  return 0;
}

// Per second since the last sample; 0 when the counter went down (anylbd
// restarted and counts from zero again): the new value is the next baseline.
double rate(uint64_t now, uint64_t before, double seconds) {
  return now >= before && seconds > 0 ? double(now - before) / seconds : 0.0;
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
    const auto entries = Reply(*vips, "/vips").entries();
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - t_last).count();
    t_last = now;
    if (isatty(fileno(out)) && c.count != 1) fmt::print(out, "\033[H\033[2J");  // a terminal: redraw
    // Live flows: what is left to bleed off a drained node.
    if (auto st = call(c, "GET", "/status")) {
      const Reply status = object_reply(*st, "/status");
      const Reply flows = status.object("flows");
      fmt::print(out, "node {}{}: {} live flows (estimated) of {}\n", status.text("node"),
                 status.flag("drained") ? " (drained)" : "", flows.text("live_estimate"),
                 flows.text("capacity"));
    }
    fmt::print(out, "{:<16} {:<9} {:>8} {:>12} {:>12} {:>12}\n", "VIP", "ROUTE", "HEALTHY",
               "PKT/S", "MBIT/S", "PACKETS");
    for (const Reply& v : entries) {
      const std::string name = v.text("name");
      const uint64_t p = v.counter_or_zero("packets"), b = v.counter_or_zero("bytes");
      double pps = 0, mbps = 0;
      if (auto it = last.find(name); it != last.end()) {
        pps = rate(p, it->second.first, dt);
        mbps = rate(b, it->second.second, dt) * 8 / 1e6;
      }
      last[name] = {p, b};
      fmt::print(out, "{:<16} {:<9} {:>8} {:>12.0f} {:>12.2f} {:>12}\n", name, route(v),
                 v.text("healthy") + "/" + v.text("min_healthy"), pps, mbps, p);
    }
    std::fflush(out);
    if (c.count == 0 || i + 1 < c.count) {
      std::this_thread::sleep_for(std::chrono::duration<double>(c.interval_s));
    }
  }
  return 0;
}

int fail(const Error& e) {
  fmt::print(stderr, "anylbctl: {}\n", e.message);
  return 2;
}

int run(const DaemonCommand& c, std::FILE* out) {
  if (c.name == "status") {
    auto j = call(c, "GET", "/status");
    return j ? print_status(*j, out) : fail(j.error());
  }
  if (c.name == "vips") {
    auto j = call(c, "GET", "/vips");
    return j ? print_vips(*j, out) : fail(j.error());
  }
  if (c.name == "backends") {
    auto j = call(c, "GET", "/backends");
    if (!j) return fail(j.error());
    const auto entries = Reply(*j, "/backends").entries();
    fmt::print(out, "{:<16} {:<24} {:>6} {:<9} {:<9} {:<10} {:>12}  {}\n", "VIP", "BACKEND", "WEIGHT",
               "STATE", "CONFIG", "HEALTH", "PACKETS", "LAST CHECK");
    for (const Reply& b : entries) {
      fmt::print(out, "{:<16} {:<24} {:>6} {:<9} {:<9} {:<10} {:>12}  {} ({} ms)\n", b.text("vip"),
                 b.text("address"), b.text("weight"), b.text("state"), b.text("configured"),
                 b.text("health"), b.text("packets"), b.text("last_check"), b.text("latency_ms"));
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
    const Reply r = object_reply(*j, "/reload");
    fmt::print(out, "reloaded: {} VIPs\n", r.text("vips"));
    for (const std::string& n : r.lines("notes")) fmt::print(out, "note: {}\n", n);
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
    if (r->status >= 400) return fail(make_error(error_text(r->body)));
    fmt::print(out, "{}", r->body);
    return 0;
  }
  return fail(make_error("unknown daemon command '" + c.name + "'"));
}

}  // namespace

int run_daemon_command(const DaemonCommand& c, std::FILE* out) {
  try {
    return run(c, out);
  } catch (const BadReply& e) {
    fmt::print(stderr, "anylbctl: unexpected reply from anylbd at {}: {}\n", c.socket, e.what());
  } catch (const json::exception& e) {
    // A reading the checks above missed: still one line, not an abort.
    fmt::print(stderr, "anylbctl: unexpected reply from anylbd at {}: {}\n", c.socket, e.what());
  }
  return 2;
}

}  // namespace anylb
