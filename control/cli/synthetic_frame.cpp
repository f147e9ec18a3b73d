#include "synthetic_frame.h"

#include <cstring>

#include "dataplane/core/checksum.h"

namespace anylb {

SyntheticFrame make_flow_frame(const anylb_flow_key& key, uint8_t tcp_flags,
                               uint16_t payload_len) {
  const bool v6 = key.family == 6;
  const bool tcp = key.proto == 6;
  const uint32_t ip_len = v6 ? 40 : 20;
  const uint32_t l4_len = (tcp ? 20 : 8) + payload_len;
  SyntheticFrame f;
  f.len = 14 + ip_len + l4_len;
  f.storage.assign(SyntheticFrame::kHeadroom + f.len, 0);
  uint8_t* p = f.storage.data() + SyntheticFrame::kHeadroom;
  const uint8_t node_mac[6] = {0x02, 0, 0, 0, 0, 0x10};
  const uint8_t router_mac[6] = {0x02, 0, 0, 0, 0, 0x20};
  std::memcpy(p, node_mac, 6);
  std::memcpy(p + 6, router_mac, 6);
  store_be16(p + 12, v6 ? 0x86dd : 0x0800);
  uint8_t* ip = p + 14;
  if (v6) {
    ip[0] = 0x60;
    store_be16(ip + 4, static_cast<uint16_t>(l4_len));
    ip[6] = key.proto;
    ip[7] = 64;
    std::memcpy(ip + 8, key.src, 16);
    std::memcpy(ip + 24, key.dst, 16);
  } else {
    ip[0] = 0x45;
    store_be16(ip + 2, static_cast<uint16_t>(ip_len + l4_len));
    store_be16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = key.proto;
    std::memcpy(ip + 12, key.src, 4);
    std::memcpy(ip + 16, key.dst, 4);
    store_be16(ip + 10, csum_finish(csum_add_bytes(0, ip, 20)));
  }
  uint8_t* l4 = ip + ip_len;
  std::memcpy(l4, &key.sport, 2);
  std::memcpy(l4 + 2, &key.dport, 2);
  uint32_t check_at;
  if (tcp) {
    l4[12] = 5 << 4;
    l4[13] = tcp_flags;
    store_be16(l4 + 14, 65535);
    check_at = 16;
  } else {
    store_be16(l4 + 4, static_cast<uint16_t>(l4_len));
    check_at = 6;
  }
  uint32_t sum = v6 ? csum_pseudo_v6(key.src, key.dst, key.proto, l4_len)
                    : csum_pseudo_v4(key.src, key.dst, key.proto, l4_len);
  sum = csum_add_bytes(sum, l4, l4_len);
  uint16_t check = csum_finish(sum);
  if (!tcp && check == 0) check = 0xffff;
  store_be16(l4 + check_at, check);
  return f;
}

}  // namespace anylb
