#include <optional>

#include "control/cli/xdp_control.h"
#include "dataplane/replay/frame_decider.h"
#include "control/daemon/dataplane.h"
#include "control/tables/state_spec.h"
#include "xdp/node_config.h"
#include "xdp/state_writer.h"
#include "xdp/xdp_program.h"

namespace anylb {

namespace {

constexpr uint32_t kSampleBuckets = 4096;  // per CPU: 2.3 MiB read per scrape

// The program with its maps pinned under pin_root/<interface>: a restarted
// anylbd reloads over the same maps, so flows and tables survive it.
class XdpDataplane : public Dataplane {
 public:
  explicit XdpDataplane(std::string pin_root) : pin_root_(std::move(pin_root)) {}
  const char* kind() const override { return "xdp"; }

  Result<bool> start(const Config& config, const ForwardingState& state) override {
    const std::string pin_dir = pin_dir_for(pin_root_, config.node.interface);
    auto program = XdpProgram::load(
        make_node_config(state, flow_timeouts_from_config(config.timeouts)),
        config.node.flow_table_entries, pin_dir);
    if (!program) return program.error();
    program_ = std::move(*program);
    auto writer = XdpStateWriter::open(program_->maps());
    if (!writer) return writer.error();
    writer_.emplace(std::move(*writer));
    // Tables before the program, as `anylbctl xdp apply` does it.
    if (auto ok = writer_->publish(state); !ok) return ok.error();
    return attach_xdp(*program_, config.node.interface, pin_dir, false);
  }

  Result<bool> publish(const ForwardingState& state) override {
    auto ok = writer_->publish(state);
    if (!ok) return ok.error();
    return true;
  }

  Result<std::unique_ptr<Counters>> counters(const ForwardingState& state) const override {
    return read_xdp_counters(program_->maps(), state);
  }

  FlowOccupancy flow_occupancy() const override {
    auto o = read_xdp_flow_occupancy(program_->maps(), monotonic_ms(), kSampleBuckets);
    return o ? FlowOccupancy{o->first, o->second} : FlowOccupancy{};
  }

  void stop() override {}

 private:
  std::string pin_root_;
  std::unique_ptr<XdpProgram> program_;
  std::optional<XdpStateWriter> writer_;
};

}  // namespace

std::unique_ptr<Dataplane> make_xdp_dataplane(const std::string& pin_root) {
  return std::make_unique<XdpDataplane>(pin_root);
}

}  // namespace anylb
