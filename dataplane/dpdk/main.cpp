// anylb-dpdk: runs the DPDK fast path on the config's [dpdk] ports until
// SIGINT/SIGTERM; SIGHUP reloads the config (a bad one keeps the running
// state, and what only a restart changes gets a note). Prints a stats line
// every --stats-interval seconds.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "control/cli/cli_args.h"
#include "control/config/config.h"
#include "control/tables/state_spec.h"
#include "dataplane/dpdk/driver.h"
#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/options_from_config.h"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

void on_signal(int sig) {
  if (sig == SIGHUP) {
    g_reload = true;
  } else {
    g_stop = true;
  }
}

using anylb::Config;
using anylb::dpdk::Driver;
using anylb::dpdk::DriverOptions;
using anylb::dpdk::EalOptions;
using anylb::dpdk::driver_options_from_config;
using anylb::dpdk::eal_options_from_config;

void print_stats(const anylb::dpdk::DriverStats& s, const anylb::dpdk::DriverStats* before,
                 double seconds) {
  const auto& p = s.counters.path;
  uint64_t drops = 0;
  for (uint64_t d : s.counters.drops) drops += d;
  const double rx_pps =
      before && seconds > 0 ? double(s.plumbing.rx - before->plumbing.rx) / seconds : 0.0;
  fmt::print(
      "stats rx={} rx_pps={:.0f} tx={} replied={} passed={} exception_out={} exception_in={} "
      "drops={} tx_refused={} flow_hits={} flow_misses={} evictions={} publications={}\n",
      s.plumbing.rx, rx_pps, p.transmitted, p.replied, p.passed, s.plumbing.exception_out,
      s.plumbing.exception_in, drops, s.plumbing.tx_refused + s.plumbing.exception_out_refused,
      s.flows.hits, s.flows.misses, s.flows.evictions, s.publications);
  for (size_t r = 1; r < s.counters.drops.size(); ++r) {
    if (s.counters.drops[r] != 0) {
      fmt::print("  drop {}={}\n", anylb::drop_reason_name(static_cast<anylb_drop_reason>(r)),
                 s.counters.drops[r]);
    }
  }
  std::fflush(stdout);
}

int fail(const std::string& message) {
  fmt::print(stderr, "anylb-dpdk: {}\n", message);
  return 1;
}

void print_warnings(const Config& config) {
  for (const auto& w : config.warnings) fmt::print(stderr, "anylb-dpdk: warning: {}\n", w);
}

// SIGHUP: the config file again. A bad one keeps the running state; settings
// the EAL, ports and flow tables took at start keep their running values,
// each with a note, so that "published" does not claim what did not happen.
void reload(const std::string& config_path, const Config& started, Driver& driver) {
  auto failed = [](const anylb::Error& e) {
    fmt::print(stderr, "anylb-dpdk: reload failed, keeping the running state: {}\n", e.message);
  };
  auto next = anylb::load_config_or_default(config_path);
  if (!next) return failed(next.error());
  print_warnings(*next);
  const std::vector<std::string> notes = anylb::dpdk::settings_fixed_at_start(started, *next);
  // A new seed would move nearly every flow: it waits for a restart too.
  next->node.hash_seed = started.node.hash_seed;
  auto state = anylb::build_state_from_config(*next, &driver.state());
  if (!state) return failed(state.error());
  const uint64_t waited_us = driver.publish(std::move(*state));
  fmt::print("reload: published {} VIP(s); workers released the old state in {} us\n",
             next->vips.size(), waited_us);
  for (const auto& n : notes) fmt::print("reload: note: {}\n", n);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"anylb DPDK fast path"};
  std::string config_path;
  double duration = 0;
  double stats_interval = 5;
  bool dry_run = false;
  // Decimal numbers only, and no empty --config: cli_args.h says why.
  const CLI::Validator decimal([](std::string& text) { return anylb::decimal_arg(text, true); }, "");
  app.add_option("--config,-c", config_path, "config file (default: the embedded one)")
      ->transform(CLI::Validator(anylb::non_empty_path_arg, ""));
  app.add_option("--duration", duration, "stop after this many seconds (0: run until a signal)")
      ->transform(decimal)
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stats-interval", stats_interval, "seconds between stats lines (0: none)")
      ->transform(decimal)
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--dry-run", dry_run, "print the EAL arguments and ports, then exit");
  CLI11_PARSE(app, argc, argv);

  auto config = anylb::load_config_or_default(config_path);
  if (!config) return fail(config.error().message);
  print_warnings(*config);
  auto state = anylb::build_state_from_config(*config, nullptr);
  if (!state) return fail(state.error().message);

  const EalOptions eal = eal_options_from_config(*config);
  const DriverOptions options = driver_options_from_config(*config);
  if (dry_run) {
    std::string line;
    for (const auto& a : anylb::dpdk::eal_arguments(eal)) line += (line.empty() ? "" : " ") + a;
    fmt::print("eal: {}\n", line);
    for (const auto& p : options.ports) {
      fmt::print("port: {}{}\n", p.device,
                 p.exception_device.empty() ? "" : " exception: " + p.exception_device);
    }
    return 0;
  }

  // Before the EAL and its threads: a signal during a slow start (probing,
  // pools) is kept for the loop below rather than killing the process.
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGHUP, on_signal);

  if (auto ok = anylb::dpdk::init_eal(eal); !ok) return fail(ok.error().message);
  auto driver = Driver::start(options, std::move(*state));
  if (!driver) return fail(driver.error().message);
  for (const auto& p : (*driver)->ports()) {
    fmt::print("port {} ({}, driver {}): {} queue(s){}\n", p.port_id, p.name, p.driver, p.queues,
               p.rss ? ", RSS" : "");
  }
  fmt::print("running: {} worker(s), {} VIP(s)\n", (*driver)->workers(),
             config->vips.size());
  std::fflush(stdout);

  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  auto last_print = started;
  auto last = (*driver)->stats();
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto now = clock::now();
    if (duration > 0 && std::chrono::duration<double>(now - started).count() >= duration) break;
    if (g_reload.exchange(false)) {
      reload(config_path, *config, **driver);
      std::fflush(stdout);
    }
    const double since = std::chrono::duration<double>(now - last_print).count();
    if (stats_interval > 0 && since >= stats_interval) {
      auto s = (*driver)->stats();
      print_stats(*s, last.get(), since);
      last = std::move(s);
      last_print = now;
    }
  }
  const uint32_t leaked = (*driver)->stop();
  auto final_stats = (*driver)->stats();
  print_stats(*final_stats, nullptr, 0);
  fmt::print("mbufs not returned after stop: {}\n", leaked);
  return leaked == 0 ? 0 : 1;
}
