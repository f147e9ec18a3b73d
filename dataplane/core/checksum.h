// RFC 1071 Internet checksum pieces, in the form that incremental updates
// (RFC 1624) and pseudo-headers need: sums are kept unfolded in 32 bits and
// folded once at the end.
#pragma once

#include <cstddef>
#include <cstdint>

namespace anylb {

// Adds bytes to a running one's-complement sum as big-endian 16-bit words. An
// odd length pads the last byte with zero, so only the final chunk may be odd.
inline uint32_t csum_add_bytes(uint32_t sum, const uint8_t* p, size_t len) {
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += (uint32_t{p[i]} << 8) | p[i + 1];
  if (i < len) sum += uint32_t{p[i]} << 8;
  // Fold early enough that 32 bits never overflow even for 64 KiB inputs.
  return (sum & 0xffff) + (sum >> 16);
}

inline uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The value to store in a checksum field (host order): complement of the sum.
inline uint16_t csum_finish(uint32_t sum) { return static_cast<uint16_t>(~csum_fold(sum)); }

// Pseudo-header sums (RFC 768/793 for IPv4, RFC 8200 section 8.1 for IPv6).
inline uint32_t csum_pseudo_v4(const uint8_t* src4, const uint8_t* dst4, uint8_t proto,
                               uint32_t l4_len) {
  uint32_t sum = csum_add_bytes(0, src4, 4);
  sum = csum_add_bytes(sum, dst4, 4);
  return sum + proto + l4_len;
}

inline uint32_t csum_pseudo_v6(const uint8_t* src16, const uint8_t* dst16, uint8_t proto,
                               uint32_t l4_len) {
  uint32_t sum = csum_add_bytes(0, src16, 16);
  sum = csum_add_bytes(sum, dst16, 16);
  return sum + (l4_len >> 16) + (l4_len & 0xffff) + proto;
}

// RFC 1624 eqn. 3: new checksum after one 16-bit word changes from old to new.
// Where the new data sums to zero, eqn. 3 gives 0x0000. That fails to verify
// when the data is all zero bytes (an echo reply with id, sequence and payload
// zero: only 0xffff verifies), while 0xffff verifies for any data that sums to
// zero. So 0xffff is returned instead of 0x0000.
inline uint16_t csum_replace16(uint16_t check, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  const auto updated = static_cast<uint16_t>(~csum_fold(sum));
  return updated == 0 ? 0xffff : updated;
}

// Reads/writes a big-endian 16-bit field.
inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

}  // namespace anylb
