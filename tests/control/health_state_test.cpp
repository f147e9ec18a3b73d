// The health state machine and the announce policy, on a fake clock.
#include <gtest/gtest.h>

#include "control/announce/announce_policy.h"
#include "control/health/health_state.h"

namespace anylb {
namespace {

HealthPolicy policy(uint32_t rise, uint32_t fall) {
  HealthPolicy p;
  p.rise = rise;
  p.fall = fall;
  p.flap_window_ms = 60'000;
  return p;
}

TEST(HealthState, StartsUnknownAndRisesAfterRiseSuccesses) {
  HealthState h(policy(3, 2));
  EXPECT_EQ(h.health(), Health::Unknown);
  EXPECT_FALSE(h.record(true, 0));
  EXPECT_FALSE(h.record(true, 1000));
  EXPECT_TRUE(h.record(true, 2000));
  EXPECT_EQ(h.health(), Health::Healthy);
}

TEST(HealthState, OneFailureSettlesAnUnknownBackend) {
  HealthState h(policy(2, 3));
  EXPECT_TRUE(h.record(false, 0));
  EXPECT_EQ(h.health(), Health::Unhealthy);
}

TEST(HealthState, FallNeedsConsecutiveFailures) {
  HealthState h(policy(1, 3));
  h.record(true, 0);
  ASSERT_TRUE(h.healthy());
  h.record(false, 1000);
  h.record(false, 2000);
  h.record(true, 3000);  // the run is broken: counting starts again
  h.record(false, 4000);
  h.record(false, 5000);
  EXPECT_TRUE(h.healthy());
  EXPECT_TRUE(h.record(false, 6000));
  EXPECT_EQ(h.health(), Health::Unhealthy);
}

TEST(HealthState, FlappingDoublesTheRiseAndAQuietWindowResetsIt) {
  HealthState h(policy(2, 1));
  uint64_t t = 0;
  h.record(true, t += 1000);
  h.record(true, t += 1000);
  ASSERT_TRUE(h.healthy());
  EXPECT_EQ(h.rise_needed(), 2u);
  h.record(false, t += 1000);  // down within the window of the last change: a flap
  EXPECT_EQ(h.rise_needed(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(h.record(true, t += 1000));
  EXPECT_TRUE(h.record(true, t += 1000));  // the fourth success
  EXPECT_EQ(h.rise_needed(), 8u);          // that rise was a flap too
  h.record(false, t += 1000);
  EXPECT_EQ(h.rise_needed(), 16u);
  for (int i = 0; i < 20; ++i) h.record(false, t += 1000);  // down stays down: no change
  // Quiet for longer than the window: the next change is not a flap.
  t += 120'000;
  for (uint32_t i = 1; i < h.rise_needed(); ++i) EXPECT_FALSE(h.record(true, t += 1000));
  EXPECT_TRUE(h.record(true, t += 1000));
  EXPECT_EQ(h.rise_needed(), 2u);
}

TEST(HealthState, RiseFactorIsCapped) {
  HealthPolicy p = policy(1, 1);
  p.max_rise_factor = 4;
  HealthState h(p);
  uint64_t t = 0;
  for (int i = 0; i < 20; ++i) {
    while (!h.record(true, ++t)) {}
    h.record(false, ++t);
  }
  EXPECT_LE(h.rise_needed(), 4u);
}

AnnounceInputs inputs(bool ready, bool drained, uint32_t healthy, uint32_t min_healthy) {
  return {ready, drained, healthy, min_healthy};
}

TEST(AnnouncePolicy, NothingBeforeReady) {
  AnnouncePolicy p(10'000);
  EXPECT_FALSE(p.evaluate(inputs(false, false, 3, 1), 0));
  EXPECT_STREQ(p.reason(), "not ready");
  EXPECT_TRUE(p.evaluate(inputs(true, false, 3, 1), 1));  // first announcement: no hold
}

TEST(AnnouncePolicy, WithdrawsUnderMinHealthyAndHoldsBeforeAnnouncingAgain) {
  AnnouncePolicy p(10'000);
  ASSERT_TRUE(p.evaluate(inputs(true, false, 2, 2), 0));
  EXPECT_FALSE(p.evaluate(inputs(true, false, 1, 2), 1000));  // at once
  EXPECT_STREQ(p.reason(), "too few healthy backends");
  EXPECT_FALSE(p.evaluate(inputs(true, false, 2, 2), 2000));  // healthy again: hold
  EXPECT_FALSE(p.evaluate(inputs(true, false, 2, 2), 11'999));
  EXPECT_TRUE(p.evaluate(inputs(true, false, 2, 2), 12'000));
}

TEST(AnnouncePolicy, AFlapDuringTheHoldRestartsIt) {
  AnnouncePolicy p(5'000);
  p.evaluate(inputs(true, false, 1, 1), 0);
  p.evaluate(inputs(true, false, 0, 1), 100);
  p.evaluate(inputs(true, false, 1, 1), 200);
  p.evaluate(inputs(true, false, 0, 1), 3000);  // flaps again
  EXPECT_FALSE(p.evaluate(inputs(true, false, 1, 1), 4000));
  EXPECT_FALSE(p.evaluate(inputs(true, false, 1, 1), 8999));
  EXPECT_TRUE(p.evaluate(inputs(true, false, 1, 1), 9000));
}

TEST(AnnouncePolicy, DrainWithdrawsAndUndrainAnnouncesAtOnce) {
  AnnouncePolicy p(10'000);
  ASSERT_TRUE(p.evaluate(inputs(true, false, 3, 1), 0));
  EXPECT_FALSE(p.evaluate(inputs(true, true, 3, 1), 100));
  EXPECT_STREQ(p.reason(), "drained");
  EXPECT_TRUE(p.evaluate(inputs(true, false, 3, 1), 200));
}

TEST(AnnouncePolicy, MinHealthyZeroAnnouncesWithNoBackends) {
  AnnouncePolicy p(10'000);
  EXPECT_TRUE(p.evaluate(inputs(true, false, 0, 0), 0));
}

}  // namespace
}  // namespace anylb
