// Building the forwarding state: validation, stable ids, lookup indexes.
#include "dataplane/core/forwarding_state.h"

#include <gtest/gtest.h>

#include "tests/unit/core_fixture.h"

namespace anylb::test {
namespace {

std::string build_error(const StateSpec& spec) {
  auto r = build_forwarding_state(spec, nullptr);
  return r.ok() ? "" : r.error().message;
}

TEST(ForwardingState, DuplicateVipIsAnError) {
  StateSpec s = test_spec();
  s.vips.push_back(s.vips[0]);
  s.vips.back().name = "again";
  EXPECT_NE(build_error(s).find("vip 'again' (192.0.2.10:80/tcp): defined twice"), std::string::npos)
      << build_error(s);
}

TEST(ForwardingState, DuplicateBackendIsAnError) {
  StateSpec s = test_spec();
  s.vips[0].backends.push_back(s.vips[0].backends[0]);
  EXPECT_NE(build_error(s).find("backend 10.1.0.1: listed twice"), std::string::npos);
}

TEST(ForwardingState, Ipv6VipNeedsIpv6Backends) {
  StateSpec s = test_spec();
  s.vips[2].backends.push_back({ip("10.9.0.1"), 100, ANYLB_BACKEND_ACTIVE});
  EXPECT_NE(build_error(s).find("an IPv6 VIP needs IPv6 backends"), std::string::npos);
}

TEST(ForwardingState, BackendFamilyNeedsATunnelSource) {
  StateSpec s = test_spec();
  s.encap.source_v6_prefix.reset();
  EXPECT_NE(build_error(s).find("no tunnel source address for IPv6"), std::string::npos);
}

TEST(ForwardingState, NonPrimeTableIsAnError) {
  StateSpec s = test_spec();
  s.vips[1].table_size = 1000;
  EXPECT_NE(build_error(s).find("vip 'dns'"), std::string::npos);
  EXPECT_NE(build_error(s).find("not a prime"), std::string::npos);
}

TEST(ForwardingState, FindsExactPortThenPortless) {
  StateSpec s = test_spec();
  VipSpec portless = s.vips[0];
  portless.name = "web-any";
  portless.port = 0;
  s.vips.push_back(portless);
  const ForwardingState st = build_or_die(s);
  const IpAddress a = ip("192.0.2.10");
  EXPECT_EQ(st.find_vip(a.bytes.data(), 4, 80, 6)->name, "web");
  EXPECT_EQ(st.find_vip(a.bytes.data(), 4, 8080, 6)->name, "web-any");
  EXPECT_EQ(st.find_vip(a.bytes.data(), 4, 80, 17), nullptr);
  const VipAddressInfo* info = st.find_address(a.bytes.data(), 4);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(st.find_vip(*info, a.bytes.data(), 4, 8080, 6)->name, "web-any");
  // The port-less VIP takes the address's TCP fragments.
  EXPECT_EQ(info->fragment_vip[0], st.find_vip_by_name("web-any")->id);
}

TEST(ForwardingState, ManyVipsOnOneAddressOverflowToTheIndex) {
  StateSpec s = test_spec();
  for (uint16_t port = 1000; port < 1020; ++port) {
    VipSpec v = s.vips[0];
    v.name = "p" + std::to_string(port);
    v.port = port;
    s.vips.push_back(v);
  }
  const ForwardingState st = build_or_die(s);
  const IpAddress a = ip("192.0.2.10");
  const VipAddressInfo* info = st.find_address(a.bytes.data(), 4);
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->overflow);
  for (uint16_t port = 1000; port < 1020; ++port) {
    const Vip* v = st.find_vip(*info, a.bytes.data(), 4, port, 6);
    ASSERT_NE(v, nullptr) << port;
    EXPECT_EQ(v->name, "p" + std::to_string(port));
  }
  EXPECT_EQ(st.find_vip(*info, a.bytes.data(), 4, 80, 6)->name, "web");
  EXPECT_EQ(st.find_vip(*info, a.bytes.data(), 4, 999, 6), nullptr);
}

TEST(ForwardingState, RemovedIdsAreNotReusedForSurvivors) {
  const ForwardingState before = build_or_die(test_spec());
  StateSpec s = test_spec();
  s.vips.erase(s.vips.begin());  // web goes
  VipSpec fresh = s.vips[0];
  fresh.name = "fresh";
  fresh.address = ip("192.0.2.77");
  s.vips.push_back(fresh);
  const ForwardingState after = build_or_die(s, &before);
  for (const auto& v : before.vips) {
    if (!v.present || v.name == "web") continue;
    EXPECT_EQ(after.find_vip_by_name(v.name)->id, v.id) << v.name;
  }
  // web's id is not reused by the very next build (a piecewise publisher
  // could otherwise show the new VIP through web's old index entry)...
  const uint32_t web_id = before.find_vip_by_name("web")->id;
  EXPECT_NE(after.find_vip_by_name("fresh")->id, web_id);
  EXPECT_EQ(after.find_vip_by_name("web"), nullptr);
  // ...but is free again one build later.
  StateSpec next = s;
  VipSpec newer = s.vips[0];
  newer.name = "newer";
  newer.address = ip("192.0.2.78");
  next.vips.push_back(newer);
  const ForwardingState later = build_or_die(next, &after);
  EXPECT_EQ(later.find_vip_by_name("newer")->id, web_id);
}

TEST(ForwardingState, RemovedBackendIdIsNotReusedByTheNextBuild) {
  const ForwardingState before = build_or_die(test_spec());
  const uint32_t gone = before.find_vip_by_name("web")->backend_ids[0];
  StateSpec s = test_spec();
  s.vips[0].backends.erase(s.vips[0].backends.begin());
  s.vips[1].backends.push_back({ip("10.2.0.9"), 100, ANYLB_BACKEND_ACTIVE});
  const ForwardingState after = build_or_die(s, &before);
  EXPECT_EQ(after.backend(gone), nullptr);
  for (uint32_t id : after.find_vip_by_name("dns")->backend_ids) EXPECT_NE(id, gone);
}

TEST(ForwardingState, ChangedSlotsReportedPerVip) {
  const ForwardingState before = build_or_die(test_spec());
  StateSpec s = test_spec();
  s.vips[0].backends[0].state = ANYLB_BACKEND_DRAINING;
  const ForwardingState after = build_or_die(s, &before);
  const Vip* web = after.find_vip_by_name("web");
  EXPECT_NEAR(double(web->changed_slots.size()) / 1009.0, 1.0 / 3.0, 0.05);
  EXPECT_TRUE(after.find_vip_by_name("dns")->changed_slots.empty());
}

TEST(ForwardingState, UnchangedVipKeepsItsTableWithoutARebuild) {
  const ForwardingState before = build_or_die(test_spec());
  StateSpec s = test_spec();
  s.vips[0].backends[1].weight = 300;  // web changes; dns does not
  const ForwardingState after = build_or_die(s, &before);
  EXPECT_EQ(after.find_vip_by_name("dns")->table, before.find_vip_by_name("dns")->table);
  EXPECT_TRUE(after.find_vip_by_name("dns")->changed_slots.empty());
  EXPECT_NE(after.find_vip_by_name("web")->table, before.find_vip_by_name("web")->table);
  // The kept table is the one a full build gives.
  const ForwardingState fresh = build_or_die(s);
  EXPECT_EQ(after.find_vip_by_name("dns")->table, fresh.find_vip_by_name("dns")->table);
  EXPECT_EQ(after.find_vip_by_name("web")->table, fresh.find_vip_by_name("web")->table);
  // A backend that leaves the table (draining) is a change too.
  StateSpec d = s;
  d.vips[1].backends[0].state = ANYLB_BACKEND_DRAINING;
  const ForwardingState drained = build_or_die(d, &after);
  EXPECT_FALSE(drained.find_vip_by_name("dns")->changed_slots.empty());
}

// A table read back from a fast path is of unknown inputs: a crash between
// a backend's write (now draining) and its table's flip leaves a table that
// still names it. A build over it must not keep that table because the
// backends it can see would give it.
TEST(ForwardingState, ATableOfUnknownInputsIsNeverKeptAsItIs) {
  const ForwardingState built = build_or_die(test_spec());
  ForwardingState read_back = built;
  Vip& any = read_back.vips[read_back.find_vip_by_name("any")->id];
  read_back.backends[any.backend_ids[0]].state = ANYLB_BACKEND_DRAINING;  // its table: not flipped
  any.table_inputs_known = false;
  StateSpec s = test_spec();
  s.vips[3].backends[0].state = ANYLB_BACKEND_DRAINING;  // "any": no active backend left
  const ForwardingState after = build_or_die(s, &read_back);
  for (uint32_t slot : after.find_vip_by_name("any")->table.slots) {
    ASSERT_EQ(slot, ANYLB_INVALID_ID);
  }
  EXPECT_FALSE(after.find_vip_by_name("any")->changed_slots.empty());
  // Another VIP whose table's inputs are known and unchanged keeps its table.
  EXPECT_TRUE(after.find_vip_by_name("dns")->changed_slots.empty());
}

}  // namespace
}  // namespace anylb::test
