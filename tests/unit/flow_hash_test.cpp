#include "dataplane/core/flow_hash.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "dataplane/core/flow_key.h"

namespace anylb {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Published MurmurHash3_x86_32 vectors: the function is the reference one.
TEST(FlowHash, Murmur3KnownVectors) {
  EXPECT_EQ(murmur3_32(bytes(""), 0), 0u);
  EXPECT_EQ(murmur3_32(bytes(""), 1), 0x514E28B7u);
  EXPECT_EQ(murmur3_32(bytes(""), 0xffffffffu), 0x81F16F39u);
  EXPECT_EQ(murmur3_32(bytes("test"), 0), 0xba6bd213u);
  EXPECT_EQ(murmur3_32(bytes("Hello, world!"), 1234), 0xfaf6cdb3u);
  EXPECT_EQ(murmur3_32(bytes("The quick brown fox jumps over the lazy dog"), 0x9747b28c),
            0x2FA826CDu);
}

// IPv4: murmur3 of src(4) dst(4) ports(4) proto|family|pad(4).
TEST(FlowHash, Ipv4HashIsMurmur3OfTheSixteenSignificantBytes) {
  const auto k = make_flow_key(IpAddress::v4(198, 51, 100, 7), 40000, IpAddress::v4(192, 0, 2, 10),
                               80, 6);
  const uint8_t compact[16] = {198, 51, 100, 7, 192, 0, 2, 10, 0x9c, 0x40, 0, 80, 6, 4, 0, 0};
  EXPECT_EQ(flow_hash(k, 0x5eed), murmur3_32(compact, 0x5eed));
}

// IPv6: murmur3 of the whole 40-byte key.
TEST(FlowHash, Ipv6HashIsMurmur3OfTheWholeKey) {
  const auto k = make_flow_key(*parse_ip_address("2001:db8::7"), 40000,
                               *parse_ip_address("2001:db8::10"), 443, 6);
  const std::span<const uint8_t> raw(reinterpret_cast<const uint8_t*>(&k), sizeof k);
  EXPECT_EQ(flow_hash(k, 0x5eed), murmur3_32(raw, 0x5eed));
}

// The XDP program must reproduce this exact value; pin it so a change to the
// function or the key layout is a visible, deliberate ABI break.
TEST(FlowHash, PinnedValue) {
  const auto k = make_flow_key(IpAddress::v4(198, 51, 100, 7), 40000, IpAddress::v4(192, 0, 2, 10),
                               80, 6);
  EXPECT_EQ(flow_hash(k, 0x5eed1e55), 0xd6490c5bu);
  EXPECT_EQ(sizeof k, 40u);
  EXPECT_EQ(offsetof(anylb_flow_key, sport), 32u);
  EXPECT_EQ(offsetof(anylb_flow_key, proto), 36u);
}

TEST(FlowHash, SeedChangesHash) {
  const auto k = make_flow_key(IpAddress::v4(198, 51, 100, 7), 40000, IpAddress::v4(192, 0, 2, 10),
                               80, 6);
  EXPECT_NE(flow_hash(k, 1), flow_hash(k, 2));
}

TEST(FlowHash, EveryFieldMatters) {
  const auto base = make_flow_key(IpAddress::v4(198, 51, 100, 7), 40000,
                                  IpAddress::v4(192, 0, 2, 10), 80, 6);
  std::set<uint32_t> seen{flow_hash(base, 9)};
  auto k = base;
  k.src[3] ^= 1;
  seen.insert(flow_hash(k, 9));
  k = base;
  k.dst[0] ^= 1;
  seen.insert(flow_hash(k, 9));
  k = base;
  k.sport ^= 1;
  seen.insert(flow_hash(k, 9));
  k = base;
  k.dport ^= 0x100;
  seen.insert(flow_hash(k, 9));
  k = base;
  k.proto = 17;
  seen.insert(flow_hash(k, 9));
  EXPECT_EQ(seen.size(), 6u);
}

TEST(FlowHash, SpreadsOverAPrimeTable) {
  // 65537 buckets, 655370 flows differing only in source port and address:
  // no bucket should be far off the mean of 10.
  std::vector<uint32_t> buckets(65537);
  for (uint32_t i = 0; i < 655370; ++i) {
    const auto k = make_flow_key(IpAddress::v4(198, 18, static_cast<uint8_t>(i >> 16), 7),
                                 static_cast<uint16_t>(i), IpAddress::v4(192, 0, 2, 10), 443, 6);
    ++buckets[flow_hash(k, 42) % 65537];
  }
  // Poisson(10): P(X >= 35) ~ 1e-9, P(X = 0) ~ 4.5e-5 (about 3 empty buckets).
  EXPECT_LT(*std::max_element(buckets.begin(), buckets.end()), 35u);
  EXPECT_LT(std::count(buckets.begin(), buckets.end(), 0u), 30);
}

}  // namespace
}  // namespace anylb
