// Maglev builder properties, checked by comparing values (tables, shares,
// moved slots) the way Katran's MaglevHash tests do.
#include "dataplane/core/maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "dataplane/core/abi.h"

namespace anylb {
namespace {

std::vector<MaglevBackend> make_backends(uint32_t n, uint32_t weight = 100) {
  std::vector<MaglevBackend> out;
  for (uint32_t i = 0; i < n; ++i) {
    out.push_back({i, IpAddress::v4(10, static_cast<uint8_t>(1 + i / 65536),
                                    static_cast<uint8_t>(i / 256), static_cast<uint8_t>(i)),
                   weight});
  }
  return out;
}

MaglevTable build(const std::vector<MaglevBackend>& b, uint32_t m,
                  const MaglevTable& prev = MaglevTable{}) {
  auto r = build_maglev(b, m, prev);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r->table : MaglevTable{};
}

std::map<uint32_t, uint64_t> slot_counts(const MaglevTable& t) {
  std::map<uint32_t, uint64_t> counts;
  for (auto id : t.slots) ++counts[id];
  return counts;
}

TEST(Maglev, EveryMaglevSlotFilled) {
  const auto t = build(make_backends(7), 65537);
  ASSERT_EQ(t.slots.size(), 65537u);
  for (auto id : t.slots) ASSERT_LT(id, 7u);
}

TEST(Maglev, NoBackendsGivesEmptySlots) {
  const auto t = build({}, 101);
  ASSERT_EQ(t.slots.size(), 101u);
  for (auto id : t.slots) EXPECT_EQ(id, ANYLB_INVALID_ID);
}

TEST(Maglev, ZeroWeightBackendOwnsNoSlot) {
  auto b = make_backends(4);
  b[2].weight = 0;
  const auto counts = slot_counts(build(b, 65537));
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_EQ(counts.size(), 3u);
}

TEST(Maglev, RejectsNonPrimeSize) {
  auto r = build_maglev(make_backends(3), 65536, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("65536"), std::string::npos);
  EXPECT_NE(r.error().message.find("prime"), std::string::npos);
}

TEST(Maglev, RejectsDuplicateAddress) {
  auto b = make_backends(3);
  b[2].address = b[0].address;
  auto r = build_maglev(b, 101, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("10.1.0.0"), std::string::npos);
}

TEST(Maglev, RejectsDuplicateId) {
  auto b = make_backends(3);
  b[2].id = 0;
  EXPECT_FALSE(build_maglev(b, 101, {}).ok());
}

TEST(Maglev, SameTableWhateverTheConfigOrder) {
  auto b = make_backends(50);
  for (auto& x : b) x.weight = 50 + (x.id * 37) % 200;
  const auto reference = build(b, 65537);
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(b.begin(), b.end(), rng);
    EXPECT_EQ(build(b, 65537), reference) << "round " << round;
  }
}

TEST(Maglev, PermutationDependsOnAddressOnly) {
  const auto a = maglev_permutation(IpAddress::v4(10, 0, 0, 1), 65537);
  const auto b = maglev_permutation(IpAddress::v4(10, 0, 0, 1), 65537);
  const auto c = maglev_permutation(IpAddress::v4(10, 0, 0, 2), 65537);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.skip, b.skip);
  EXPECT_TRUE(a.offset != c.offset || a.skip != c.skip);
  EXPECT_GE(a.skip, 1u);
  EXPECT_LT(a.skip, 65537u);
}

// Balance: with M >= 100 N every backend owns within 2% of every other.
class MaglevBalance : public ::testing::TestWithParam<uint32_t> {};

TEST_P(MaglevBalance, MaxOverMinSlotShareAtMost102Percent) {
  const uint32_t n = GetParam();
  const auto counts = slot_counts(build(make_backends(n), 65537));
  ASSERT_EQ(counts.size(), n);
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const auto& [id, c] : counts) {
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  EXPECT_LE(double(hi) / double(lo), 1.02) << "n=" << n << " min=" << lo << " max=" << hi;
}

INSTANTIATE_TEST_SUITE_P(Sizes, MaglevBalance, ::testing::Values(2u, 3u, 10u, 100u, 655u));

TEST(Maglev, WeightsSetShares) {
  auto b = make_backends(4);
  b[0].weight = 100;
  b[1].weight = 200;
  b[2].weight = 300;
  b[3].weight = 400;
  const auto counts = slot_counts(build(b, 65537));
  for (uint32_t i = 0; i < 4; ++i) {
    const double share = double(counts.at(i)) / 65537.0;
    EXPECT_NEAR(share, (i + 1) / 10.0, 0.005) << "backend " << i;
  }
}

// Disruption: removing one of N moves its own slots and < 1% of the others.
class MaglevDisruption : public ::testing::TestWithParam<uint32_t> {};

TEST_P(MaglevDisruption, RemovingOneMovesUnderOnePercentOfOthers) {
  const uint32_t n = GetParam();
  auto b = make_backends(n);
  const auto before = build(b, 65537);
  const uint32_t removed = n / 2;
  b.erase(b.begin() + removed);
  auto r = build_maglev(b, 65537, before);
  ASSERT_TRUE(r.ok());
  uint64_t others = 0, others_moved = 0;
  for (uint32_t s = 0; s < 65537; ++s) {
    if (before.slots[s] == removed) {
      EXPECT_NE(r->table.slots[s], removed);
      continue;
    }
    ++others;
    if (r->table.slots[s] != before.slots[s]) ++others_moved;
  }
  EXPECT_LT(double(others_moved) / double(others), 0.01)
      << others_moved << " of " << others << " slots of remaining backends moved";
}

INSTANTIATE_TEST_SUITE_P(Sizes, MaglevDisruption, ::testing::Values(3u, 10u, 100u, 500u));

TEST(Maglev, ChangedSlotsAreExactlyTheDifferingOnes) {
  auto b = make_backends(10);
  const auto before = build(b, 1009);
  b[3].weight = 0;
  auto r = build_maglev(b, 1009, before);
  ASSERT_TRUE(r.ok());
  std::vector<uint32_t> expected;
  for (uint32_t s = 0; s < 1009; ++s) {
    if (before.slots[s] != r->table.slots[s]) expected.push_back(s);
  }
  EXPECT_EQ(r->changed, expected);
  EXPECT_FALSE(expected.empty());
}

TEST(Maglev, ChangedSlotsEmptyWhenNothingChanged) {
  const auto b = make_backends(10);
  const auto before = build(b, 1009);
  auto r = build_maglev(b, 1009, before);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->changed.empty());
}

TEST(Maglev, AllSlotsChangedAgainstAnotherSize) {
  const auto b = make_backends(10);
  auto r = build_maglev(b, 1009, build(b, 1013));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changed.size(), 1009u);
}

TEST(Maglev, AddingABackendTakesSlotsOnlyForItself) {
  auto b = make_backends(20);
  const auto before = build(b, 65537);
  b.push_back({20, IpAddress::v4(10, 9, 9, 9), 100});
  auto r = build_maglev(b, 65537, before);
  ASSERT_TRUE(r.ok());
  uint64_t to_new = 0, shuffled = 0;
  for (auto s : r->changed) {
    if (r->table.slots[s] == 20) {
      ++to_new;
    } else {
      ++shuffled;
    }
  }
  EXPECT_NEAR(double(to_new) / 65537.0, 1.0 / 21.0, 0.005);
  EXPECT_LT(double(shuffled) / 65537.0, 0.01);
}

TEST(Maglev, PrimeCheck) {
  EXPECT_TRUE(is_prime(2));
  EXPECT_TRUE(is_prime(65537));
  EXPECT_TRUE(is_prime(16777213));
  EXPECT_FALSE(is_prime(1));
  EXPECT_FALSE(is_prime(65536));
  EXPECT_FALSE(is_prime(65535));
  EXPECT_FALSE(is_prime(16777215));
}

}  // namespace
}  // namespace anylb
