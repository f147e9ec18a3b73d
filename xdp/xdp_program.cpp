#include "xdp/xdp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "dataplane/core/flow_table.h"
#include "xdp/anylb.skel.h"

namespace anylb {
namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// Pins need a bpf filesystem. The default root is /sys/fs/bpf, mounted here
// when a fresh machine has not; any other root must already be a bpffs (tests
// mount one where network-namespace shells still see it).
Result<bool> ensure_bpffs(const std::string& dir) {
  std::filesystem::path probe = dir;
  while (!probe.empty() && !std::filesystem::exists(probe)) probe = probe.parent_path();
  struct statfs fs {};
  const bool on_bpffs = statfs(probe.c_str(), &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
  if (!on_bpffs) {
    if (dir.rfind("/sys/fs/bpf/", 0) != 0) {
      return make_error("pin directory " + dir + " is not on a bpf filesystem (mount -t bpf bpf DIR)");
    }
    if (mount("bpf", "/sys/fs/bpf", "bpf", 0, nullptr) != 0) {
      return make_error("mount bpffs at /sys/fs/bpf: " + errno_text(errno));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error("create pin directory " + dir + ": " + ec.message());
  return true;
}

}  // namespace

std::string pin_dir_for(const std::string& pin_root, const std::string& interface) {
  return pin_root + "/" + interface;
}

XdpProgram::XdpProgram(::anylb_bpf* skel) : skel_(skel) {}

void XdpProgram::read_map_fds() {
  ::anylb_bpf* skel = skel_;
  maps_.addr_slots = bpf_map__fd(skel->maps.addr_slots);
  maps_.addr_half = bpf_map__fd(skel->maps.addr_half);
  maps_.vip_index = bpf_map__fd(skel->maps.vip_index);
  maps_.vips = bpf_map__fd(skel->maps.vips);
  maps_.maglev = bpf_map__fd(skel->maps.maglev);
  maps_.backends = bpf_map__fd(skel->maps.backends);
  maps_.flow_groups = bpf_map__fd(skel->maps.flow_groups);
  maps_.vip_stats = bpf_map__fd(skel->maps.vip_stats);
  maps_.backend_stats = bpf_map__fd(skel->maps.backend_stats);
  maps_.drop_stats = bpf_map__fd(skel->maps.drop_stats);
  maps_.path_stats = bpf_map__fd(skel->maps.path_stats);
}

XdpProgram::~XdpProgram() { anylb_bpf__destroy(skel_); }

int XdpProgram::prog_fd() const { return bpf_program__fd(skel_->progs.anylb_xdp); }

Result<std::unique_ptr<XdpProgram>> XdpProgram::load(const anylb_node_config& node,
                                                     uint32_t flow_entries,
                                                     const std::string& pin_dir) {
  ::anylb_bpf* skel = anylb_bpf__open();
  if (skel == nullptr) return make_error("open BPF object: " + errno_text(errno));
  // Owns skel from here: every early return destroys it.
  std::unique_ptr<XdpProgram> program(new XdpProgram(skel));
  // One FlowTable-shaped table per possible CPU, side by side in one array.
  const uint64_t buckets = FlowTable::buckets_for(flow_entries);
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return make_error("number of CPUs: " + errno_text(cpus));
  // The program indexes groups as cpu * buckets + bucket in 32 bits.
  const uint64_t groups = buckets * static_cast<uint64_t>(cpus);
  if (groups > UINT32_MAX) {
    return make_error("flow_table_entries " + std::to_string(flow_entries) + " x " +
                      std::to_string(cpus) + " CPUs is more than one BPF array holds");
  }
  anylb_node_config knobs = node;
  knobs.flow_bucket_mask = static_cast<uint32_t>(buckets - 1);
  std::memcpy(const_cast<anylb_node_config*>(&skel->rodata->node_config), &knobs, sizeof knobs);
  if (int err = bpf_map__set_max_entries(skel->maps.flow_groups, static_cast<uint32_t>(groups));
      err != 0) {
    return make_error("flow_groups map: " + errno_text(err));
  }
  if (!pin_dir.empty()) {
    if (auto ok = ensure_bpffs(pin_dir); !ok) return ok.error();
    struct bpf_map* map;
    bpf_object__for_each_map(map, skel->obj) {
      if (bpf_map__is_internal(map)) continue;
      const std::string path = pin_dir + "/" + bpf_map__name(map);
      if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0) {
        return make_error("pin path " + path + ": " + errno_text(err));
      }
    }
  }
  if (int err = anylb_bpf__load(skel); err != 0) {
    return make_error("load BPF program" +
                      (pin_dir.empty() ? std::string() : " (maps pinned in " + pin_dir + ")") +
                      ": " + errno_text(err) +
                      (err == -EINVAL && !pin_dir.empty()
                           ? " (a pinned map no longer matches, e.g. flow_table_entries "
                             "changed: stop and start again)"
                           : ""));
  }
  program->read_map_fds();  // the fds exist only after load
  return program;
}

Result<XdpProgram::TestRun> XdpProgram::test_run(std::span<const uint8_t> frame) const {
  TestRun r;
  // Room for the largest encapsulation plus slack; the kernel writes at most
  // what the program left in the frame.
  r.out.resize(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_out = r.out.data(),
              .data_size_in = static_cast<__u32>(frame.size()),
              .data_size_out = static_cast<__u32>(r.out.size()), .repeat = 1);
  if (int err = bpf_prog_test_run_opts(prog_fd(), &opts); err != 0) {
    return make_error("BPF_PROG_TEST_RUN: " + errno_text(err));
  }
  r.action = opts.retval;
  r.out.resize(opts.data_size_out);
  return r;
}

Result<bool> attach_xdp(const XdpProgram& program, const std::string& interface,
                        const std::string& pin_dir, bool generic) {
  const unsigned ifindex = if_nametoindex(interface.c_str());
  if (ifindex == 0) return make_error("interface '" + interface + "': " + errno_text(errno));
  if (auto ok = ensure_bpffs(pin_dir); !ok) return ok.error();
  const std::string link_path = pin_dir + "/link";
  const int pinned = bpf_obj_get(link_path.c_str());
  if (pinned >= 0) {
    // Already attached by an earlier run: swap the program in place.
    const int err = bpf_link_update(pinned, program.prog_fd(), nullptr);
    close(pinned);
    if (err == 0) return true;
    // ENOLINK: the interface the link was made for went away (the name may
    // now be a new interface). The dead link is dropped and a new one made;
    // the maps stay.
    if (err != -ENOLINK) {
      return make_error("replace program on " + interface + ": " + errno_text(err));
    }
    if (unlink(link_path.c_str()) != 0) {
      return make_error("remove defunct link " + link_path + ": " + errno_text(errno));
    }
  }
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
  const int link = bpf_link_create(program.prog_fd(), static_cast<int>(ifindex), BPF_XDP, &opts);
  if (link < 0) {
    return make_error("attach to " + interface + " in " + (generic ? "generic" : "native") +
                      " mode: " + errno_text(link) +
                      (generic ? "" : " (use --generic if the driver has no native XDP)"));
  }
  const int err = bpf_obj_pin(link, link_path.c_str());
  close(link);  // the pin keeps the link, and so the attachment, alive
  if (err != 0) return make_error("pin link " + link_path + ": " + errno_text(err));
  return true;
}

Result<bool> detach_xdp(const std::string& pin_dir) {
  const std::string link_path = pin_dir + "/link";
  const int link = bpf_obj_get(link_path.c_str());
  if (link < 0) return make_error("no anylb program attached (no link pinned at " + link_path + ")");
  const int err = bpf_link_detach(link);
  close(link);
  if (err != 0) return make_error("detach: " + errno_text(err));
  std::error_code ec;
  std::filesystem::remove_all(pin_dir, ec);
  if (ec) return make_error("remove pins in " + pin_dir + ": " + ec.message());
  return true;
}

}  // namespace anylb
