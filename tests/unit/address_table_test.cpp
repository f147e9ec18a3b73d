// The XDP program's VIP address table, built as values and probed the way
// anylb.bpf.c probes it.
#include "xdp/address_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace anylb {
namespace {

AddressEntry v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint32_t tag) {
  AddressEntry e;
  e.addr = {a, b, c, d};
  e.family = 4;
  e.info.fragment_vip[0] = tag;
  return e;
}

AddressEntry v6(uint32_t n) {
  AddressEntry e;
  e.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
            uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
  e.family = 6;
  e.info.fragment_vip[0] = n;
  return e;
}

TEST(AddressTable, EveryAddressIsFoundWithItsInfo) {
  std::vector<AddressEntry> in = {v4(192, 0, 2, 1, 1), v4(192, 0, 2, 2, 2), v6(7)};
  auto slots = build_address_slots(in);
  ASSERT_TRUE(slots) << slots.error().message;
  for (const auto& e : in) {
    const int at = probe_address_slot(*slots, e.addr.data(), e.family);
    ASSERT_GE(at, 0);
    EXPECT_EQ((*slots)[at].info.fragment_vip[0], e.info.fragment_vip[0]);
  }
  const AddressEntry other = v4(192, 0, 2, 3, 0);
  EXPECT_EQ(probe_address_slot(*slots, other.addr.data(), 4), -1);
  // Same bytes, other family: a different address.
  EXPECT_EQ(probe_address_slot(*slots, in[0].addr.data(), 6), -1);
}

TEST(AddressTable, FullTableOfRandomAddressesIsWithinReach) {
  std::mt19937 rng(42);
  std::vector<AddressEntry> in;
  for (uint32_t i = 0; i < ANYLB_MAX_VIPS; ++i) {
    if (i % 2) {
      in.push_back(v6(rng()));
    } else {
      const uint32_t r = rng();
      in.push_back(v4(uint8_t(r >> 24), uint8_t(r >> 16), uint8_t(r >> 8), uint8_t(r), i));
    }
  }
  auto slots = build_address_slots(in);
  ASSERT_TRUE(slots) << slots.error().message;
  for (const auto& e : in) EXPECT_GE(probe_address_slot(*slots, e.addr.data(), e.family), 0);
}

TEST(AddressTable, SequentialAddressesOfAPrefixSpread) {
  // A /20 of VIPs, as operators allocate them: the home slots must not cluster.
  std::vector<AddressEntry> in;
  for (uint32_t i = 0; i < ANYLB_MAX_VIPS; ++i) in.push_back(v4(198, 51, uint8_t(i >> 8), uint8_t(i), i));
  auto slots = build_address_slots(in);
  ASSERT_TRUE(slots) << slots.error().message;
  for (const auto& e : in) EXPECT_GE(probe_address_slot(*slots, e.addr.data(), 4), 0);
}

TEST(AddressTable, InputOrderDoesNotChangeTheTable) {
  std::vector<AddressEntry> in;
  for (uint32_t i = 0; i < 300; ++i) in.push_back(v6(i * 7919));
  auto a = build_address_slots(in);
  std::reverse(in.begin(), in.end());
  auto b = build_address_slots(in);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->size(), b->size());
  EXPECT_EQ(std::memcmp(a->data(), b->data(), a->size() * sizeof(anylb_addr_slot)), 0);
}

TEST(AddressTable, RejectsDuplicatesBadFamiliesAndTooMany) {
  std::vector<AddressEntry> dup = {v4(192, 0, 2, 1, 1), v4(192, 0, 2, 1, 2)};
  auto r = build_address_slots(dup);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("192.0.2.1 appears twice"), std::string::npos)
      << r.error().message;

  AddressEntry bad = v4(192, 0, 2, 1, 1);
  bad.family = 5;
  EXPECT_FALSE(build_address_slots(std::vector<AddressEntry>{bad}));

  std::vector<AddressEntry> many;
  for (uint32_t i = 0; i <= ANYLB_MAX_VIPS; ++i) many.push_back(v6(i));
  EXPECT_FALSE(build_address_slots(many));
}

TEST(AddressTable, EmptyTableFindsNothing) {
  auto slots = build_address_slots({});
  ASSERT_TRUE(slots);
  const AddressEntry e = v4(10, 0, 0, 1, 0);
  EXPECT_EQ(probe_address_slot(*slots, e.addr.data(), 4), -1);
}

}  // namespace
}  // namespace anylb
