// The built anylbctl as an operator runs it: numbers are decimal ("050" is
// fifty, not octal forty), an empty --config is an error rather than the
// embedded demo config, and a reply it cannot read is one line, not an abort.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/unit/fake_anylbd.h"
#include "tests/unit/subprocess.h"

namespace anylb::test {
namespace {

struct ToolRun {
  int status;
  std::string out, err;
};

ToolRun anylbctl(const std::vector<std::string>& args) {
  Subprocess p(tool_path("ANYLBCTL"), args);
  const int status = p.wait();
  return {status, p.out(), p.err()};
}

#define NEED_ANYLBCTL() \
  if (tool_path("ANYLBCTL").empty()) GTEST_SKIP() << "ANYLBCTL not set (meson test sets it)"

TEST(Anylbctl, WeightWithALeadingZeroIsDecimal) {
  NEED_ANYLBCTL();
  FakeAnylbd d("weight");
  d.script("/weight", {R"({"vip":"web","backend":"10.1.0.2","weight":50})"});
  ASSERT_TRUE(d.start());
  const ToolRun r = anylbctl({"weight", "web", "10.1.0.2", "050", "--socket", d.socket});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "web 10.1.0.2: weight 50\n");
  const auto seen = d.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(seen[0].body)["weight"], 50);

  const ToolRun hex = anylbctl({"weight", "web", "10.1.0.2", "0x32", "--socket", d.socket});
  EXPECT_NE(hex.status, 0);
  EXPECT_NE(hex.err.find("weight: '0x32' is not a decimal number"), std::string::npos) << hex.err;
  const ToolRun big = anylbctl({"weight", "web", "10.1.0.2", "65536", "--socket", d.socket});
  EXPECT_NE(big.status, 0);
  EXPECT_NE(big.err.find("weight: Value 65536 not in range 0 to 65535"), std::string::npos) << big.err;
  EXPECT_EQ(d.requests().size(), 1u) << "a refused weight reached anylbd";
}

TEST(Anylbctl, PortsWithALeadingZeroAreDecimal) {
  NEED_ANYLBCTL();
  const ToolRun r = anylbctl({"lookup", "tcp", "198.51.100.7", "0100", "192.0.2.10", "080"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("flow:     tcp 198.51.100.7:100 -> 192.0.2.10:80\n"), std::string::npos)
      << r.out;
  const ToolRun bad = anylbctl({"lookup", "tcp", "198.51.100.7", "-1", "192.0.2.10", "80"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("sport: '-1' is not a decimal number"), std::string::npos) << bad.err;
}

TEST(Anylbctl, CountWithALeadingZeroIsDecimal) {
  NEED_ANYLBCTL();
  FakeAnylbd d("count");
  d.script("/vips", {R"([{"name":"web","announced":true,"packets":1,"bytes":1}])"});
  ASSERT_TRUE(d.start());
  // Octal 010 would be 8 refreshes.
  const ToolRun r = anylbctl({"top", "--count", "010", "--interval", "0.1", "--socket", d.socket});
  ASSERT_EQ(r.status, 0) << r.err;
  size_t refreshes = 0;
  for (const auto& q : d.requests()) refreshes += q.path == "/vips";
  EXPECT_EQ(refreshes, 10u);
}

TEST(Anylbctl, EmptyConfigIsAnErrorNotTheEmbeddedOne) {
  NEED_ANYLBCTL();
  const ToolRun empty = anylbctl({"validate", "--config", ""});
  EXPECT_NE(empty.status, 0);
  EXPECT_EQ(empty.out, "");
  EXPECT_NE(empty.err.find("--config: an empty path"), std::string::npos) << empty.err;
  const ToolRun absent = anylbctl({"validate"});
  EXPECT_EQ(absent.status, 0) << absent.err;
  EXPECT_EQ(absent.out, "<embedded default>: ok (3 VIPs)\n");
}

TEST(Anylbctl, AReplyItCannotReadIsOneLine) {
  NEED_ANYLBCTL();
  FakeAnylbd d("status");
  d.script("/status", {"{}"});
  ASSERT_TRUE(d.start());
  const ToolRun r = anylbctl({"status", "--socket", d.socket});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "anylbctl: unexpected reply from anylbd at " + d.socket +
                       ": /status: 'speaker' is missing\n");
}

}  // namespace
}  // namespace anylb::test
