#include "xdp/address_table.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "dataplane/core/ip_address.h"

namespace anylb {
namespace {

uint32_t home_slot(const uint8_t* addr16, uint8_t family) {
  uint32_t w[4];
  std::memcpy(w, addr16, sizeof w);
  return anylb_addr_slot_of(w[0], w[1], w[2], w[3], family);
}

bool holds(const anylb_addr_slot& s, const uint8_t* addr16, uint8_t family) {
  return s.family == family && std::memcmp(s.addr, addr16, 16) == 0;
}

std::string name_of(const AddressEntry& e) {
  IpAddress a;
  a.family = e.family;
  a.bytes = e.addr;
  return a.to_string();
}

}  // namespace

Result<std::vector<anylb_addr_slot>> build_address_slots(std::span<const AddressEntry> entries) {
  if (entries.size() > ANYLB_MAX_VIPS) {
    return make_error("address table: " + std::to_string(entries.size()) +
                      " VIP addresses, at most " + std::to_string(ANYLB_MAX_VIPS));
  }
  std::vector<const AddressEntry*> order;
  order.reserve(entries.size());
  for (const auto& e : entries) {
    if (e.family != 4 && e.family != 6) {
      return make_error("address table: family " + std::to_string(e.family) + " is neither 4 nor 6");
    }
    order.push_back(&e);
  }
  std::sort(order.begin(), order.end(), [](const AddressEntry* a, const AddressEntry* b) {
    return a->family != b->family ? a->family < b->family : a->addr < b->addr;
  });
  std::vector<anylb_addr_slot> slots(ANYLB_ADDR_SLOTS);
  for (const AddressEntry* e : order) {
    const uint32_t home = home_slot(e->addr.data(), e->family);
    bool placed = false;
    for (uint32_t i = 0; i < ANYLB_ADDR_PROBES && !placed; ++i) {
      anylb_addr_slot& s = slots[(home + i) & (ANYLB_ADDR_SLOTS - 1)];
      if (holds(s, e->addr.data(), e->family)) {
        return make_error("address table: " + name_of(*e) + " appears twice");
      }
      if (s.family != 0) continue;
      std::memcpy(s.addr, e->addr.data(), 16);
      s.family = e->family;
      s.info = e->info;
      placed = true;
    }
    if (!placed) {
      return make_error("address table: " + name_of(*e) + " lies more than " +
                        std::to_string(ANYLB_ADDR_PROBES) + " slots from its home slot");
    }
  }
  return slots;
}

int probe_address_slot(std::span<const anylb_addr_slot> slots, const uint8_t* addr16,
                       uint8_t family) {
  if (slots.size() != ANYLB_ADDR_SLOTS) return -1;
  const uint32_t home = home_slot(addr16, family);
  for (uint32_t i = 0; i < ANYLB_ADDR_PROBES; ++i) {
    const uint32_t at = (home + i) & (ANYLB_ADDR_SLOTS - 1);
    if (slots[at].family == 0) return -1;
    if (holds(slots[at], addr16, family)) return static_cast<int>(at);
  }
  return -1;
}

}  // namespace anylb
