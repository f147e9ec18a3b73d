#include <cstring>
#include <optional>
#include <type_traits>

#include "control/cli/xdp_control.h"
#include "dataplane/replay/frame_decider.h"
#include "control/daemon/dataplane.h"
#include "control/tables/state_spec.h"
#include "xdp/node_config.h"
#include "xdp/state_writer.h"
#include "xdp/xdp_program.h"

namespace anylb {

namespace {

// Knobs are compared bytewise to tell whether a reload changed them.
static_assert(std::has_unique_object_representations_v<anylb_node_config>);

constexpr uint32_t kSampleBuckets = 4096;  // per CPU: 2.3 MiB read per scrape

// The program with its maps pinned under pin_root/<interface>: a restarted
// anylbd reloads over the same maps, so flows and tables survive it.
class XdpDataplane : public Dataplane {
 public:
  explicit XdpDataplane(std::string pin_root) : pin_root_(std::move(pin_root)) {}
  const char* kind() const override { return "xdp"; }

  Result<std::optional<ForwardingState>> open(const Config& config) override {
    // The knobs do not depend on ids: a state built on its own gives them.
    auto checked = build_state_from_config(config, nullptr);
    if (!checked) return checked.error();
    interface_ = config.node.interface;
    pin_dir_ = pin_dir_for(pin_root_, interface_);
    flow_entries_ = config.node.flow_table_entries;
    node_ = make_node_config(*checked, flow_timeouts_from_config(config.timeouts));
    auto loaded = load(node_);
    if (!loaded) return loaded.error();
    program_ = std::move(loaded->first);
    writer_.emplace(std::move(loaded->second));
    return std::optional<ForwardingState>(writer_->running_state());
  }

  Result<bool> start(const Config&, const ForwardingState& state) override {
    // Tables before the program, as `anylbctl xdp apply` does it.
    if (auto ok = writer_->publish(state); !ok) return ok.error();
    return attach_xdp(*program_, interface_, pin_dir_, false);
  }

  // The knobs are the program's read-only data, fixed when it loads. When a
  // reload changes them, a program with the new ones is loaded over the same
  // pinned maps and swapped in, as `anylbctl xdp apply` does: the flows stay.
  Result<bool> publish(const Config& config, const ForwardingState& state) override {
    if (!writer_) {
      // A failed swap could not read the maps back: write nothing blind.
      auto w = XdpStateWriter::open(program_->maps());
      if (!w) return make_error("xdp: maps unreadable since a failed program swap: " + w.error().message);
      writer_.emplace(std::move(*w));
    }
    const anylb_node_config node =
        make_node_config(state, flow_timeouts_from_config(config.timeouts));
    if (std::memcmp(&node, &node_, sizeof node) == 0) {
      if (auto ok = writer_->publish(state); !ok) return ok.error();
      return true;
    }
    auto loaded = load(node);
    if (!loaded) return loaded.error();
    auto& [program, writer] = *loaded;
    std::optional<Error> failed;
    if (auto published = writer.publish(state); !published) {
      failed = published.error();
    } else if (auto attached = attach_xdp(*program, interface_, pin_dir_, false); !attached) {
      failed = attached.error();
    }
    if (failed) {
      // The old program stays attached. The new writer may have written some
      // of `state` into the shared maps: the old writer reads them back, so
      // its next publish (the caller retries) diffs against what is there.
      writer_.reset();
      if (auto w = XdpStateWriter::open(program_->maps()); w) writer_.emplace(std::move(*w));
      return *failed;
    }
    program_ = std::move(program);
    writer_.emplace(std::move(writer));
    node_ = node;
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
  // A program with `node` as its knobs, over the maps pinned in pin_dir_
  // (created there on the first load), and a writer that has read them back.
  // The writer holds the program's map fds: the two live and die together.
  Result<std::pair<std::unique_ptr<XdpProgram>, XdpStateWriter>> load(
      const anylb_node_config& node) {
    auto program = XdpProgram::load(node, flow_entries_, pin_dir_);
    if (!program) return program.error();
    auto writer = XdpStateWriter::open((*program)->maps());
    if (!writer) return writer.error();
    return std::make_pair(std::move(*program), std::move(*writer));
  }

  std::string pin_root_;
  std::string interface_;
  std::string pin_dir_;
  uint32_t flow_entries_ = 0;
  anylb_node_config node_{};
  std::unique_ptr<XdpProgram> program_;
  std::optional<XdpStateWriter> writer_;
};

}  // namespace

std::unique_ptr<Dataplane> make_xdp_dataplane(const std::string& pin_root) {
  return std::make_unique<XdpDataplane>(pin_root);
}

}  // namespace anylb
