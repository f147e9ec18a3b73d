// anylbctl's daemon commands against replies it does not expect: one line
// naming the socket and the field, exit status 2, never an abort; and `top`
// across an anylbd restart (counters going down) shows 0, not a wrapped rate.
#include "control/cli/daemon_client.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "tests/unit/fake_anylbd.h"

namespace anylb::test {
namespace {

struct Outcome {
  int status = -1;
  std::string out, err;
};

Outcome run(const FakeAnylbd& d, const std::string& name, uint32_t count = 0) {
  DaemonCommand c;
  c.socket = d.socket;
  c.name = name;
  c.count = count;
  c.interval_s = 0.1;
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* mem = open_memstream(&buf, &len);
  testing::internal::CaptureStderr();
  Outcome o;
  o.status = run_daemon_command(c, mem);
  o.err = testing::internal::GetCapturedStderr();
  std::fclose(mem);
  o.out.assign(buf, len);
  std::free(buf);
  return o;
}

void expect_bad_reply(const Outcome& o, const FakeAnylbd& d, const std::string& field) {
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.err, "anylbctl: unexpected reply from anylbd at " + d.socket + ": " + field + "\n");
}

TEST(DaemonClient, StatusWithoutItsFieldsIsOneLineNotAnAbort) {
  FakeAnylbd d("status");
  d.script("/status", {"{}", R"({"speaker":{},"publications":{},"flows":{},"health_checks":{},
                                 "ready":"yes"})"});
  ASSERT_TRUE(d.start());
  expect_bad_reply(run(d, "status"), d, "/status: 'speaker' is missing");
  expect_bad_reply(run(d, "status"), d, "/status: 'ready' is \"yes\", want true or false");
}

TEST(DaemonClient, AnErrorThatIsNotTextIsShownAsSent) {
  FakeAnylbd d("error");
  d.script("/status", {R"({"error":5})"}, 500);
  d.script("/drain", {R"({"error":"speaker down"})"}, 503);
  ASSERT_TRUE(d.start());
  Outcome o = run(d, "status");
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.err, "anylbctl: {\"error\":5} (HTTP 500)\n");
  o = run(d, "drain");
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.err, "anylbctl: speaker down (HTTP 503)\n");
}

TEST(DaemonClient, ReloadNotesThatAreNotTextArePrinted) {
  FakeAnylbd d("reload");
  d.script("/reload", {R"({"vips":3,"notes":[1,"node.mtu changed"]})", R"({"notes":"x"})"});
  ASSERT_TRUE(d.start());
  Outcome o = run(d, "reload");
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "reloaded: 3 VIPs\nnote: 1\nnote: node.mtu changed\n");
  expect_bad_reply(run(d, "reload"), d, "/reload: 'notes' is \"x\", want an array");
}

TEST(DaemonClient, VipWithoutAnnouncedIsNamed) {
  FakeAnylbd d("vips");
  d.script("/vips", {R"([{"name":"web","announced":true},{"name":"dns"}])", R"({"web":{}})",
                     "[7]"});
  ASSERT_TRUE(d.start());
  expect_bad_reply(run(d, "vips"), d, "/vips[1]: 'announced' is missing");
  expect_bad_reply(run(d, "vips"), d, "/vips: {\"web\":{}}, want a JSON array");
  expect_bad_reply(run(d, "vips"), d, "/vips[0]: 7, want an object");
}

TEST(DaemonClient, TopOfAReplyThatIsNotAListIsAnError) {
  FakeAnylbd d("top-bad");
  d.script("/vips", {"5", R"([{"name":"web","announced":true,"packets":"many"}])"});
  ASSERT_TRUE(d.start());
  expect_bad_reply(run(d, "top", 1), d, "/vips: 5, want a JSON array");
  expect_bad_reply(run(d, "top", 1), d,
                   "/vips[0]: 'packets' is \"many\", want a non-negative integer");
}

// PKT/S and MBIT/S of the VIP's row in each refresh.
std::vector<std::pair<double, double>> rates(const std::string& out, const std::string& vip) {
  std::vector<std::pair<double, double>> r;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string name, route, healthy;
    double pps = 0, mbps = 0;
    if (f >> name >> route >> healthy >> pps >> mbps && name == vip) r.emplace_back(pps, mbps);
  }
  return r;
}

TEST(DaemonClient, TopAfterAnAnylbdRestartShowsZeroNotAWrappedRate) {
  FakeAnylbd d("top-restart");
  auto vips = [](uint64_t packets, uint64_t bytes) {
    return R"([{"name":"web","announced":true,"healthy":2,"min_healthy":1,"packets":)" +
           std::to_string(packets) + R"(,"bytes":)" + std::to_string(bytes) + "}]";
  };
  // Counting, restarted (counters from zero), counting again.
  d.script("/vips", {vips(1'000'000, 1'000'000'000), vips(10, 1000), vips(20, 2000)});
  ASSERT_TRUE(d.start());
  const Outcome o = run(d, "top", 3);
  ASSERT_EQ(o.status, 0) << o.err;
  const auto r = rates(o.out, "web");
  ASSERT_EQ(r.size(), 3u) << o.out;
  EXPECT_EQ(r[1], std::make_pair(0.0, 0.0)) << o.out;
  // The restarted counters are the new baseline: 10 packets in about 0.1 s.
  EXPECT_GT(r[2].first, 10.0) << o.out;
  EXPECT_LT(r[2].first, 1000.0) << o.out;
}

}  // namespace
}  // namespace anylb::test
