// anylb-bench-publish: the time from "a backend's health changed" to "the new
// tables are live", at a given size (default 100 VIPs x 10 backends = 1,000
// backends, Maglev M = 65537). Each change flips one backend between active
// and down, as a health check would, and times what anylbd then does:
// rebuild the forwarding state from the previous one (only the changed VIP's
// table is rebuilt), then publish it: to the XDP maps (the diff, then the
// flip) with --xdp, which needs root; for the DPDK path publishing is one
// pointer swap plus an RCU grace period of about a microsecond (measured in
// the dpdk tests), so the rebuild is its figure.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <vector>

#include "dataplane/core/forwarding_state.h"
#if ANYLB_HAVE_XDP
#include "xdp/node_config.h"
#include "xdp/state_writer.h"
#include "xdp/xdp_program.h"
#endif

namespace {

using namespace anylb;
using Clock = std::chrono::steady_clock;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * double(v.size())))];
}

StateSpec make_spec(int vips, int per_vip, uint32_t table) {
  StateSpec s;
  s.hash_seed = 0x5eed1e55;
  s.encap.gateway_mac = {0x02, 0, 0, 0, 0, 1};
  s.encap.source_v4 = IpAddress::v4(10, 100, 0, 1);
  for (int v = 0; v < vips; ++v) {
    VipSpec vip;
    vip.name = "vip" + std::to_string(v);
    vip.address = IpAddress::v4(192, 0, static_cast<uint8_t>(2 + v / 250), static_cast<uint8_t>(v % 250 + 1));
    vip.port = 80;
    vip.protocol = 6;
    vip.table_size = table;
    for (int b = 0; b < per_vip; ++b) {
      vip.backends.push_back(
          {IpAddress::v4(10, static_cast<uint8_t>(v / 250), static_cast<uint8_t>(v % 250), static_cast<uint8_t>(b + 1)),
           100, ANYLB_BACKEND_ACTIVE});
    }
    s.vips.push_back(std::move(vip));
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"anylb: health change to live tables, timed"};
  int vips = 100, per_vip = 10, changes = 30;
  uint32_t table = 65537;
  bool xdp = false;
  app.add_option("--vips", vips)->check(CLI::Range(1, 4096));
  app.add_option("--backends-per-vip", per_vip)->check(CLI::Range(1, 4096));
  app.add_option("--table", table, "Maglev table size (a prime)");
  app.add_option("--changes", changes)->check(CLI::Range(1, 100000));
  app.add_flag("--xdp", xdp, "publish to a loaded XDP program's maps (root)");
  CLI11_PARSE(app, argc, argv);

  StateSpec spec = make_spec(vips, per_vip, table);
  auto first = build_forwarding_state(spec, nullptr);
  if (!first) {
    std::fprintf(stderr, "anylb-bench-publish: %s\n", first.error().message.c_str());
    return 1;
  }
  ForwardingState state = std::move(*first);

#if ANYLB_HAVE_XDP
  std::unique_ptr<XdpProgram> program;
  std::optional<XdpStateWriter> writer;
  if (xdp) {
    auto p = XdpProgram::load(make_node_config(state, FlowTimeoutsMs{}), 1024, "");
    if (!p) {
      std::fprintf(stderr, "anylb-bench-publish: load: %s\n", p.error().message.c_str());
      return 1;
    }
    program = std::move(*p);
    auto w = XdpStateWriter::open(program->maps());
    if (!w || !w->publish(state)) {
      std::fprintf(stderr, "anylb-bench-publish: first publish failed\n");
      return 1;
    }
    writer.emplace(std::move(*w));
  }
#else
  if (xdp) {
    std::fprintf(stderr, "anylb-bench-publish: built without the XDP fast path\n");
    return 1;
  }
#endif

  std::vector<double> rebuild, publish, total;
  const int backends = vips * per_vip;
  for (int i = 0; i < changes; ++i) {
    // A different backend each time, spread over the VIPs; down, then back.
    const int n = (i * 7919) % backends;
    BackendSpec& b = spec.vips[static_cast<size_t>(n / per_vip)].backends[static_cast<size_t>(n % per_vip)];
    b.state = b.state == ANYLB_BACKEND_ACTIVE ? ANYLB_BACKEND_DOWN : ANYLB_BACKEND_ACTIVE;
    const auto t0 = Clock::now();
    auto next = build_forwarding_state(spec, &state);
    const auto t1 = Clock::now();
    if (!next) return 1;
#if ANYLB_HAVE_XDP
    if (writer && !writer->publish(*next)) return 1;
#endif
    const auto t2 = Clock::now();
    state = std::move(*next);
    rebuild.push_back(ms(t1 - t0));
    publish.push_back(ms(t2 - t1));
    total.push_back(ms(t2 - t0));
  }
  std::printf("anylb-bench-publish: %d VIPs x %d backends = %d backends, M = %u, %d changes, publish to %s\n",
              vips, per_vip, backends, table, changes, xdp ? "XDP maps" : "memory (DPDK: pointer swap + RCU)");
  std::printf("  %-22s %8s %8s %8s\n", "ms per change", "median", "p90", "max");
  std::printf("  %-22s %8.2f %8.2f %8.2f\n", "rebuild state", percentile(rebuild, 0.5),
              percentile(rebuild, 0.9), percentile(rebuild, 1.0));
  std::printf("  %-22s %8.2f %8.2f %8.2f\n", "publish", percentile(publish, 0.5),
              percentile(publish, 0.9), percentile(publish, 1.0));
  std::printf("  %-22s %8.2f %8.2f %8.2f   (target < 100 ms)\n", "check result -> live",
              percentile(total, 0.5), percentile(total, 0.9), percentile(total, 1.0));
  return 0;
}
