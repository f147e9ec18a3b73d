#include "icmp_echo.h"

#include <cstring>

#include "checksum.h"

namespace anylb {
namespace {

void swap_bytes(uint8_t* a, uint8_t* b, size_t n) {
  uint8_t tmp[16];
  std::memcpy(tmp, a, n);
  std::memcpy(a, b, n);
  std::memcpy(b, tmp, n);
}

}  // namespace

anylb_drop_reason reply_icmp_echo(PacketBuffer& buf, const PacketView& view) {
  const uint32_t ip_header_len = view.family == 4 ? 20u : 40u;
  if (view.l4_offset != view.l3_offset + ip_header_len) return ANYLB_DROP_ICMP_UNHANDLED;
  uint8_t* ip = buf.data + view.l3_offset;
  uint8_t* icmp = buf.data + view.l4_offset;
  swap_bytes(buf.data, buf.data + 6, 6);
  if (view.family == 4) {
    swap_bytes(ip + 12, ip + 16, 4);
    ip[8] = 64;
    store_be16(ip + 10, 0);
    store_be16(ip + 10, csum_finish(csum_add_bytes(0, ip, 20)));
    // Type 8 -> 0; code unchanged. No pseudo-header in ICMPv4.
    const uint16_t old_word = load_be16(icmp);
    icmp[0] = 0;
    store_be16(icmp + 2, csum_replace16(load_be16(icmp + 2), old_word, load_be16(icmp)));
  } else {
    swap_bytes(ip + 8, ip + 24, 16);
    ip[7] = 64;
    // Type 128 -> 129. The pseudo-header sum is unchanged: swapping source and
    // destination does not change a one's-complement sum.
    const uint16_t old_word = load_be16(icmp);
    icmp[0] = 129;
    store_be16(icmp + 2, csum_replace16(load_be16(icmp + 2), old_word, load_be16(icmp)));
  }
  buf.len = view.l3_offset + view.l3_length;
  return ANYLB_DROP_NONE;
}

}  // namespace anylb
