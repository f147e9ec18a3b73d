// anylbd: what an operator runs on each LB node. Loads the config, starts
// the fast path (node.dataplane), checks the backends, publishes new tables
// on every change, announces or withdraws the VIP routes through the BGP
// speaker, and serves the admin API. SIGHUP reloads the config; SIGINT and
// SIGTERM withdraw every route, wait bgp.shutdown_grace, then stop.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <thread>

#include "control/daemon/admin_api.h"
#include "control/daemon/controller.h"
#include "control/api/http_server.h"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
void on_signal(int sig) { (sig == SIGHUP ? g_reload : g_stop) = true; }

enum class Level { Debug, Info, Warn, Error };
Level g_level = Level::Info;

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Structured lines: time, level, message, then key=value pairs.
void log(Level level, const std::string& msg, const std::string& kv = "") {
  if (level < g_level) return;
  static const char* names[] = {"debug", "info", "warn", "error"};
  const auto t = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  // On stderr: with bgp.speaker = "exabgp" and exabgp_pipe = "-", stdout is
  // ExaBGP's command stream.
  fmt::print(stderr, "ts={}.{:03d} level={} msg=\"{}\"{}{}\n", ms / 1000,
             static_cast<int>(ms % 1000), names[static_cast<int>(level)], msg, kv.empty() ? "" : " ",
             kv);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"anylbd: the anylb node daemon"};
  std::string config_path, level = "info", pin_root;
  app.add_option("--config,-c", config_path, "config file (default: the embedded one)");
  app.add_option("--log-level", level, "debug | info | warn | error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--pin-root", pin_root, "where the XDP fast path pins its maps")
      ->default_str("/sys/fs/bpf/anylb");
  CLI11_PARSE(app, argc, argv);
  g_level = level == "debug" ? Level::Debug : level == "warn" ? Level::Warn
            : level == "error" ? Level::Error : Level::Info;
  if (pin_root.empty()) pin_root = "/sys/fs/bpf/anylb";

  auto config = anylb::load_config_or_default(config_path);
  if (!config) {
    log(Level::Error, "bad config", fmt::format("error=\"{}\"", config.error().message));
    return 1;
  }
  for (const auto& w : config->warnings) log(Level::Warn, "config", fmt::format("warning=\"{}\"", w));

  auto dataplane = anylb::make_dataplane(*config, pin_root);
  if (!dataplane) {
    log(Level::Error, "dataplane", fmt::format("error=\"{}\"", dataplane.error().message));
    return 1;
  }
  std::unique_ptr<anylb::BgpSpeaker> speaker;
  switch (config->bgp.speaker) {
    case anylb::SpeakerKind::Bird:
      speaker = std::make_unique<anylb::BirdSpeaker>(config->bgp.bird_socket,
                                                     config->bgp.protocol_prefix);
      break;
    case anylb::SpeakerKind::ExaBgp:
      speaker = std::make_unique<anylb::ExaBgpSpeaker>(config->bgp.exabgp_pipe);
      break;
    case anylb::SpeakerKind::None: break;
  }
  const anylb::ApiConfig api = config->api;
  anylb::Controller controller(*config, std::move(*dataplane), std::move(speaker));
  std::mutex mu;
  bool started = false;  // under mu: until then the fast path may not exist

  anylb::ApiContext ctx{config_path, now_ms};
  anylb::HttpServer server;
  if (auto ok = server.start(api.socket, api.tcp_port, [&](const anylb::HttpRequest& r) {
        std::lock_guard lock(mu);
        if (!started) return anylb::HttpResponse{503, "application/json", "{\"error\":\"starting\"}\n"};
        auto resp = anylb::handle_api(r, controller, ctx);
        if (r.method == "POST") {
          log(resp.status < 400 ? Level::Info : Level::Warn, "api",
              fmt::format("method={} path={} status={}", r.method, r.path, resp.status));
        }
        return resp;
      });
      !ok) {
    log(Level::Error, "admin API", fmt::format("error=\"{}\"", ok.error().message));
    return 1;
  }
  log(Level::Info, "admin API listening",
      fmt::format("socket={}{}", api.socket,
                  api.tcp_port ? fmt::format(" tcp=127.0.0.1:{}", api.tcp_port) : ""));

  // The API socket first: a second anylbd on the same socket stops there,
  // before it loads a fast path or tells the speaker anything. Requests wait
  // on the lock until the start is done.
  {
    std::lock_guard lock(mu);
    if (auto ok = controller.start(now_ms()); !ok) {
      log(Level::Error, "start failed", fmt::format("error=\"{}\"", ok.error().message));
      return 1;
    }
    started = true;
  }
  log(Level::Info, "started",
      fmt::format("node={} dataplane={} vips={} speaker={}", config->node.name,
                  controller.dataplane_kind(), config->vips.size(), controller.speaker_kind()));

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGHUP, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  std::map<std::string, bool> announced;
  std::string speaker_error, publish_error;
  for (;;) {
    {
      std::lock_guard lock(mu);
      const uint64_t now = now_ms();
      if (g_stop && !controller.shutting_down()) {
        controller.begin_shutdown(now);
        log(Level::Info, "shutting down: routes withdrawn",
            fmt::format("grace_ms={}", controller.config().bgp.shutdown_grace_ms));
      }
      if (controller.shutdown_done(now)) break;
      if (g_reload.exchange(false)) {
        auto next = anylb::load_config_or_default(config_path);
        auto notes = next ? controller.reload(std::move(*next), now)
                          : anylb::Result<std::vector<std::string>>(next.error());
        if (!notes) {
          log(Level::Warn, "reload refused, keeping the running config",
              fmt::format("error=\"{}\"", notes.error().message));
        } else {
          log(Level::Info, "reloaded", fmt::format("vips={}", controller.config().vips.size()));
          for (const auto& n : *notes) log(Level::Warn, "reload", fmt::format("note=\"{}\"", n));
        }
      }
      for (const auto& c : controller.tick(now, 0)) {
        log(Level::Info, "backend health changed",
            fmt::format("vip={} backend={} from={} to={} check=\"{}\" publish_ms={:.2f}", c.vip,
                        c.backend.to_string(), anylb::health_name(c.from),
                        anylb::health_name(c.to), c.detail,
                        controller.publish_timings().last_ms));
      }
      for (const auto& v : controller.vips()) {
        auto [it, fresh] = announced.try_emplace(v.name, false);  // nothing announced at start
        if (it->second != v.announced) {
          log(Level::Info, v.announced ? "route announced" : "route withdrawn",
              fmt::format("vip={} address={} reason=\"{}\" healthy={}/{}", v.name,
                          v.address.to_string(), v.reason, v.healthy, v.backends));
          it->second = v.announced;
        }
      }
      if (controller.publish_error() != publish_error) {
        publish_error = controller.publish_error();
        log(publish_error.empty() ? Level::Info : Level::Error, "publish",
            publish_error.empty() ? "state=ok"
                                  : fmt::format("state=error retrying=yes error=\"{}\"", publish_error));
      }
      if (controller.speaker_error() != speaker_error) {
        speaker_error = controller.speaker_error();
        log(speaker_error.empty() ? Level::Info : Level::Warn, "speaker",
            speaker_error.empty() ? "state=ok" : fmt::format("state=error error=\"{}\"", speaker_error));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server.stop();
  controller.stop_dataplane();
  log(Level::Info, "stopped");
  return 0;
}
