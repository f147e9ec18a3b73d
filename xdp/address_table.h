// One half of the XDP program's VIP address table (addr_slots, see
// anylb_maps.h), built as plain values: the loader writes it into the map's
// inactive half and flips. Pure; the tests probe it as the program does.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "dataplane/core/result.h"
#include "xdp/anylb_maps.h"

namespace anylb {

struct AddressEntry {
  std::array<uint8_t, 16> addr{};  // IPv4 in the first four bytes, the rest zero
  uint8_t family = 0;              // 4 or 6
  anylb_addr_info info{};
};

// ANYLB_ADDR_SLOTS slots with every entry within ANYLB_ADDR_PROBES of its home
// slot (linear probing, entries placed in address order, so the result does not
// depend on the input order). Fails on a duplicate address, a bad family, more
// than ANYLB_MAX_VIPS entries, or an entry that cannot be placed in reach.
Result<std::vector<anylb_addr_slot>> build_address_slots(std::span<const AddressEntry> entries);

// The slot the program's probe finds for (addr16, family), or -1: the same
// walk as find_address() in anylb.bpf.c.
int probe_address_slot(std::span<const anylb_addr_slot> slots, const uint8_t* addr16,
                       uint8_t family);

}  // namespace anylb
