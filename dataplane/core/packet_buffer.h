// A frame in a buffer with writable headroom in front of it, as a DPDK mbuf or
// an XDP frame has: encapsulation prepends headers by moving `data` back.
#pragma once

#include <cstdint>
#include <span>

namespace anylb {

struct PacketBuffer {
  uint8_t* data = nullptr;  // first byte of the frame
  uint32_t len = 0;         // frame length
  uint32_t headroom = 0;    // writable bytes before data

  std::span<const uint8_t> frame() const { return {data, len}; }
};

}  // namespace anylb
