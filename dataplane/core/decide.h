// The forwarding decision: one frame, the published state, this core's flow
// table and counters, and the time -> pass, drop, transmit encapsulated, or
// reply. Both fast paths must reach the same decision for the same inputs; the
// DPDK driver calls this function, the XDP program is tested against it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "abi.h"
#include "counters.h"
#include "flow_table.h"
#include "forwarding_state.h"
#include "packet_buffer.h"

namespace anylb {

// How the backend was chosen (for `anylbctl lookup` and replay logs).
enum class DecisionPath : uint8_t {
  None,         // pass, or dropped before a backend was chosen
  FlowHit,      // the flow table knew the flow and its backend is still usable
  NewFlow,      // not in the flow table: Maglev slot, entry inserted
  Rescheduled,  // in the flow table, but its backend is down or gone: Maglev again
  Fragment,     // IP fragment: Maglev on the addresses alone, no flow entry
  IcmpError,    // ICMP error routed to the backend of the flow it quotes
  EchoReply,    // ICMP echo to a VIP answered
};

struct Decision {
  anylb_verdict verdict = ANYLB_VERDICT_PASS;
  anylb_drop_reason reason = ANYLB_DROP_NONE;
  DecisionPath path = DecisionPath::None;
  uint32_t vip_id = ANYLB_INVALID_ID;
  uint32_t backend_id = ANYLB_INVALID_ID;
  uint32_t flow_hash = 0;
  uint32_t slot = ANYLB_INVALID_ID;  // Maglev slot consulted, if any
};

// On TX and REPLY, `buf` holds the frame to send (data/len/headroom updated in
// place); on PASS it is untouched; on DROP its contents are unspecified.
Decision decide(PacketBuffer& buf, const ForwardingState& state, FlowTable& flows,
                uint32_t now_ms, Counters& counters);

// The same decision for a burst of frames (out.size() >= bufs.size()), with
// the flow-table memory accesses of up to kMaxBurst packets overlapped. The
// result for each frame equals what decide() gives when called on the frames
// in order.
constexpr size_t kMaxBurst = 32;
void decide_burst(std::span<PacketBuffer> bufs, const ForwardingState& state, FlowTable& flows,
                  uint32_t now_ms, Counters& counters, std::span<Decision> out);

// Flow-table state after a TCP segment with `flags` on a flow in state `current`.
uint8_t next_tcp_flow_state(uint8_t current, uint8_t flags);
uint8_t initial_flow_state(uint8_t protocol, uint8_t tcp_flags);

const char* verdict_name(anylb_verdict verdict);
const char* decision_path_name(DecisionPath path);

}  // namespace anylb
