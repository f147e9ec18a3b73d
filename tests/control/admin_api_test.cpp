// The admin API's answers to hostile input: bytes that are not UTF-8 get a
// JSON error (not an exception out of the server thread), a weight past
// INT64_MAX is refused as the client wrote it, and the loopback TCP port
// serves GET /metrics and nothing else. State is left as it was.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/api/http_server.h"
#include "control/daemon/admin_api.h"
#include "control/daemon/controller.h"
#include "tests/control/loopback.h"

namespace anylb {
namespace {

const char* kConfig = R"([node]
name = "t"
gateway_mac = "02:00:00:00:00:01"
tunnel_source_v4 = "10.100.0.1"
[[vip]]
name = "web"
address = "192.0.2.10"
port = 80
protocol = "tcp"
table_size = 1009
[[vip.backend]]
address = "10.1.0.1"
[[vip.backend]]
address = "10.1.0.2"
)";

// The model dataplane and no speaker (bgp.speaker = "none").
std::unique_ptr<Controller> started_controller() {
  auto cfg = parse_config(kConfig, "t.toml");
  EXPECT_TRUE(cfg.ok()) << cfg.error().message;
  auto dp = make_dataplane(*cfg, "");
  EXPECT_TRUE(dp.ok()) << dp.error().message;
  auto c = std::make_unique<Controller>(*cfg, std::move(*dp), nullptr);
  EXPECT_TRUE(c->start(0).ok());
  return c;
}

HttpRequest request(const std::string& method, const std::string& path,
                    const std::string& body = "", bool from_tcp = false) {
  HttpRequest r;
  r.method = method;
  r.path = path;
  r.body = body;
  r.from_tcp = from_tcp;
  return r;
}

// The body parses as strict JSON (nlohmann rejects invalid UTF-8) and has an
// error; returns it.
std::string json_error(const HttpResponse& r) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(r.body);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << ": " << r.body;
    return "";
  }
  EXPECT_TRUE(j.contains("error") && j["error"].is_string()) << r.body;
  return j.value("error", "");
}

TEST(AdminApiInput, InvalidUtf8GetsAJsonError) {
  auto c = started_controller();
  ApiContext ctx{"", [] { return uint64_t{0}; }};

  const HttpResponse path = handle_api(request("GET", "/st\xe9tus"), *c, ctx);
  EXPECT_EQ(path.status, 404);
  EXPECT_NE(json_error(path).find("/st\xef\xbf\xbdtus"), std::string::npos) << path.body;

  const HttpResponse method = handle_api(request("G\xe9T", "/status"), *c, ctx);
  EXPECT_EQ(method.status, 405);
  EXPECT_NE(json_error(method).find("/status"), std::string::npos) << method.body;

  HttpRequest lookup = request("GET", "/lookup");
  lookup.query = {{"protocol", "tc\xff"}, {"src", "198.51.100.1"}, {"sport", "1234"},
                  {"dst", "192.0.2.10"}, {"dport", "80"}};
  const HttpResponse proto = handle_api(lookup, *c, ctx);
  EXPECT_EQ(proto.status, 400);
  EXPECT_NE(json_error(proto).find("protocol"), std::string::npos) << proto.body;
  lookup.query["protocol"] = "tcp";
  lookup.query["src"] = "198.51.100.\xfe";
  const HttpResponse src = handle_api(lookup, *c, ctx);
  EXPECT_EQ(src.status, 400);
  EXPECT_NE(json_error(src).find("source"), std::string::npos) << src.body;

  const HttpResponse body =
      handle_api(request("POST", "/weight", "{\"vip\": \"w\xe9\"}"), *c, ctx);
  EXPECT_EQ(body.status, 400);
  EXPECT_NE(json_error(body).find("body"), std::string::npos) << body.body;
  EXPECT_FALSE(c->drained());
}

TEST(AdminApiInput, AHugeWeightIsRefusedAsWritten) {
  auto c = started_controller();
  ApiContext ctx{"", [] { return uint64_t{100}; }};
  const auto table = c->state().find_vip_by_name("web")->table;
  for (const char* weight : {"18446744073709551615", "9223372036854775808", "65536", "-1",
                             "-9223372036854775808"}) {
    const std::string b =
        std::string(R"({"vip": "web", "backend": "10.1.0.1", "weight": )") + weight + "}";
    const HttpResponse r = handle_api(request("POST", "/weight", b), *c, ctx);
    EXPECT_EQ(r.status, 422) << weight << " -> " << r.body;
    EXPECT_NE(json_error(r).find(std::string("weight ") + weight + ":"), std::string::npos)
        << weight << " -> " << r.body;
  }
  EXPECT_EQ(c->state().find_vip_by_name("web")->table, table);
  const HttpResponse edge = handle_api(
      request("POST", "/weight", R"({"vip": "web", "backend": "10.1.0.1", "weight": 65535})"), *c,
      ctx);
  EXPECT_EQ(edge.status, 200) << edge.body;
}

// Any local user can reach the TCP port; only the scraper's request is
// answered there.
TEST(AdminApiInput, TheTcpPortServesOnlyMetrics) {
  auto c = started_controller();
  ApiContext ctx{"", [] { return uint64_t{0}; }};
  const uint32_t weight = c->backends().front().weight;
  for (const auto& [method, path, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/drain", ""},
           {"POST", "/undrain", ""},
           {"POST", "/reload", ""},
           {"POST", "/weight", R"({"vip": "web", "backend": "10.1.0.1", "weight": 7})"},
           {"GET", "/status", ""},
           {"GET", "/backends", ""},
           {"GET", "/nope", ""},
           {"POST", "/metrics", ""}}) {
    const HttpResponse r = handle_api(request(method, path, body, true), *c, ctx);
    EXPECT_EQ(r.status, 403) << method << " " << path << " -> " << r.body;
    const std::string e = json_error(r);
    EXPECT_NE(e.find(method + " " + path), std::string::npos) << e;
    EXPECT_NE(e.find("only GET /metrics"), std::string::npos) << e;
    EXPECT_NE(e.find("Unix socket"), std::string::npos) << e;
  }
  EXPECT_FALSE(c->drained());
  EXPECT_EQ(c->backends().front().weight, weight);

  const HttpResponse m = handle_api(request("GET", "/metrics", "", true), *c, ctx);
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("anylb_up"), std::string::npos);
  EXPECT_EQ(handle_api(request("POST", "/drain"), *c, ctx).status, 200);
  EXPECT_TRUE(c->drained());
}

// The same through the server, as anylbd wires it: over TCP, POST /drain is
// refused and GET /metrics answered; the Unix socket still drains.
TEST(AdminApiInput, OverTheServerTcpGetsOnlyMetrics) {
  auto c = started_controller();
  ApiContext ctx{"", [] { return uint64_t{0}; }};
  struct Dir {
    std::string path = "/tmp/anylb-admin-api-test-" + std::to_string(getpid());
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } dir;
  const std::string path = dir.path + "/api.sock";
  const uint16_t port = free_port();
  ASSERT_NE(port, 0);
  {
    HttpServer server;
    auto ok = server.start(path, port, [&](const HttpRequest& r) { return handle_api(r, *c, ctx); });
    ASSERT_TRUE(ok.ok()) << ok.error().message;

    const std::string drain =
        tcp_exchange(port, "POST /drain HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(drain.rfind("HTTP/1.1 403 Forbidden", 0), 0u) << drain;
    EXPECT_NE(drain.find("only GET /metrics"), std::string::npos) << drain;
    const std::string metrics = tcp_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(metrics.rfind("HTTP/1.1 200 OK", 0), 0u) << metrics.substr(0, 80);
    EXPECT_NE(metrics.find("anylb_up"), std::string::npos);
    EXPECT_FALSE(c->drained());

    auto unix_drain = http_call(path, "POST", "/drain");
    ASSERT_TRUE(unix_drain.ok()) << unix_drain.error().message;
    EXPECT_EQ(unix_drain->status, 200) << unix_drain->body;
  }
  EXPECT_TRUE(c->drained());
}

}  // namespace
}  // namespace anylb
