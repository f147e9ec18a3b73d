// One frame in, the balancer's decision and output frame out: the common
// shape of the C++ model and of the loaded BPF program, so that replay and
// the differential tests drive both the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/core/abi.h"
#include "dataplane/core/counters.h"
#include "dataplane/core/flow_table.h"
#include "dataplane/core/forwarding_state.h"
#include "dataplane/core/result.h"

namespace anylb {

struct FrameResult {
  anylb_verdict verdict = ANYLB_VERDICT_PASS;
  anylb_drop_reason reason = ANYLB_DROP_NONE;
  std::vector<uint8_t> out;  // the frame sent (TX, REPLY); empty otherwise
};

class FrameDecider {
 public:
  virtual ~FrameDecider() = default;
  // now_ms: the clock the decision reads (flow-table idle timeouts).
  virtual Result<FrameResult> decide(std::span<const uint8_t> frame, uint32_t now_ms) = 0;
  // Publishes a new forwarding state (a table flip mid-sequence).
  virtual Result<bool> publish(const ForwardingState& state) = 0;
};

// The C++ reference: decide() over a private flow table and counters.
class ModelDecider : public FrameDecider {
 public:
  ModelDecider(ForwardingState state, uint32_t flow_entries, FlowTimeoutsMs timeouts)
      : state_(std::move(state)), flows_(flow_entries, timeouts),
        counters_(std::make_unique<Counters>()) {}
  Result<FrameResult> decide(std::span<const uint8_t> frame, uint32_t now_ms) override;
  Result<bool> publish(const ForwardingState& state) override {
    state_ = state;
    return true;
  }
  const Counters& counters() const { return *counters_; }
  const ForwardingState& state() const { return state_; }

 private:
  ForwardingState state_;
  FlowTable flows_;
  std::unique_ptr<Counters> counters_;
};

// Where the decision's clock comes from when replaying: the BPF program reads
// bpf_ktime_get_coarse_ns(), which is CLOCK_MONOTONIC_COARSE, so the model
// reads the same clock to agree with it.
uint32_t monotonic_ms();

// The backend address an encapsulated frame is sent to (its outer
// destination), for logs; empty if the frame is not one.
std::string outer_destination(std::span<const uint8_t> frame);

}  // namespace anylb
