// The loaded BPF program behind the FrameDecider interface: frames go
// through BPF_PROG_TEST_RUN on the calling CPU (its per-CPU flow table), and
// the drop reason is read back from the per-CPU drop counters.
#pragma once

#include <memory>

#include "dataplane/replay/frame_decider.h"
#include "xdp/state_writer.h"
#include "xdp/xdp_program.h"

namespace anylb {

class XdpDecider : public FrameDecider {
 public:
  // Loads a private (unpinned, unattached) copy of the program for `state`.
  // Pins the calling thread to its current CPU: per-CPU maps must stay one.
  static Result<std::unique_ptr<XdpDecider>> create(const ForwardingState& state,
                                                    uint32_t flow_entries,
                                                    const FlowTimeoutsMs& timeouts);
  Result<FrameResult> decide(std::span<const uint8_t> frame, uint32_t now_ms) override;
  Result<bool> publish(const ForwardingState& state) override;
  const XdpProgram& program() const { return *program_; }

 private:
  XdpDecider(std::unique_ptr<XdpProgram> p, XdpStateWriter w, int cpu)
      : program_(std::move(p)), writer_(std::move(w)), cpu_(cpu) {}

  std::unique_ptr<XdpProgram> program_;
  XdpStateWriter writer_;
  int cpu_;
  std::vector<uint64_t> seen_drops_;  // per reason, on cpu_, after the last run
  uint64_t seen_replies_ = 0;
};

}  // namespace anylb
