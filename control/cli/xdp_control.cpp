#include "control/cli/xdp_control.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "control/tables/state_spec.h"
#include "dataplane/core/abi_hash.h"
#include "dataplane/core/counters.h"
#include "xdp/node_config.h"
#include "xdp/xdp_program.h"

namespace anylb {

Result<ApplyReport> xdp_apply(const Config& config, bool generic, const std::string& pin_root) {
  if (config.node.interface.empty()) return make_error("node.interface: required for xdp");
  // Built once on its own to check the config and to give the knobs, which
  // do not depend on ids.
  auto checked = build_state_from_config(config, nullptr);
  if (!checked) return checked.error();
  const std::string pin_dir = pin_dir_for(pin_root, config.node.interface);
  const bool was_attached = std::filesystem::exists(pin_dir + "/link");
  auto program = XdpProgram::load(
      make_node_config(*checked, flow_timeouts_from_config(config.timeouts)),
      config.node.flow_table_entries, pin_dir);
  if (!program) return program.error();
  // Tables first, then the program: a fresh attach never sees empty maps, and
  // a swap keeps serving from the maps it shares with the new program.
  auto writer = XdpStateWriter::open((*program)->maps());
  if (!writer) return writer.error();
  // Over what the pinned maps hold: flow entries name backends by id, and a
  // state numbered afresh would hand a removed backend's flows, and those
  // of every backend after it, to other backends.
  const ForwardingState running = writer->running_state();
  auto state = build_state_from_config(config, &running);
  if (!state) return state.error();
  const auto t0 = std::chrono::steady_clock::now();
  auto published = writer->publish(*state);
  if (!published) return published.error();
  const auto t1 = std::chrono::steady_clock::now();
  if (auto ok = attach_xdp(**program, config.node.interface, pin_dir, generic); !ok) {
    return ok.error();
  }
  ApplyReport r;
  r.publish = *published;
  r.publish_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  r.attached_now = !was_attached;
  return r;
}

Result<bool> xdp_stop(const std::string& interface, const std::string& pin_root) {
  return detach_xdp(pin_dir_for(pin_root, interface));
}

namespace {

template <typename T>
Result<T> sum_per_cpu(int fd, uint32_t key) {
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<T> values(static_cast<size_t>(ncpu > 0 ? ncpu : 1));
  if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) {
    return make_error(std::string("read counters: ") + std::strerror(errno));
  }
  // Every counter struct is a run of 64-bit fields: sum them as such, copying
  // through memcpy (adding through a cast pointer broke strict aliasing, and
  // -O3 returned zeros).
  static_assert(sizeof(T) % 8 == 0);
  uint64_t sum[sizeof(T) / 8] = {};
  for (const T& v : values) {
    uint64_t x[sizeof(T) / 8];
    std::memcpy(x, &v, sizeof(T));
    for (size_t i = 0; i < sizeof(T) / 8; ++i) sum[i] += x[i];
  }
  T total;
  std::memcpy(&total, sum, sizeof(T));
  return total;
}

struct PinnedFd {
  int fd;
  ~PinnedFd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

Result<std::unique_ptr<Counters>> read_xdp_counters(const XdpMaps& maps,
                                                    const ForwardingState& state) {
  auto c = std::make_unique<Counters>();
  auto p = sum_per_cpu<anylb_path_stats>(maps.path_stats, 0);
  if (!p) return p.error();
  c->path = *p;
  for (uint32_t r = 1; r < ANYLB_DROP_REASON_COUNT; ++r) {
    auto n = sum_per_cpu<uint64_t>(maps.drop_stats, r);
    if (!n) return n.error();
    c->drops[r] = *n;
  }
  for (const Vip& v : state.vips) {
    if (!v.present) continue;
    auto s = sum_per_cpu<anylb_vip_stats>(maps.vip_stats, v.id);
    if (!s) return s.error();
    c->vip[v.id] = *s;
  }
  for (const Backend& b : state.backends) {
    if (!b.present) continue;
    auto s = sum_per_cpu<anylb_backend_stats>(maps.backend_stats, b.id);
    if (!s) return s.error();
    c->backend[b.id] = *s;
  }
  return c;
}

Result<std::pair<uint64_t, uint64_t>> read_xdp_flow_occupancy(const XdpMaps& maps,
                                                               uint32_t now_ms,
                                                               uint32_t sample_buckets) {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(maps.flow_groups, &info, &len) != 0) {
    return make_error(std::string("flow_groups: ") + std::strerror(errno));
  }
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0 || info.max_entries == 0) return std::pair<uint64_t, uint64_t>{0, 0};
  // One table per CPU, side by side (xdp/anylb_maps.h).
  const uint32_t per_cpu = info.max_entries / static_cast<uint32_t>(ncpu);
  const uint32_t n = std::min(sample_buckets, per_cpu);
  uint64_t live = 0, sampled = 0;
  anylb_flow_group g;
  for (uint32_t c = 0; c < static_cast<uint32_t>(ncpu); ++c) {
    for (uint32_t b = 0; b < n; ++b) {
      const uint32_t key = c * per_cpu + b;
      if (bpf_map_lookup_elem(maps.flow_groups, &key, &g) != 0) continue;
      ++sampled;
      for (int w = 0; w < ANYLB_FLOW_WAYS; ++w) {
        if (g.bucket.sig[w] != 0 && !anylb_flow_expired(g.bucket.deadline[w], now_ms)) {
          ++live;
        }
      }
    }
  }
  const uint64_t groups = uint64_t{per_cpu} * static_cast<uint64_t>(ncpu);
  return std::pair<uint64_t, uint64_t>{sampled ? live * groups / sampled : 0,
                                       groups * ANYLB_FLOW_WAYS};
}

Result<std::string> xdp_stats(const std::string& interface, const std::string& pin_root) {
  const std::string dir = pin_dir_for(pin_root, interface);
  PinnedFd path{bpf_obj_get((dir + "/path_stats").c_str())};
  PinnedFd drops{bpf_obj_get((dir + "/drop_stats").c_str())};
  PinnedFd vips{bpf_obj_get((dir + "/vip_stats").c_str())};
  PinnedFd vip_table{bpf_obj_get((dir + "/vips").c_str())};
  if (path.fd < 0 || drops.fd < 0 || vips.fd < 0 || vip_table.fd < 0) {
    return make_error("no anylb maps pinned in " + dir + " (is it running on " + interface + "?)");
  }
  auto p = sum_per_cpu<anylb_path_stats>(path.fd, 0);
  if (!p) return p.error();
  std::string out = fmt::format(
      "passed {}  transmitted {}  replied {}  rescheduled {}  icmp_errors_routed {}  "
      "fragments_routed {}  flow_hits {}  flow_misses {}  flow_evictions {}\n",
      p->passed, p->transmitted, p->replied, p->rescheduled, p->icmp_errors_routed,
      p->fragments_routed, p->flow_hits, p->flow_misses, p->flow_evictions);
  for (uint32_t r = 1; r < ANYLB_DROP_REASON_COUNT; ++r) {
    auto n = sum_per_cpu<uint64_t>(drops.fd, r);
    if (!n) return n.error();
    if (*n) out += fmt::format("drop {}: {}\n", drop_reason_name(static_cast<anylb_drop_reason>(r)), *n);
  }
  for (uint32_t id = 0; id < ANYLB_MAX_VIPS; ++id) {
    anylb_vip v{};
    if (bpf_map_lookup_elem(vip_table.fd, &id, &v) != 0 || !v.present) continue;
    auto s = sum_per_cpu<anylb_vip_stats>(vips.fd, id);
    if (!s) return s.error();
    out += fmt::format("vip {}: packets {} bytes {} new_flows {} drops {} (table {}, half {})\n", id,
                       s->packets, s->bytes, s->new_flows, s->drops, v.table_size, v.active);
  }
  return out;
}

}  // namespace anylb
