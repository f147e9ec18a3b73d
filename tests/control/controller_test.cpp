// anylbd's controller and admin API with the model dataplane and a speaker
// that records what it is told: announce/withdraw decisions, drain, reload,
// operator weights, API validation, shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "control/daemon/admin_api.h"
#include "control/daemon/controller.h"

namespace anylb {
namespace {

// Records every set() call; can be told to fail.
class FakeSpeaker : public BgpSpeaker {
 public:
  struct Log {
    std::vector<std::pair<std::string, bool>> calls;     // VIP name, announce
    std::vector<std::pair<std::string, bool>> prefixes;  // the route's address, announce
    bool fail = false;
    std::set<std::string> refuse;  // VIP names the speaker refuses
    std::map<std::string, int> attempts;  // by VIP name, refused ones included
  };
  explicit FakeSpeaker(Log* log) : log_(log) {}
  const char* kind() const override { return "fake"; }
  Result<bool> set(const VipRoute& route, bool announce) override {
    ++log_->attempts[route.vip];
    if (log_->fail || log_->refuse.count(route.vip)) return make_error("speaker down");
    log_->calls.push_back({route.vip, announce});
    log_->prefixes.push_back({route.address.to_string(), announce});
    return true;
  }

 private:
  Log* log_;
};

const char* kBase = R"([node]
name = "t"
gateway_mac = "02:00:00:00:00:01"
tunnel_source_v4 = "10.100.0.1"
[bgp]
announce_hold = "1s"
retry = "500ms"
shutdown_grace = "2s"
[[vip]]
name = "web"
address = "192.0.2.10"
port = 80
protocol = "tcp"
table_size = 1009
min_healthy = 2
[[vip.backend]]
address = "10.1.0.1"
[[vip.backend]]
address = "10.1.0.2"
[[vip.backend]]
address = "10.1.0.3"
[[vip]]
name = "dns"
address = "192.0.2.53"
port = 53
protocol = "udp"
table_size = 1009
[[vip.backend]]
address = "10.2.0.1"
)";

Config config(const std::string& text = kBase) {
  auto c = parse_config(text, "t.toml");
  EXPECT_TRUE(c.ok()) << c.error().message;
  return *c;
}

struct Fixture {
  FakeSpeaker::Log log;
  std::unique_ptr<Controller> c;
  explicit Fixture(const std::string& text = kBase) {
    Config cfg = config(text);
    auto dp = make_dataplane(cfg, "");
    c = std::make_unique<Controller>(cfg, std::move(*dp), std::make_unique<FakeSpeaker>(&log));
  }
  bool announced(const std::string& vip) const {
    for (const auto& v : c->vips()) {
      if (v.name == vip) return v.announced;
    }
    return false;
  }
};

TEST(Controller, AnnouncesOnceReadyAndWithdrawsOnDrain) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  EXPECT_TRUE(f.announced("web"));
  EXPECT_TRUE(f.announced("dns"));
  EXPECT_EQ(f.log.calls.size(), 2u);
  f.c->drain(100);
  EXPECT_FALSE(f.announced("web"));
  EXPECT_FALSE(f.announced("dns"));
  f.c->undrain(200);
  EXPECT_TRUE(f.announced("web"));
  EXPECT_EQ(f.log.calls.size(), 6u);  // announce x2, withdraw x2, announce x2
}

TEST(Controller, MinHealthyCountsActiveBackends) {
  std::string text = kBase;
  // Two of web's three backends draining by config: under min_healthy = 2.
  text.replace(text.find("address = \"10.1.0.2\""), 20, "address = \"10.1.0.2\"\nstate = \"draining\"");
  text.replace(text.find("address = \"10.1.0.3\""), 20, "address = \"10.1.0.3\"\nstate = \"draining\"");
  Fixture f(text);
  ASSERT_TRUE(f.c->start(0).ok());
  EXPECT_FALSE(f.announced("web"));
  EXPECT_TRUE(f.announced("dns"));
}

TEST(Controller, BadReloadChangesNothing) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  const auto before = f.c->state().find_vip_by_name("web")->table;
  std::string text = kBase;
  text.replace(text.find("address = \"10.2.0.1\""), 20, "address = \"fd00::1\"");  // v6 backend, v4 VIP
  auto bad = parse_config(text, "t.toml");
  if (bad.ok()) {
    EXPECT_FALSE(f.c->reload(*bad, 100).ok());
  }
  EXPECT_EQ(f.c->state().find_vip_by_name("web")->table, before);
  EXPECT_EQ(f.c->config().vips.size(), 2u);
}

TEST(Controller, ReloadRemovingAVipWithdrawsIt) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  std::string text = kBase;
  text.erase(text.find("[[vip]]\nname = \"dns\""));
  auto next = parse_config(text, "t.toml");
  ASSERT_TRUE(next.ok()) << next.error().message;
  auto notes = f.c->reload(*next, 100);
  ASSERT_TRUE(notes.ok()) << notes.error().message;
  EXPECT_EQ(f.log.calls.back(), (std::pair<std::string, bool>{"dns", false}));
  EXPECT_EQ(f.c->state().find_vip_by_name("dns"), nullptr);
  EXPECT_NE(f.c->state().find_vip_by_name("web"), nullptr);
}

TEST(Controller, ReloadKeepsIdsAndNotesRestartOnlySettings) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  const uint32_t web_id = f.c->state().find_vip_by_name("web")->id;
  std::string text = kBase;
  text.replace(text.find("name = \"t\""), 10, "name = \"t\"\ninterface = \"eth9\"");
  auto next = parse_config(text, "t.toml");
  ASSERT_TRUE(next.ok()) << next.error().message;
  auto notes = f.c->reload(*next, 100);
  ASSERT_TRUE(notes.ok());
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_NE((*notes)[0].find("node.interface"), std::string::npos);
  EXPECT_EQ(f.c->config().node.interface, "");  // the running value stays
  EXPECT_EQ(f.c->state().find_vip_by_name("web")->id, web_id);
}

TEST(Controller, SpeakerFailureIsReportedAndRetried) {
  Fixture f;
  f.log.fail = true;
  ASSERT_TRUE(f.c->start(0).ok());
  EXPECT_NE(f.c->speaker_error().find("route 'web': speaker down"), std::string::npos);
  EXPECT_NE(f.c->speaker_error().find("route 'dns': speaker down"), std::string::npos);
  EXPECT_FALSE(f.announced("web"));
  f.log.fail = false;
  f.c->tick(100, 0);  // before retry: not tried
  EXPECT_TRUE(f.log.calls.empty());
  f.c->tick(600, 0);
  EXPECT_TRUE(f.c->speaker_error().empty());
  EXPECT_TRUE(f.announced("web"));
}

TEST(Controller, ShutdownWithdrawsThenWaitsTheGrace) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  f.c->begin_shutdown(1000);
  EXPECT_FALSE(f.announced("web"));
  EXPECT_FALSE(f.c->shutdown_done(2999));
  EXPECT_TRUE(f.c->shutdown_done(3000));
}

TEST(Controller, UnhealthyBackendsLeaveTheTableAndTheRoute) {
  std::string text = kBase;
  // Checks by command: 10.1.0.1 passes, the others fail.
  text.replace(text.find("min_healthy = 2\n"), 16,
               "min_healthy = 2\n[vip.health]\nkind = \"command\"\ninterval = \"50ms\"\n"
               "timeout = \"40ms\"\nrise = 1\nfall = 1\ncommand = 'test \"$1\" = 10.1.0.1'\n");
  Fixture f(text);
  ASSERT_TRUE(f.c->start(0).ok());
  EXPECT_FALSE(f.announced("web"));  // nothing healthy yet
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t now = 0;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3)) {
    now += 20;
    f.c->tick(now, 20);
    bool settled = true;
    for (const auto& b : f.c->backends()) settled = settled && b.health.health != Health::Unknown;
    if (settled) break;
  }
  for (const auto& b : f.c->backends()) {
    if (b.vip != "web") continue;
    const bool good = b.address.to_string() == "10.1.0.1";
    EXPECT_EQ(b.health.health, good ? Health::Healthy : Health::Unhealthy) << b.address.to_string();
    EXPECT_EQ(b.effective, good ? ANYLB_BACKEND_ACTIVE : ANYLB_BACKEND_DOWN);
  }
  EXPECT_FALSE(f.announced("web"));  // 1 healthy < min_healthy 2
  EXPECT_TRUE(f.announced("dns"));   // no checks: healthy
  EXPECT_GE(f.c->publish_timings().count, 1u);
}

TEST(Controller, DrainGraceTakesADrainingBackendOut) {
  std::string text = kBase;
  text.replace(text.find("name = \"t\""), 10, "name = \"t\"\ndrain_grace = \"1s\"");
  text.replace(text.find("address = \"10.1.0.3\""), 20, "address = \"10.1.0.3\"\nstate = \"draining\"");
  Fixture f(text);
  ASSERT_TRUE(f.c->start(0).ok());
  auto state_of = [&](const char* addr) {
    for (const auto& b : f.c->backends()) {
      if (b.address.to_string() == addr) return b.effective;
    }
    return ANYLB_BACKEND_ACTIVE;
  };
  EXPECT_EQ(state_of("10.1.0.3"), ANYLB_BACKEND_DRAINING);
  f.c->tick(500, 0);
  EXPECT_EQ(state_of("10.1.0.3"), ANYLB_BACKEND_DRAINING);
  f.c->tick(1000, 0);
  EXPECT_EQ(state_of("10.1.0.3"), ANYLB_BACKEND_DOWN);
  EXPECT_EQ(state_of("10.1.0.1"), ANYLB_BACKEND_ACTIVE);
}

TEST(Controller, ARefusedRouteHoldsBackNeitherTheOthersNorAWithdrawal) {
  Fixture f;
  f.log.refuse = {"dns"};
  ASSERT_TRUE(f.c->start(0).ok());
  EXPECT_TRUE(f.announced("web"));
  EXPECT_FALSE(f.announced("dns"));
  EXPECT_NE(f.c->speaker_error().find("route 'dns'"), std::string::npos);
  // A drain inside dns's retry wait: web's withdrawal goes out at once.
  f.c->drain(100);
  EXPECT_FALSE(f.announced("web"));
  EXPECT_EQ(f.log.calls.back(), (std::pair<std::string, bool>{"web", false}));
  f.c->undrain(200);
  EXPECT_TRUE(f.announced("web"));
  // dns is tried again once bgp.retry (500 ms) has passed since the refusal.
  f.log.refuse.clear();
  f.c->tick(300, 0);
  EXPECT_FALSE(f.announced("dns"));
  f.c->tick(800, 0);
  EXPECT_TRUE(f.announced("dns"));
  EXPECT_TRUE(f.c->speaker_error().empty());
}

TEST(Controller, ShutdownWithdrawsEvenWhileARouteWaitsForARetry) {
  Fixture f;
  f.log.refuse = {"dns"};
  ASSERT_TRUE(f.c->start(0).ok());
  EXPECT_EQ(f.log.attempts["dns"], 1);
  f.c->begin_shutdown(100);
  EXPECT_FALSE(f.announced("web"));
  EXPECT_EQ(f.log.calls.back(), (std::pair<std::string, bool>{"web", false}));
  // dns's withdrawal was tried at once too, and refused; then it waits
  // bgp.retry (500 ms) like any other refusal, rather than every tick.
  EXPECT_EQ(f.log.attempts["dns"], 2);
  f.c->tick(120, 0);
  f.c->tick(140, 0);
  EXPECT_EQ(f.log.attempts["dns"], 2);
  f.c->tick(600, 0);
  EXPECT_EQ(f.log.attempts["dns"], 3);
}

const char* kHealthByCommand =
    "min_healthy = 2\n[vip.health]\nkind = \"command\"\ninterval = \"50ms\"\n"
    "timeout = \"40ms\"\nrise = 1\nfall = 1\ncommand = 'test \"$1\" = 10.1.0.1'\n";

// Ticks until every backend has a check result (at most 3 s).
void settle(Fixture& f, uint64_t& now) {
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3)) {
    now += 20;
    f.c->tick(now, 20);
    bool settled = true;
    for (const auto& b : f.c->backends()) settled = settled && b.health.health != Health::Unknown;
    if (settled) return;
  }
}

anylb_backend_state effective(const Fixture& f, const char* address) {
  for (const auto& b : f.c->backends()) {
    if (b.address.to_string() == address) return b.effective;
  }
  return ANYLB_BACKEND_ACTIVE;
}

TEST(Controller, AReloadThatTurnsAHealthCheckOffPutsItsBackendsBack) {
  std::string text = kBase;
  text.replace(text.find("min_healthy = 2\n"), 16, kHealthByCommand);
  Fixture f(text);
  ASSERT_TRUE(f.c->start(0).ok());
  uint64_t now = 0;
  settle(f, now);
  ASSERT_EQ(effective(f, "10.1.0.2"), ANYLB_BACKEND_DOWN);
  ASSERT_FALSE(f.announced("web"));
  auto notes = f.c->reload(config(kBase), now + 10);  // no [vip.health]: kind "none"
  ASSERT_TRUE(notes.ok()) << notes.error().message;
  EXPECT_EQ(effective(f, "10.1.0.2"), ANYLB_BACKEND_ACTIVE);
  EXPECT_EQ(effective(f, "10.1.0.3"), ANYLB_BACKEND_ACTIVE);
  EXPECT_TRUE(f.announced("web"));
}

// Fails every publish while `fail` is set.
class FlakyDataplane : public Dataplane {
 public:
  explicit FlakyDataplane(bool* fail, int* published = nullptr)
      : fail_(fail), published_(published) {}
  const char* kind() const override { return "flaky"; }
  Result<bool> start(const Config&, const ForwardingState&) override { return true; }
  Result<bool> publish(const Config&, const ForwardingState&) override {
    if (*fail_) return make_error("map write failed");
    if (published_) ++*published_;
    return true;
  }
  Result<std::unique_ptr<Counters>> counters(const ForwardingState&) const override {
    return std::make_unique<Counters>();
  }
  FlowOccupancy flow_occupancy() const override { return {}; }
  void stop() override {}

 private:
  bool* fail_;
  int* published_;
};

TEST(Controller, AFailedPublishIsTriedAgainUntilItGoesThrough) {
  std::string text = kBase;
  text.replace(text.find("min_healthy = 2\n"), 16, kHealthByCommand);
  bool fail = true;
  Fixture f(text);
  f.c = std::make_unique<Controller>(config(text), std::make_unique<FlakyDataplane>(&fail),
                                     std::make_unique<FakeSpeaker>(&f.log));
  ASSERT_TRUE(f.c->start(0).ok());  // the first state is loaded by start(), not published
  uint64_t now = 0;
  settle(f, now);
  // The health results came, but no table with them reached the fast path.
  EXPECT_NE(f.c->publish_error().find("map write failed"), std::string::npos);
  EXPECT_EQ(effective(f, "10.1.0.2"), ANYLB_BACKEND_ACTIVE);
  fail = false;
  f.c->tick(now + 20, 0);  // no new result: the pending publication alone
  EXPECT_TRUE(f.c->publish_error().empty());
  EXPECT_EQ(effective(f, "10.1.0.2"), ANYLB_BACKEND_DOWN);
}

TEST(Controller, BackendsOfWeightZeroDoNotCountTowardsMinHealthy) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  ASSERT_TRUE(f.announced("web"));
  ASSERT_TRUE(f.c->set_weight("web", "10.1.0.1", 0, 100).ok());
  EXPECT_TRUE(f.announced("web"));  // two left with weight: min_healthy = 2
  ASSERT_TRUE(f.c->set_weight("web", "10.1.0.2", 0, 200).ok());
  EXPECT_FALSE(f.announced("web"));
  for (const auto& v : f.c->vips()) {
    if (v.name == "web") {
      EXPECT_EQ(v.healthy, 1u);
    }
  }
}

TEST(Controller, AnOperatorWeightLastsUntilTheConfigChangesTheBackendsWeight) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  ASSERT_TRUE(f.c->set_weight("web", "10.1.0.1", 0, 100).ok());
  ASSERT_TRUE(f.c->set_weight("web", "10.1.0.2", 7, 100).ok());
  auto weight_of = [&](const char* address) {
    for (const auto& b : f.c->backends()) {
      if (b.address.to_string() == address) return b.weight;
    }
    return 0u;
  };
  // A reload that says nothing new about them keeps both.
  ASSERT_TRUE(f.c->reload(config(kBase), 200).ok());
  EXPECT_EQ(weight_of("10.1.0.1"), 0u);
  EXPECT_EQ(weight_of("10.1.0.2"), 7u);
  // One that sets 10.1.0.1's weight to 300 drops its override only.
  std::string text = kBase;
  text.replace(text.find("address = \"10.1.0.1\""), 20, "address = \"10.1.0.1\"\nweight = 300");
  ASSERT_TRUE(f.c->reload(config(text), 300).ok());
  EXPECT_EQ(weight_of("10.1.0.1"), 300u);
  EXPECT_EQ(weight_of("10.1.0.2"), 7u);
}

// A publication that fails may have written part of the new state: a refused
// reload puts the old config back, and the next tick publishes it again.
TEST(Controller, ARefusedReloadsPartialPublicationIsUndoneOnTheNextTick) {
  bool fail = false;
  int published = 0;
  Fixture f;
  f.c = std::make_unique<Controller>(config(), std::make_unique<FlakyDataplane>(&fail, &published),
                                     std::make_unique<FakeSpeaker>(&f.log));
  ASSERT_TRUE(f.c->start(0).ok());
  std::string text = kBase;
  text.replace(text.find("address = \"10.2.0.1\""), 20,
               "address = \"10.2.0.1\"\n[[vip.backend]]\naddress = \"10.2.0.9\"");
  fail = true;
  EXPECT_FALSE(f.c->reload(config(text), 100).ok());
  EXPECT_EQ(f.c->config().vips[1].backends.size(), 1u);  // the old config
  fail = false;
  f.c->tick(200, 0);
  EXPECT_EQ(published, 1) << "the running state published again over what the maps hold";
  EXPECT_TRUE(f.c->publish_error().empty());
}

TEST(Controller, AReloadKeepsTheRunningHashSeed) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  const uint32_t seed = f.c->config().node.hash_seed;
  std::string text = kBase;
  text.replace(text.find("name = \"t\""), 10, "name = \"t\"\nhash_seed = 12345");
  auto notes = f.c->reload(config(text), 100);
  ASSERT_TRUE(notes.ok()) << notes.error().message;
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_NE((*notes)[0].find("node.hash_seed"), std::string::npos);
  EXPECT_EQ(f.c->config().node.hash_seed, seed);
  EXPECT_EQ(f.c->state().hash_seed, seed);
}

TEST(Controller, ARouteNeverTakenIsForgottenWithItsVip) {
  Fixture f;
  f.log.refuse = {"dns"};
  ASSERT_TRUE(f.c->start(0).ok());
  ASSERT_FALSE(f.c->speaker_error().empty());
  std::string text = kBase;
  text.erase(text.find("[[vip]]\nname = \"dns\""));
  ASSERT_TRUE(f.c->reload(config(text), 100).ok());
  EXPECT_TRUE(f.c->speaker_error().empty()) << f.c->speaker_error();
}

// BIRD drives a protocol named from the VIP: a rename that maps to the same
// protocol is the same route, not a new one announced and an old withdrawn.
TEST(Controller, ABirdRenameToTheSameProtocolKeepsTheRoute) {
  std::string text = kBase;
  text.replace(text.find("[bgp]\n"), 6, "[bgp]\nspeaker = \"bird\"\n");
  text.replace(text.find("name = \"web\""), 12, "name = \"web-1\"");
  Fixture f(text);
  ASSERT_TRUE(f.c->start(0).ok());
  ASSERT_TRUE(f.announced("web-1"));
  const size_t calls = f.log.calls.size();
  std::string renamed = text;
  renamed.replace(renamed.find("name = \"web-1\""), 14, "name = \"web_1\"");
  ASSERT_TRUE(f.c->reload(config(renamed), 100).ok());
  EXPECT_EQ(f.log.calls.size(), calls) << "last call: " << f.log.calls.back().first << " "
                                       << f.log.calls.back().second;
  EXPECT_TRUE(f.announced("web_1"));
}

// ExaBGP is told prefixes: two VIPs on one address share one route.
const char* kExaBgp = R"([node]
name = "t"
gateway_mac = "02:00:00:00:00:01"
tunnel_source_v4 = "10.100.0.1"
[bgp]
speaker = "exabgp"
[[vip]]
name = "web"
address = "192.0.2.10"
port = 80
protocol = "tcp"
table_size = 1009
[[vip.backend]]
address = "10.1.0.1"
[[vip]]
name = "dns"
address = "192.0.2.10"
port = 53
protocol = "udp"
table_size = 1009
[[vip.backend]]
address = "10.2.0.1"
)";

TEST(Controller, ExaBgpRoutesArePrefixesSharedByTheirVips) {
  Fixture f(kExaBgp);
  ASSERT_TRUE(f.c->start(0).ok());
  using P = std::pair<std::string, bool>;
  EXPECT_EQ(f.log.prefixes, (std::vector<P>{{"192.0.2.10", true}}));
  // dns can no longer serve, web still can: the prefix stays.
  ASSERT_TRUE(f.c->set_weight("dns", "10.2.0.1", 0, 100).ok());
  EXPECT_EQ(f.log.prefixes.size(), 1u);
  ASSERT_TRUE(f.c->set_weight("web", "10.1.0.1", 0, 200).ok());
  EXPECT_EQ(f.log.prefixes.back(), (P{"192.0.2.10", false}));
}

TEST(Controller, ExaBgpAnnouncesAMovedVipsNewPrefixThenWithdrawsTheOld) {
  Fixture f(kExaBgp);
  ASSERT_TRUE(f.c->start(0).ok());
  std::string moved = kExaBgp;
  for (size_t at; (at = moved.find("192.0.2.10")) != std::string::npos;) {
    moved.replace(at, 10, "192.0.2.99");
  }
  f.log.prefixes.clear();
  ASSERT_TRUE(f.c->reload(config(moved), 100).ok());
  using P = std::pair<std::string, bool>;
  EXPECT_EQ(f.log.prefixes, (std::vector<P>{{"192.0.2.99", true}, {"192.0.2.10", false}}));
}

// ---- the admin API

HttpRequest request(const std::string& method, const std::string& path, const std::string& body = "") {
  HttpRequest r;
  r.method = method;
  r.path = path;
  r.body = body;
  return r;
}

TEST(AdminApi, WeightValidationLeavesTheStateAlone) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  ApiContext ctx{"", [] { return uint64_t{100}; }};
  const auto table = f.c->state().find_vip_by_name("web")->table;
  struct Case {
    const char* body;
    int status;
  } cases[] = {
      {"{not json", 400},
      {"[1,2]", 400},
      {R"({"vip": "web", "backend": "10.1.0.1"})", 400},
      {R"({"vip": "web", "backend": "10.1.0.1", "weight": "5"})", 400},
      {R"({"vip": "nope", "backend": "10.1.0.1", "weight": 5})", 404},
      {R"({"vip": "web", "backend": "10.9.9.9", "weight": 5})", 404},
      {R"({"vip": "web", "backend": "not-an-ip", "weight": 5})", 422},
      {R"({"vip": "web", "backend": "10.1.0.1", "weight": 70000})", 422},
      {R"({"vip": "web", "backend": "10.1.0.1", "weight": -1})", 422},
  };
  for (const Case& c : cases) {
    const HttpResponse r = handle_api(request("POST", "/weight", c.body), *f.c, ctx);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << c.body;
  }
  EXPECT_EQ(f.c->state().find_vip_by_name("web")->table, table);
  const HttpResponse ok = handle_api(
      request("POST", "/weight", R"({"vip": "web", "backend": "10.1.0.1", "weight": 300})"), *f.c, ctx);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(f.c->state().find_vip_by_name("web")->table, table);
}

TEST(AdminApi, UnknownPathsAndMethods) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  ApiContext ctx{"", [] { return uint64_t{0}; }};
  EXPECT_EQ(handle_api(request("GET", "/nope"), *f.c, ctx).status, 404);
  EXPECT_EQ(handle_api(request("GET", "/drain"), *f.c, ctx).status, 405);
  EXPECT_EQ(handle_api(request("DELETE", "/vips"), *f.c, ctx).status, 405);
  EXPECT_FALSE(f.c->drained());
}

TEST(AdminApi, LookupValidatesItsQuery) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  ApiContext ctx{"", [] { return uint64_t{0}; }};
  HttpRequest r = request("GET", "/lookup");
  r.query = {{"protocol", "tcp"}, {"src", "198.51.100.1"}, {"sport", "99999"},
             {"dst", "192.0.2.10"}, {"dport", "80"}};
  EXPECT_EQ(handle_api(r, *f.c, ctx).status, 400);
  r.query["sport"] = "1234";
  const HttpResponse ok = handle_api(r, *f.c, ctx);
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("vip:      web"), std::string::npos) << ok.body;
  r.query["protocol"] = "sctp";
  EXPECT_EQ(handle_api(r, *f.c, ctx).status, 400);
}

TEST(AdminApi, MetricsCoverTheFamilies) {
  Fixture f;
  ASSERT_TRUE(f.c->start(0).ok());
  ApiContext ctx{"", [] { return uint64_t{0}; }};
  const HttpResponse m = handle_api(request("GET", "/metrics"), *f.c, ctx);
  ASSERT_EQ(m.status, 200);
  for (const char* family :
       {"anylb_vip_packets_total{vip=\"web\"}", "anylb_backend_packets_total{vip=\"web\",backend=\"10.1.0.1\"}",
        "anylb_drops_total{reason=\"no_backend\"}", "anylb_flow_table_lookups_total{result=\"hit\"}",
        "anylb_backend_healthy{vip=\"web\",backend=\"10.1.0.1\"} 1", "anylb_backend_weight",
        "anylb_vip_announced{vip=\"web\"} 1", "anylb_table_publish_seconds_count",
        "anylb_health_check_seconds_count", "anylb_speaker_up{speaker=\"fake\"} 1",
        "anylb_flow_table_evictions_total 0", "anylb_flow_table_entries 0",
        "anylb_flow_table_capacity 0"}) {
    EXPECT_NE(m.body.find(family), std::string::npos) << family;
  }
}

TEST(AdminApi, HttpRequestsParse) {
  auto r = parse_http_request("GET /lookup?src=1.2.3.4&sport=5 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/lookup");
  EXPECT_EQ(r->query["src"], "1.2.3.4");
  EXPECT_EQ(r->query["sport"], "5");
  auto p = parse_http_request("POST /weight HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->body, "{}");
  EXPECT_FALSE(parse_http_request("GARBAGE\r\n\r\n").ok());
  EXPECT_FALSE(parse_http_request("GET / HTTP/1.1\r\n").ok());
}

}  // namespace
}  // namespace anylb
