// The loaded BPF program and its maps, as the C++ side holds them: the
// skeleton's lifecycle (knobs set before load, maps pinned and reused), the
// attachment to an interface through a pinned bpf_link, and test runs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/core/result.h"
#include "xdp/anylb_maps.h"

struct anylb_bpf;  // the bpftool-generated skeleton (anylb.skel.h)

namespace anylb {

struct XdpMaps {
  int addr_slots = -1;
  int addr_half = -1;
  int vip_index = -1;
  int vips = -1;
  int maglev = -1;
  int backends = -1;
  int flow_groups = -1;
  int vip_stats = -1;
  int backend_stats = -1;
  int drop_stats = -1;
  int path_stats = -1;
};

class XdpProgram {
 public:
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  // Opens and loads the program with `node` as its knobs and a flow table of
  // at least `flow_entries` per CPU (rounded up as FlowTable rounds it). With
  // a pin_dir, every map is pinned there, and maps already pinned there are
  // reused: that is how a restarted control
  // process keeps the flows and tables of the running one. Without one, the
  // maps are private to this object (replay, tests).
  static Result<std::unique_ptr<XdpProgram>> load(const anylb_node_config& node,
                                                  uint32_t flow_entries,
                                                  const std::string& pin_dir);

  int prog_fd() const;
  const XdpMaps& maps() const { return maps_; }

  // One frame through the program with BPF_PROG_TEST_RUN (repeat 1) on the
  // calling CPU. `out` is the frame as the program left it.
  struct TestRun {
    uint32_t action = 0;  // XDP_PASS, XDP_DROP, XDP_TX, ...
    std::vector<uint8_t> out;
  };
  Result<TestRun> test_run(std::span<const uint8_t> frame) const;

 private:
  explicit XdpProgram(::anylb_bpf* skel);
  void read_map_fds();
  ::anylb_bpf* skel_;
  XdpMaps maps_;
};

// Attaches the program to an interface through a bpf_link pinned at
// pin_dir/link, in native (driver) mode unless `generic`. If a link is already
// pinned there, the program is swapped in atomically (bpf_link_update): no
// packet sees the interface without a program, and the maps stay.
Result<bool> attach_xdp(const XdpProgram& program, const std::string& interface,
                        const std::string& pin_dir, bool generic);

// Detaches (destroys the pinned link) and removes every pin under pin_dir:
// the flows and tables go with them. Only an explicit stop calls this.
Result<bool> detach_xdp(const std::string& pin_dir);

constexpr const char* kDefaultPinRoot = "/sys/fs/bpf/anylb";
// <pin_root>/<interface>: one program's maps and link.
std::string pin_dir_for(const std::string& pin_root, const std::string& interface);

}  // namespace anylb
