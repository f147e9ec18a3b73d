// Frames made up for a flow, for the tools that push synthetic traffic through
// the decision (simulate, lookup, benchmarks): Ethernet + IPv4/IPv6 + TCP/UDP
// with valid checksums, in a buffer with room for the encapsulation.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/core/abi.h"
#include "dataplane/core/packet_buffer.h"

namespace anylb {

struct SyntheticFrame {
  static constexpr uint32_t kHeadroom = 128;
  std::vector<uint8_t> storage;
  uint32_t len = 0;

  // A buffer over a fresh copy of the frame (decide() rewrites it in place).
  PacketBuffer buffer() { return {storage.data() + kHeadroom, len, kHeadroom}; }
};

// TCP gets `tcp_flags`; UDP ignores them. payload_len zero bytes follow.
SyntheticFrame make_flow_frame(const anylb_flow_key& key, uint8_t tcp_flags,
                               uint16_t payload_len = 0);

}  // namespace anylb
