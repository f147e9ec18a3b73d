// anylbctl: the operator's command-line tool. Exceptions stop here: every
// error is printed as one line naming what was wrong, with exit status 2.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "control/cli/cli_args.h"
#include "control/cli/daemon_client.h"
#include "control/cli/lookup.h"
#include "control/cli/replay.h"
#include "control/cli/simulate.h"
#include "control/config/config.h"
#include "control/tables/state_spec.h"
#if ANYLB_HAVE_XDP
#include "control/cli/xdp_control.h"
#include "xdp/xdp_decider.h"
#endif

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "anylbctl: %s\n", message.c_str());
  return 2;
}

void print_warnings(const anylb::Config& cfg) {
  for (const auto& w : cfg.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
}

// Every integer option and argument is decimal, whatever CLI11 would make of
// "050" (cli_args.h).
const CLI::Validator kDecimal([](std::string& text) { return anylb::decimal_arg(text); }, "");
const CLI::Validator kDecimalFraction(
    [](std::string& text) { return anylb::decimal_arg(text, true); }, "");
const CLI::Validator kConfigPath(anylb::non_empty_path_arg, "");

int run(int argc, char** argv) {
  CLI::App app{"anylbctl: inspect and drive an anylb load balancer"};
  app.require_subcommand(1);
  std::string config_path;

  auto* validate = app.add_subcommand("validate", "Check a config file and print its warnings");
  validate->add_option("--config,-c", config_path, "config file (default: the embedded one)")
      ->transform(kConfigPath);

  auto* sim = app.add_subcommand(
      "simulate", "Push synthetic flows through the decision function and show the spread");
  sim->add_option("--config,-c", config_path, "config file (default: the embedded one)")
      ->transform(kConfigPath);
  uint32_t flows = 10000;
  std::vector<std::string> removes, adds, weights, drains;
  sim->add_option("--flows,-n", flows, "flows per VIP")
      ->transform(kDecimal)
      ->check(CLI::Range(1u, 2000000u));
  sim->add_option("--remove", removes, "remove a backend (every VIP listing it)");
  sim->add_option("--add", adds, "add a backend (every VIP of its address family)");
  sim->add_option("--weight", weights, "set a backend's weight: ADDRESS=WEIGHT");
  sim->add_option("--drain", drains, "set a backend to draining");

  auto* lookup = app.add_subcommand("lookup", "Which backend a flow goes to, and why");
  lookup->add_option("--config,-c", config_path, "config file (default: the embedded one)")
      ->transform(kConfigPath);
  anylb::LookupQuery q;
  lookup->add_option("proto", q.protocol, "tcp or udp")->required();
  lookup->add_option("src", q.src, "client address")->required();
  lookup->add_option("sport", q.sport, "client port")->required()->transform(kDecimal);
  lookup->add_option("dst", q.dst, "VIP address")->required();
  lookup->add_option("dport", q.dport, "VIP port")->required()->transform(kDecimal);
  bool lookup_live = false;
  lookup->add_flag("--live", lookup_live, "ask the running anylbd (its state, health applied)");

  // Commands for the running anylbd, through its admin API.
  anylb::DaemonCommand dc;
  std::vector<CLI::App*> daemon_cmds;
  auto daemon_cmd = [&](const char* name, const char* help) {
    auto* cmd = app.add_subcommand(name, help);
    cmd->add_option("--socket,-s", dc.socket, "anylbd's admin socket")->capture_default_str();
    daemon_cmds.push_back(cmd);
    return cmd;
  };
  daemon_cmd("status", "The daemon: fast path, readiness, drain, speaker, publication times");
  daemon_cmd("vips", "Each VIP: route announced or not and why, healthy backends, traffic");
  daemon_cmd("backends", "Each backend: health, weight, state, traffic, last check");
  auto* drain = daemon_cmd("drain", "Withdraw every VIP of this node; flows keep being forwarded");
  drain->add_option("--watch", dc.count, "then show the traffic bleeding off, for N seconds")
      ->transform(kDecimal);
  daemon_cmd("undrain", "Announce the VIPs again (as their health allows)");
  daemon_cmd("reload", "Re-read the config file; on error nothing changes");
  auto* weight = daemon_cmd("weight", "Set a backend's weight at run time");
  weight->add_option("vip", dc.vip, "VIP name")->required();
  weight->add_option("backend", dc.backend, "backend address")->required();
  weight->add_option("weight", dc.weight, "0..65535")
      ->required()
      ->transform(kDecimal)
      ->check(CLI::Range(0, 65535));
  auto* top = daemon_cmd("top", "Live rates per VIP, refreshed");
  top->add_option("--interval", dc.interval_s, "seconds between refreshes")
      ->transform(kDecimalFraction)
      ->check(CLI::Range(0.1, 3600.0));
  top->add_option("--count", dc.count, "refreshes, then exit (0: until interrupted)")
      ->transform(kDecimal);
  lookup->add_option("--socket,-s", dc.socket, "anylbd's admin socket (with --live)");

  auto* replay = app.add_subcommand(
      "replay", "Run a capture through the model or the BPF program; write what it sends");
  replay->add_option("--config,-c", config_path, "config file (default: the embedded one)")
      ->transform(kConfigPath);
  std::string replay_in, replay_out, replay_path = "model";
  replay->add_option("--in", replay_in, "input pcap (Ethernet)")->required();
  replay->add_option("--out", replay_out, "output pcap: the frames sent (tx and reply)")->required();
  replay->add_option("--path", replay_path, "model | xdp")->check(CLI::IsMember({"model", "xdp"}));

  auto* xdp = app.add_subcommand("xdp", "Run the XDP fast path on node.interface");
  xdp->require_subcommand(1);
  auto* xdp_apply = xdp->add_subcommand(
      "apply", "Load (or update) the program and its tables; keeps flows across restarts");
  xdp_apply->add_option("--config,-c", config_path, "config file (default: the embedded one)")
      ->transform(kConfigPath);
  bool generic = false;
  xdp_apply->add_flag("--generic", generic, "attach in generic (skb) mode instead of native");
  auto* xdp_stop = xdp->add_subcommand("stop", "Detach the program and remove its pinned maps");
  auto* xdp_stats = xdp->add_subcommand("stats", "Print the program's counters");
  std::string interface;
#if ANYLB_HAVE_XDP
  std::string pin_root = anylb::kDefaultPinRoot;
#else
  std::string pin_root;
#endif
  for (auto* cmd : {xdp_apply, xdp_stop, xdp_stats}) {
    cmd->add_option("--pin-root", pin_root, "bpffs directory for maps and link (default /sys/fs/bpf/anylb)");
  }
  xdp_stop->add_option("--interface,-i", interface, "interface")->required();
  xdp_stats->add_option("--interface,-i", interface, "interface")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  for (auto* cmd : daemon_cmds) {
    if (*cmd) {
      dc.name = cmd->get_name();
      return anylb::run_daemon_command(dc, stdout);
    }
  }
  if (*lookup && lookup_live) {
    dc.name = "lookup";
    dc.lookup = q;
    return anylb::run_daemon_command(dc, stdout);
  }

#if ANYLB_HAVE_XDP
  if (*xdp_stop) {
    auto ok = anylb::xdp_stop(interface, pin_root);
    if (!ok) return fail(ok.error().message);
    std::printf("detached from %s; maps removed\n", interface.c_str());
    return 0;
  }
  if (*xdp_stats) {
    auto text = anylb::xdp_stats(interface, pin_root);
    if (!text) return fail(text.error().message);
    std::fputs(text->c_str(), stdout);
    return 0;
  }
#else
  if (*xdp || (*replay && replay_path == "xdp")) {
    return fail("built without the XDP fast path (meson option xdp, needs clang, bpftool, libbpf)");
  }
#endif

  auto cfg = anylb::load_config_or_default(config_path);
  if (!cfg) return fail(cfg.error().message);
  print_warnings(*cfg);

  if (*replay) {
    auto state = anylb::build_state_from_config(*cfg, nullptr);
    if (!state) return fail(state.error().message);
    const auto timeouts = anylb::flow_timeouts_from_config(cfg->timeouts);
    std::unique_ptr<anylb::FrameDecider> decider;
    if (replay_path == "model") {
      decider = std::make_unique<anylb::ModelDecider>(*state, cfg->node.flow_table_entries, timeouts);
    } else {
#if ANYLB_HAVE_XDP
      auto x = anylb::XdpDecider::create(*state, cfg->node.flow_table_entries, timeouts);
      if (!x) return fail(x.error().message);
      decider = std::move(*x);
#endif
    }
    auto sum = anylb::replay_pcap(*decider, replay_in, replay_out, replay_path == "model", stdout);
    if (!sum) return fail(sum.error().message);
    std::printf("%llu frames: %llu tx, %llu reply, %llu pass, %llu drop -> %s\n",
                static_cast<unsigned long long>(sum->frames), static_cast<unsigned long long>(sum->tx),
                static_cast<unsigned long long>(sum->reply), static_cast<unsigned long long>(sum->pass),
                static_cast<unsigned long long>(sum->drop), replay_out.c_str());
    return 0;
  }
#if ANYLB_HAVE_XDP
  if (*xdp_apply) {
    auto r = anylb::xdp_apply(*cfg, generic, pin_root);
    if (!r) return fail(r.error().message);
    std::printf("%s %s: %u VIP tables flipped, %llu map writes (%llu Maglev slots) in %.1f ms\n",
                r->attached_now ? "attached to" : "updated", cfg->node.interface.c_str(),
                r->publish.vips_flipped, static_cast<unsigned long long>(r->publish.map_writes),
                static_cast<unsigned long long>(r->publish.slots_written), r->publish_ms);
    return 0;
  }
#endif

  if (*validate) {
    std::printf("%s: ok (%zu VIPs)\n", cfg->source.c_str(), cfg->vips.size());
    return 0;
  }
  if (*lookup) {
    auto text = anylb::explain_lookup(*cfg, q);
    if (!text) return fail(text.error().message);
    std::fputs(text->c_str(), stdout);
    return 0;
  }
  // simulate
  std::vector<anylb::BackendChange> changes;
  auto add_addresses = [&](const std::vector<std::string>& list, anylb::BackendChange::Kind kind,
                           const char* flag) -> bool {
    for (const auto& text : list) {
      auto addr = anylb::parse_ip_address(text);
      if (!addr) {
        fail(std::string(flag) + ": " + addr.error().message);
        return false;
      }
      changes.push_back({kind, *addr, 100});
    }
    return true;
  };
  if (!add_addresses(removes, anylb::BackendChange::Kind::Remove, "--remove") ||
      !add_addresses(adds, anylb::BackendChange::Kind::Add, "--add") ||
      !add_addresses(drains, anylb::BackendChange::Kind::Drain, "--drain")) {
    return 2;
  }
  for (const auto& w : weights) {
    auto change = anylb::parse_weight_change(w);
    if (!change) return fail(change.error().message);
    changes.push_back(*change);
  }
  auto result = anylb::simulate(*cfg, flows, changes);
  if (!result) return fail(result.error().message);
  std::fputs(anylb::format_simulation(*result, !changes.empty()).c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    // A bug of ours, not the operator's input: still one line, not an abort.
    return fail(std::string("internal error: ") + e.what());
  }
}
