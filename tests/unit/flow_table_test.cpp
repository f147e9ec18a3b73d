// Flow table: LRU within a bucket, per-state idle timeouts on a fake clock,
// and the hit/miss/eviction counters.
#include "dataplane/core/flow_table.h"

#include <gtest/gtest.h>

#include "dataplane/core/flow_hash.h"
#include "dataplane/core/flow_key.h"

namespace anylb {
namespace {

anylb_flow_key key_n(uint32_t n) {
  return make_flow_key(IpAddress::v4(198, 18, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)),
                       static_cast<uint16_t>(1024 + n), IpAddress::v4(192, 0, 2, 10), 80, 6);
}

FlowTimeoutsMs timeouts() {
  FlowTimeoutsMs t;
  t.tcp_syn = 5'000;
  t.tcp_established = 300'000;
  t.tcp_closing = 10'000;
  t.udp = 30'000;
  return t;
}

TEST(FlowTable, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(FlowTable(1000, timeouts()).capacity(), 1024u);
  EXPECT_EQ(FlowTable(1, timeouts()).capacity(), 8u);
  EXPECT_EQ(FlowTable(1u << 20, timeouts()).capacity(), 1u << 20);
}

TEST(FlowTable, MissThenInsertThenHit) {
  FlowTable t(1024, timeouts());
  const auto k = key_n(1);
  const uint32_t h = flow_hash(k, 0);
  EXPECT_EQ(t.lookup(k, h, 0), nullptr);
  t.insert(k, h, 0, 7, 3, ANYLB_FLOW_TCP_ESTABLISHED);
  FlowEntry* e = t.lookup(k, h, 10);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->backend_id, 7u);
  EXPECT_EQ(e->vip_id, 3u);
  EXPECT_EQ(t.stats().hits, 1u);
  EXPECT_EQ(t.stats().misses, 1u);
  EXPECT_EQ(t.stats().inserts, 1u);
}

TEST(FlowTable, SameHashDifferentKeyIsAMiss) {
  FlowTable t(1024, timeouts());
  t.insert(key_n(1), 42, 0, 7, 0, ANYLB_FLOW_UDP);
  EXPECT_EQ(t.lookup(key_n(2), 42, 0), nullptr);
  EXPECT_NE(t.lookup(key_n(1), 42, 0), nullptr);
}

struct TimeoutCase {
  const char* description;
  uint8_t state;
  uint32_t timeout_ms;
};

class FlowTableTimeouts : public ::testing::TestWithParam<TimeoutCase> {};

TEST_P(FlowTableTimeouts, EntryLivesExactlyItsTimeout) {
  const auto& c = GetParam();
  FlowTable t(1024, timeouts());
  const auto k = key_n(5);
  const uint32_t h = flow_hash(k, 0);
  t.insert(k, h, 1000, 1, 0, c.state);
  // Idle for exactly the timeout: still there (and refreshed by the hit).
  ASSERT_NE(t.lookup(k, h, 1000 + c.timeout_ms), nullptr) << c.description;
  // Idle one ms past the timeout since that hit: gone.
  EXPECT_EQ(t.lookup(k, h, 1000 + 2 * c.timeout_ms + 1), nullptr) << c.description;
  EXPECT_EQ(t.stats().expirations, 1u);
}

INSTANTIATE_TEST_SUITE_P(
    States, FlowTableTimeouts,
    ::testing::Values(TimeoutCase{"tcp syn", ANYLB_FLOW_TCP_SYN, 5'000},
                      TimeoutCase{"tcp established", ANYLB_FLOW_TCP_ESTABLISHED, 300'000},
                      TimeoutCase{"tcp closing", ANYLB_FLOW_TCP_CLOSING, 10'000},
                      TimeoutCase{"udp", ANYLB_FLOW_UDP, 30'000}));

TEST(FlowTable, StateChangeChangesTimeout) {
  FlowTable t(1024, timeouts());
  const auto k = key_n(9);
  const uint32_t h = flow_hash(k, 0);
  t.insert(k, h, 0, 1, 0, ANYLB_FLOW_TCP_SYN);
  FlowEntry* e = t.lookup(k, h, 100);
  ASSERT_NE(e, nullptr);
  t.set_state(e, ANYLB_FLOW_TCP_ESTABLISHED, 100);
  // Well past the SYN timeout but within the established one.
  EXPECT_NE(t.lookup(k, h, 100 + 60'000), nullptr);
}

TEST(FlowTable, FullBucketEvictsLeastRecentlySeen) {
  FlowTable t(8, timeouts());  // one bucket of 8 ways: every key collides
  ASSERT_EQ(t.capacity(), 8u);
  for (uint32_t i = 0; i < 8; ++i) t.insert(key_n(i), 1000 + i, i, i, 0, ANYLB_FLOW_TCP_ESTABLISHED);
  // Touch all but key 3, later than their inserts: key 3 is now the oldest.
  for (uint32_t i = 0; i < 8; ++i) {
    if (i != 3) {
      ASSERT_NE(t.lookup(key_n(i), 1000 + i, 100 + i), nullptr);
    }
  }
  t.insert(key_n(100), 5000, 200, 100, 0, ANYLB_FLOW_TCP_ESTABLISHED);
  EXPECT_EQ(t.stats().evictions, 1u);
  EXPECT_EQ(t.lookup(key_n(3), 1003, 201), nullptr);
  for (uint32_t i = 0; i < 8; ++i) {
    if (i != 3) {
      EXPECT_NE(t.lookup(key_n(i), 1000 + i, 202), nullptr) << i;
    }
  }
  EXPECT_NE(t.lookup(key_n(100), 5000, 203), nullptr);
}

TEST(FlowTable, FullBucketEvictsTheEntryClosestToExpiryNotTheOldest) {
  FlowTable t(8, timeouts());
  // Seven established flows seen at 0 (deadline 300 s), then a SYN at 1 s
  // (deadline 6 s): the SYN is the newest entry but the first to expire.
  for (uint32_t i = 0; i < 7; ++i) t.insert(key_n(i), 1000 + i, 0, i, 0, ANYLB_FLOW_TCP_ESTABLISHED);
  t.insert(key_n(7), 1007, 1'000, 7, 0, ANYLB_FLOW_TCP_SYN);
  t.insert(key_n(100), 5000, 2'000, 100, 0, ANYLB_FLOW_TCP_ESTABLISHED);
  EXPECT_EQ(t.stats().evictions, 1u);
  EXPECT_EQ(t.lookup(key_n(7), 1007, 2'001), nullptr);
  for (uint32_t i = 0; i < 7; ++i) EXPECT_NE(t.lookup(key_n(i), 1000 + i, 2'002), nullptr) << i;
}

TEST(FlowTable, SetStateRenewsTheDeadlineFromNow) {
  FlowTable t(1024, timeouts());
  const auto k = key_n(4);
  const uint32_t h = flow_hash(k, 0);
  FlowEntry* e = t.insert(k, h, 0, 1, 0, ANYLB_FLOW_TCP_ESTABLISHED);
  t.set_state(e, ANYLB_FLOW_TCP_CLOSING, 1'000);  // closing: 10 s from 1 s
  EXPECT_NE(t.peek(k, h, 11'000), nullptr);
  EXPECT_EQ(t.peek(k, h, 11'001), nullptr);
}

TEST(FlowTable, ExpiredEntryIsReusedBeforeEvictingALiveOne) {
  FlowTable t(8, timeouts());
  for (uint32_t i = 0; i < 8; ++i) {
    t.insert(key_n(i), 1000 + i, 0, i, 0, i == 5 ? ANYLB_FLOW_TCP_SYN : ANYLB_FLOW_UDP);
  }
  // At 6 s the SYN-only entry (5 s) has expired, the UDP ones (30 s) have not.
  t.insert(key_n(50), 9, 6'000, 50, 0, ANYLB_FLOW_UDP);
  EXPECT_EQ(t.stats().evictions, 0u);
  EXPECT_EQ(t.stats().expirations, 1u);
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(t.lookup(key_n(i), 1000 + i, 6'001) != nullptr, i != 5) << i;
  }
}

TEST(FlowTable, PeekNeitherRefreshesNorCounts) {
  FlowTable t(1024, timeouts());
  const auto k = key_n(1);
  const uint32_t h = flow_hash(k, 0);
  t.insert(k, h, 0, 1, 0, ANYLB_FLOW_UDP);
  EXPECT_NE(t.peek(k, h, 20'000), nullptr);
  EXPECT_EQ(t.stats().hits, 0u);
  // Had peek refreshed it at 20 s, it would live until 50 s.
  EXPECT_EQ(t.peek(k, h, 30'001), nullptr);
}

TEST(FlowTable, ClockWrapDoesNotExpireFreshEntries) {
  FlowTable t(1024, timeouts());
  const auto k = key_n(1);
  const uint32_t h = flow_hash(k, 0);
  t.insert(k, h, 0xffffff00u, 1, 0, ANYLB_FLOW_UDP);
  EXPECT_NE(t.lookup(k, h, 0x100u), nullptr);  // 512 ms later, across the wrap
}

// Nothing sweeps the table: an entry nobody looks up stays in its way. Weeks
// later it must still read as expired, not as live again (a signed
// difference did from 24.9 days on), and its way must be free for an insert.
TEST(FlowTable, AnEntryExpiredForWeeksStaysExpired) {
  FlowTable t(8, timeouts());  // one bucket pair
  const auto k = key_n(1);
  const uint32_t h = flow_hash(k, 0);
  t.insert(k, h, 0, 1, 0, ANYLB_FLOW_UDP);
  for (uint32_t days : {1u, 10u, 25u, 30u, 45u, 48u}) {
    const uint32_t now = days * 86'400'000u;
    EXPECT_EQ(t.peek(k, h, now), nullptr) << days << " days later";
  }
  EXPECT_EQ(t.count_live(48u * 86'400'000u), 0u);
  // A live entry is never more than the longest timeout ahead.
  EXPECT_FALSE(anylb_flow_expired(ANYLB_FLOW_MAX_TIMEOUT_MS, 0));
  EXPECT_TRUE(anylb_flow_expired(ANYLB_FLOW_MAX_TIMEOUT_MS + 1, 0));
  EXPECT_TRUE(anylb_flow_expired(0, 1));
  EXPECT_FALSE(anylb_flow_expired(5, 0xfffffff0u));  // across the clock's wrap
}

TEST(FlowTable, HoldsItsCapacityWhenHashesSpread) {
  FlowTable t(1 << 14, timeouts());
  for (uint32_t i = 0; i < (1 << 12); ++i) {
    const auto k = key_n(i);
    t.insert(k, flow_hash(k, 1), 0, i, 0, ANYLB_FLOW_UDP);
  }
  // A quarter full (2 per 8-way bucket on average): a bucket overflows with
  // probability ~2.4e-4, so a spread hash evicts next to nothing. (At half
  // load it is ~0.8%: size the table at twice the expected flows.)
  EXPECT_LT(t.stats().evictions, 5u);
  EXPECT_EQ(t.count_live(1), (1u << 12) - t.stats().evictions);
}

TEST(FlowTable, ClearEmptiesIt) {
  FlowTable t(1024, timeouts());
  const auto k = key_n(1);
  t.insert(k, 5, 0, 1, 0, ANYLB_FLOW_UDP);
  t.clear();
  EXPECT_EQ(t.lookup(k, 5, 1), nullptr);
  EXPECT_EQ(t.count_live(1), 0u);
}

TEST(FlowTable, EstimatedLiveTracksTheCount) {
  FlowTable t(1u << 16, FlowTimeoutsMs{});
  for (uint32_t n = 0; n < 20000; ++n) {
    const anylb_flow_key k = key_n(n);
    const uint32_t h = flow_hash(k, 7);
    if (t.lookup(k, h, 0) == nullptr) t.insert(k, h, 0, 1, 0, ANYLB_FLOW_UDP);
  }
  const uint64_t live = t.count_live(1);
  const uint64_t estimate = t.estimate_live(1, 1024);  // an eighth of the buckets
  EXPECT_NEAR(double(estimate), double(live), 0.05 * double(live));
  EXPECT_EQ(t.estimate_live(1, 1u << 30), live);  // a sample of everything is the count
  // Past every deadline, nothing is live.
  EXPECT_EQ(t.estimate_live(40'000, 1024), 0u);
}

}  // namespace
}  // namespace anylb
