// anylbctl simulate and lookup over the embedded default config: the numbers an
// operator reads must match Maglev's promises.
#include "control/cli/simulate.h"

#include <gtest/gtest.h>

#include "control/cli/lookup.h"

namespace anylb {
namespace {

Config default_config() {
  auto cfg = parse_config(embedded_default_config(), "<embedded>");
  if (!cfg) {
    ADD_FAILURE() << cfg.error().message;
    std::abort();
  }
  return *cfg;
}

const VipSimulation& find(const std::vector<VipSimulation>& sims, const std::string& name) {
  for (const auto& s : sims) {
    if (s.name == name) return s;
  }
  ADD_FAILURE() << "no vip " << name;
  std::abort();
}

uint64_t flows_on(const std::vector<BackendShare>& rows, const char* addr) {
  for (const auto& r : rows) {
    if (r.address.to_string() == addr) return r.flows;
  }
  return 0;
}

TEST(Simulate, SharesFollowWeights) {
  auto sims = simulate(default_config(), 20000, {});
  ASSERT_TRUE(sims.ok()) << sims.error().message;
  const auto& web = find(*sims, "web");
  for (const auto& row : web.before) {
    EXPECT_NEAR(double(row.flows) / 20000.0, row.expected, 0.02) << row.address.to_string();
  }
}

TEST(Simulate, RemovingABackendMovesOnlyItsFlows) {
  const std::vector<BackendChange> change{{BackendChange::Kind::Remove, *parse_ip_address("10.1.0.2")}};
  auto sims = simulate(default_config(), 20000, change);
  ASSERT_TRUE(sims.ok()) << sims.error().message;
  const auto& web = find(*sims, "web");
  const uint64_t had = flows_on(web.before, "10.1.0.2");
  EXPECT_EQ(web.moved_required, had);
  EXPECT_LT(double(web.moved_needless) / 20000.0, 0.01);
  EXPECT_EQ(web.sticky_moved_required, had);
  EXPECT_EQ(web.sticky_moved_needless, 0u);
  EXPECT_EQ(flows_on(web.after, "10.1.0.2"), 0u);
  // Other VIPs do not list it: untouched.
  const auto& dns = find(*sims, "dns");
  EXPECT_EQ(dns.moved_required + dns.moved_needless + dns.moved_rebalanced, 0u);
}

TEST(Simulate, DrainingMovesNewConnectionsOnly) {
  const std::vector<BackendChange> change{{BackendChange::Kind::Drain, *parse_ip_address("10.2.0.1")}};
  auto sims = simulate(default_config(), 20000, change);
  ASSERT_TRUE(sims.ok()) << sims.error().message;
  const auto& dns = find(*sims, "dns");
  EXPECT_EQ(dns.moved_required, flows_on(dns.before, "10.2.0.1"));
  EXPECT_EQ(dns.sticky_moved_required + dns.sticky_moved_needless, 0u);
}

TEST(Simulate, AddingABackendRebalancesWithoutNeedlessMoves) {
  const std::vector<BackendChange> change{{BackendChange::Kind::Add, *parse_ip_address("10.1.0.9")}};
  auto sims = simulate(default_config(), 20000, change);
  ASSERT_TRUE(sims.ok()) << sims.error().message;
  const auto& web = find(*sims, "web");
  EXPECT_EQ(web.moved_required, 0u);
  // 100 of a total weight of 500 (100 + 200 + 100 + the new 100).
  EXPECT_NEAR(double(web.moved_rebalanced) / 20000.0, 100.0 / 500.0, 0.02);
  EXPECT_LT(double(web.moved_needless) / 20000.0, 0.01);
  EXPECT_EQ(web.sticky_moved_required + web.sticky_moved_needless, 0u);
}

TEST(Simulate, UnknownBackendIsAnError) {
  const std::vector<BackendChange> change{{BackendChange::Kind::Remove, *parse_ip_address("10.9.9.9")}};
  auto sims = simulate(default_config(), 100, change);
  ASSERT_FALSE(sims.ok());
  EXPECT_NE(sims.error().message.find("10.9.9.9"), std::string::npos);
}

TEST(Simulate, WeightArgument) {
  auto ok = parse_weight_change("10.1.0.1=50");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->weight, 50u);
  EXPECT_FALSE(parse_weight_change("10.1.0.1").ok());
  EXPECT_FALSE(parse_weight_change("10.1.0.1=70000").ok());
  EXPECT_FALSE(parse_weight_change("10.1.0.300=5").ok());
}

TEST(Lookup, ExplainsTheChoice) {
  auto text = explain_lookup(default_config(), {"tcp", "198.51.100.7", 40000, "192.0.2.10", 80});
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_NE(text->find("vip:      web"), std::string::npos) << *text;
  EXPECT_NE(text->find("backend:  10.1.0."), std::string::npos) << *text;
  EXPECT_NE(text->find("decision: tx (new flow (maglev))"), std::string::npos) << *text;
}

TEST(Lookup, NonVipPasses) {
  auto text = explain_lookup(default_config(), {"udp", "198.51.100.7", 1, "192.0.2.99", 53});
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("decision: pass"), std::string::npos) << *text;
}

TEST(Lookup, BadArgumentsNameTheArgument) {
  auto proto = explain_lookup(default_config(), {"sctp", "198.51.100.7", 1, "192.0.2.10", 80});
  ASSERT_FALSE(proto.ok());
  EXPECT_NE(proto.error().message.find("sctp"), std::string::npos);
  auto src = explain_lookup(default_config(), {"tcp", "198.51.100.700", 1, "192.0.2.10", 80});
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.error().message.find("source"), std::string::npos);
  auto mixed = explain_lookup(default_config(), {"tcp", "2001:db8::1", 1, "192.0.2.10", 80});
  EXPECT_FALSE(mixed.ok());
}

}  // namespace
}  // namespace anylb
