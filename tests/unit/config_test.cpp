// The config reader and validator: every rejected input names file, line, VIP
// and field, so the cases below assert on the message, not just on failure.
#include "control/config/config.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "dataplane/core/forwarding_state.h"

namespace anylb {
namespace {

// Lines 1-5. Both tunnel sources, so any backend family is accepted.
const std::string kNode = R"([node]
name = "lb1"
gateway_mac = "02:00:00:00:00:01"
tunnel_source_v4 = "10.100.0.1"
tunnel_source_v6 = "fd00:100::1"
)";

// Lines 6-12 when it follows kNode.
const std::string kVip = R"([[vip]]
name = "web"
address = "192.0.2.10"
port = 80
protocol = "tcp"
[[vip.backend]]
address = "10.1.0.1"
)";

Result<Config> parse(const std::string& text) { return parse_config(text, "cfg.toml"); }

std::string error_of(const std::string& text) {
  auto config = parse(text);
  return config.ok() ? "(parsed without error)" : config.error().message;
}

TEST(ConfigBasics, MinimalConfigParses) {
  auto config = parse(kNode + kVip);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config->warnings.empty());
  ASSERT_EQ(config->vips.size(), 1u);
  EXPECT_EQ(config->vips[0].line, 6);
  EXPECT_EQ(config->vips[0].backends[0].line, 11);
}

struct ErrorCase {
  const char* name;
  std::string toml;
  const char* expected;  // a substring of the message, with its line number
};

class ConfigError : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigError, NamesLineAndField) {
  const std::string message = error_of(GetParam().toml);
  EXPECT_NE(message.find(GetParam().expected), std::string::npos)
      << "message:  " << message << "\nexpected: " << GetParam().expected;
}

// A node block with one line replaced or added, followed by kVip (lines 6-12).
std::string node_with(const std::string& extra) { return kNode + extra + kVip; }

const ErrorCase kErrorCases[] = {
    // TOML itself
    {"SyntaxError", "[node]\nname = \n", "cfg.toml:2: invalid TOML"},
    {"DuplicateKey", "[node]\nname = \"a\"\nname = \"b\"\n", "cfg.toml:3: invalid TOML"},

    // Top level
    {"UnknownTopLevelKey", kNode + kVip + "[nodes]\n", "cfg.toml:13: unknown key 'nodes'"},
    {"MissingNodeTable", kVip, "cfg.toml:1: missing table [node]"},
    {"NodeNotATable", "node = 5\n", "cfg.toml:1: node: must be a table ([node])"},
    {"VipNotAnArray", kNode + "[vip]\nname = \"web\"\n",
     "cfg.toml:6: vip: must be an array of tables ([[vip]])"},

    // [node]
    {"NodeUnknownKey", kNode + "hash_sed = 1\n" + kVip,
     "cfg.toml:6: node: unknown key 'hash_sed' (did you mean 'hash_seed'?)"},
    {"NodeMissingName", "[node]\ngateway_mac = \"02:00:00:00:00:01\"\n",
     "cfg.toml:1: node: missing required key 'name'"},
    {"NodeNameNotString", "[node]\nname = 5\n",
     "cfg.toml:2: node.name: must be a string (got an integer)"},
    {"NodeNameEmpty", "[node]\nname = \"\"\n", "cfg.toml:2: node.name: must not be empty"},
    {"UnknownDataplane", node_with("dataplane = \"ebpf\"\n"),
     "cfg.toml:6: node.dataplane: 'ebpf' is not one of model, xdp, dpdk"},
    {"XdpWithoutInterface", node_with("dataplane = \"xdp\"\n"),
     "cfg.toml:1: node: missing required key 'interface' (dataplane 'xdp' needs it)"},
    {"DpdkWithoutInterface", node_with("dataplane = \"dpdk\"\n"),
     "cfg.toml:1: node: missing required key 'interface' (dataplane 'dpdk' needs it)"},
    {"InterfaceTooLong", node_with("interface = \"a-very-long-ifname\"\n"),
     "cfg.toml:6: node.interface: 'a-very-long-ifname' is longer than an interface name"},
    {"MissingGatewayMac", "[node]\nname = \"lb1\"\n",
     "cfg.toml:1: node: missing required key 'gateway_mac'"},
    {"BadGatewayMac", "[node]\nname = \"lb1\"\ngateway_mac = \"02:00:00:00:01\"\n",
     "cfg.toml:3: node.gateway_mac: '02:00:00:00:01': not a MAC address"},
    {"HashSeedTooLarge", node_with("hash_seed = 0x100000000\n"),
     "cfg.toml:6: node.hash_seed: must be an integer 0..4294967295 (got 4294967296)"},
    {"HashSeedNegative", node_with("hash_seed = -1\n"),
     "cfg.toml:6: node.hash_seed: must be an integer 0..4294967295 (got -1)"},
    {"HashSeedString", node_with("hash_seed = \"0x5eed\"\n"),
     "cfg.toml:6: node.hash_seed: must be an integer 0..4294967295 (got a string)"},
    {"TunnelSourceNotAnAddress",
     "[node]\nname = \"lb1\"\ngateway_mac = \"02:00:00:00:00:01\"\ntunnel_source_v4 = \"10.0.0\"\n",
     "cfg.toml:4: node.tunnel_source_v4: '10.0.0' is not an IP address"},
    {"TunnelSourceV4Family",
     "[node]\nname = \"lb1\"\ngateway_mac = \"02:00:00:00:00:01\"\ntunnel_source_v4 = "
     "\"fd00::1\"\n",
     "cfg.toml:4: node.tunnel_source_v4: 'fd00::1' is not an IPv4 address"},
    {"TunnelSourceV6Family",
     "[node]\nname = \"lb1\"\ngateway_mac = \"02:00:00:00:00:01\"\ntunnel_source_v6 = "
     "\"10.0.0.1\"\n",
     "cfg.toml:4: node.tunnel_source_v6: '10.0.0.1' is not an IPv6 address"},
    {"TunnelPrefixInvalid",
     "[node]\nname = \"lb1\"\ngateway_mac = \"02:00:00:00:00:01\"\n"
     "tunnel_source_v4_prefix = \"10.99.0.0/33\"\n",
     "cfg.toml:4: node.tunnel_source_v4_prefix: '10.99.0.0/33': prefix length 33 exceeds 32"},
    {"TunnelPrefixFamily",
     "[node]\nname = \"lb1\"\ngateway_mac = \"02:00:00:00:00:01\"\n"
     "tunnel_source_v6_prefix = \"10.99.0.0/24\"\n",
     "cfg.toml:4: node.tunnel_source_v6_prefix: '10.99.0.0/24' is not an IPv6 prefix"},
    {"TunnelAddressAndPrefix", node_with("tunnel_source_v4_prefix = \"10.99.0.0/24\"\n"),
     "cfg.toml:6: node.tunnel_source_v4_prefix: set only one of tunnel_source_v4 and "
     "tunnel_source_v4_prefix"},
    {"GuePortZero", node_with("gue_port = 0\n"),
     "cfg.toml:6: node.gue_port: must be an integer 1..65535 (got 0)"},
    {"MtuTooSmall", node_with("mtu = 1000\n"),
     "cfg.toml:6: node.mtu: must be an integer 1280..9216 (got 1000)"},
    {"MtuTooLarge", node_with("mtu = 9217\n"),
     "cfg.toml:6: node.mtu: must be an integer 1280..9216 (got 9217)"},
    {"FlowTableNotPowerOfTwo", node_with("flow_table_entries = 1000000\n"),
     "cfg.toml:6: node.flow_table_entries: must be a power of two (got 1000000)"},
    {"FlowTableTooSmall", node_with("flow_table_entries = 512\n"),
     "cfg.toml:6: node.flow_table_entries: must be an integer 1024..268435456 (got 512)"},
    {"FlowTableFloat", node_with("flow_table_entries = 1024.0\n"),
     "cfg.toml:6: node.flow_table_entries: must be an integer 1024..268435456 (got a float)"},

    // [timeouts]
    {"TimeoutsUnknownKey", kNode + "[timeouts]\ntcp = 5\n",
     "cfg.toml:7: timeouts: unknown key 'tcp'"},
    {"TimeoutZero", kNode + "[timeouts]\nudp = 0\n",
     "cfg.toml:7: timeouts.udp: must be an integer 1..86400 seconds (got 0)"},

    // [[vip]]
    {"VipUnknownKey", kNode + kVip.substr(0, kVip.find("[[vip.backend]]")) + "prot = \"tcp\"\n",
     "cfg.toml:11: vip 'web': unknown key 'prot' (did you mean 'port' or 'protocol'?)"},
    {"VipMissingName", kNode + "[[vip]]\naddress = \"192.0.2.10\"\n",
     "cfg.toml:6: vip #1: missing required key 'name'"},
    {"VipBadName", kNode + "[[vip]]\nname = \"my web\"\n",
     "cfg.toml:7: vip #1: name: 'my web' must be at most 64 letters, digits"},
    {"VipMissingAddress", kNode + "[[vip]]\nname = \"web\"\nprotocol = \"tcp\"\n",
     "cfg.toml:6: vip 'web': missing required key 'address'"},
    {"VipBadAddress", kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.300\"\n",
     "cfg.toml:8: vip 'web': address: '192.0.2.300' is not an IP address"},
    {"VipMissingProtocol", kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\n",
     "cfg.toml:6: vip 'web': missing required key 'protocol'"},
    {"VipUnknownProtocol",
     kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\nprotocol = \"sctp\"\n",
     "cfg.toml:9: vip 'web': protocol: 'sctp' is not one of tcp, udp"},
    // TOML puts keys below [[vip.backend]] into that backend, a classic slip.
    {"VipKeyBelowBackend", kNode + kVip + "encap = \"gue\"\n",
     "cfg.toml:13: vip 'web': backend 10.1.0.1: unknown key 'encap' (a VIP key: keys below "
     "[[vip.backend]] belong to that backend"},
    {"VipUnknownEncap",
     kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\n"
             "protocol = \"tcp\"\nencap = \"gre\"\n",
     "cfg.toml:10: vip 'web': encap: 'gre' is not one of ipip, gue"},
    {"VipPortTooLarge",
     kNode + kVip +
         "[[vip]]\nname = \"b\"\naddress = \"192.0.2.11\"\n"
         "protocol = \"tcp\"\nport = 65536\n",
     "cfg.toml:17: vip 'b': port: must be an integer 0..65535 (got 65536)"},
    {"VipPortNegative",
     kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\n"
             "protocol = \"tcp\"\nport = -80\n",
     "cfg.toml:10: vip 'web': port: must be an integer 0..65535 (got -80)"},
    {"TableSizeNotPrime",
     kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\n"
             "protocol = \"tcp\"\ntable_size = 65536\n",
     "cfg.toml:10: vip 'web': table_size: must be a prime in 7..16777213 (got 65536; the next "
     "prime is 65537)"},
    {"TableSizeTooSmall",
     kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\n"
             "protocol = \"tcp\"\ntable_size = 5\n",
     "cfg.toml:10: vip 'web': table_size: must be a prime in 7..16777213 (got 5)"},
    {"TableSizeTooLarge",
     kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\n"
             "protocol = \"tcp\"\ntable_size = 16777259\n",
     "cfg.toml:10: vip 'web': table_size: must be a prime in 7..16777213 (got 16777259)"},
    {"NoBackendsButMinHealthy",
     kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\nprotocol = \"tcp\"\n",
     "cfg.toml:6: vip 'web': has no backends but min_healthy is 1"},
    {"MinHealthyAboveBackends",
     kNode + kVip + "[[vip.backend]]\naddress = \"10.1.0.2\"\n" +
         "[[vip]]\nname = \"b\"\naddress = \"192.0.2.11\"\n"
         "protocol = \"udp\"\nmin_healthy = 2\n"
         "[[vip.backend]]\naddress = \"10.1.0.1\"\n",
     "cfg.toml:15: vip 'b': min_healthy 2 exceeds the number of backends (1)"},
    {"MinHealthyOutOfRange",
     kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\n"
             "protocol = \"tcp\"\nmin_healthy = 5000\n",
     "cfg.toml:10: vip 'web': min_healthy: must be an integer 0..4096 (got 5000)"},
    {"DuplicateVipName",
     kNode + kVip +
         "[[vip]]\nname = \"web\"\naddress = \"192.0.2.11\"\nprotocol = \"tcp\"\n"
         "[[vip.backend]]\naddress = \"10.1.0.1\"\n",
     "cfg.toml:13: vip 'web': name already used by the VIP at line 6"},
    {"DuplicateVipEndpoint",
     kNode + kVip +
         "[[vip]]\nname = \"web2\"\naddress = \"192.0.2.10\"\nport = 80\n"
         "protocol = \"tcp\"\n[[vip.backend]]\naddress = \"10.1.0.1\"\n",
     "cfg.toml:13: vip 'web2': 192.0.2.10:80/tcp is already vip 'web' (line 6)"},
    {"DuplicatePortlessVip",
     kNode + "[[vip]]\nname = \"a\"\naddress = \"2001:db8::1\"\nprotocol = \"udp\"\n"
             "min_healthy = 0\n"
             "[[vip]]\nname = \"b\"\naddress = \"2001:db8::1\"\nprotocol = \"udp\"\n"
             "min_healthy = 0\n",
     "cfg.toml:11: vip 'b': [2001:db8::1]:*/udp is already vip 'a' (line 6)"},
    {"BackendNotArray",
     kNode + "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\n"
             "protocol = \"tcp\"\n[vip.backend]\naddress = \"10.1.0.1\"\n",
     "cfg.toml:10: vip 'web': backend: must be an array of tables ([[vip.backend]])"},
    {"HealthNotTable", kNode + kVip.substr(0, kVip.find("[[vip.backend]]")) + "health = \"tcp\"\n",
     "cfg.toml:11: vip 'web': health: must be a table ([vip.health])"},

    // [[vip.backend]]
    {"BackendBadAddress",
     kNode + "[[vip]]\nname = \"dns\"\naddress = \"192.0.2.53\"\nprotocol = \"udp\"\n"
             "[[vip.backend]]\naddress = \"10.1.0.300\"\n",
     "cfg.toml:11: vip 'dns': backend 10.1.0.300: not an IP address"},
    {"BackendMissingAddress", kNode + kVip + "[[vip.backend]]\nweight = 1\n",
     "cfg.toml:13: vip 'web': backend #2: missing required key 'address'"},
    {"BackendUnknownKey", kNode + kVip + "wieght = 5\n",
     "cfg.toml:13: vip 'web': backend 10.1.0.1: unknown key 'wieght' (did you mean 'weight'?)"},
    {"BackendWeightTooLarge", kNode + kVip + "weight = 65536\n",
     "cfg.toml:13: vip 'web': backend 10.1.0.1: weight: must be an integer 0..65535 (got 65536)"},
    {"BackendWeightNegative", kNode + kVip + "weight = -1\n",
     "cfg.toml:13: vip 'web': backend 10.1.0.1: weight: must be an integer 0..65535 (got -1)"},
    {"BackendUnknownState", kNode + kVip + "state = \"up\"\n",
     "cfg.toml:13: vip 'web': backend 10.1.0.1: state: 'up' is not one of active, draining, down"},
    {"DuplicateBackend", kNode + kVip + "[[vip.backend]]\naddress = \"10.1.0.1\"\n",
     "cfg.toml:13: vip 'web': backend 10.1.0.1: listed twice (first at line 11)"},
    {"DuplicateBackendSpelledDifferently",
     kNode + "[[vip]]\nname = \"v6\"\naddress = \"2001:db8::10\"\nprotocol = \"tcp\"\n"
             "[[vip.backend]]\naddress = \"fd00:1::1\"\n"
             "[[vip.backend]]\naddress = \"fd00:1:0:0::1\"\n",
     "cfg.toml:12: vip 'v6': backend fd00:1::1: listed twice (first at line 10)"},
    {"V6VipWithV4Backend",
     kNode + "[[vip]]\nname = \"v6\"\naddress = \"2001:db8::10\"\nprotocol = \"tcp\"\n"
             "[[vip.backend]]\naddress = \"10.1.0.1\"\n",
     "cfg.toml:10: vip 'v6': backend 10.1.0.1: an IPv6 VIP cannot be carried to an IPv4 backend"},
    {"V4BackendWithoutV4Source",
     "[node]\nname = \"lb1\"\ngateway_mac = \"02:00:00:00:00:01\"\n"
     "tunnel_source_v6 = \"fd00:100::1\"\n" +
         kVip,
     "cfg.toml:10: vip 'web': backend 10.1.0.1: an IPv4 backend needs node.tunnel_source_v4 or "
     "node.tunnel_source_v4_prefix"},
    {"V6BackendWithoutV6Source",
     "[node]\nname = \"lb1\"\ngateway_mac = \"02:00:00:00:00:01\"\n"
     "tunnel_source_v4_prefix = \"10.99.0.0/24\"\n" +
         kVip + "[[vip.backend]]\naddress = \"fd00:1::1\"\n",
     "cfg.toml:12: vip 'web': backend fd00:1::1: an IPv6 backend needs node.tunnel_source_v6 or "
     "node.tunnel_source_v6_prefix"},

    // [vip.health]
    {"HealthUnknownKey", kNode + kVip + "[vip.health]\nkind = \"tcp\"\nintervall = \"1s\"\n",
     "cfg.toml:15: vip 'web': health: unknown key 'intervall' (did you mean 'interval'?)"},
    {"HealthMissingKind", kNode + kVip + "[vip.health]\nport = 80\n",
     "cfg.toml:13: vip 'web': health: missing required key 'kind' (one of none, tcp, http, udp, "
     "command)"},
    {"HealthUnknownKind", kNode + kVip + "[vip.health]\nkind = \"icmp\"\n",
     "cfg.toml:14: vip 'web': health.kind: 'icmp' is not one of none, tcp, http, udp, command"},
    {"HealthRiseZero", kNode + kVip + "[vip.health]\nkind = \"tcp\"\nrise = 0\n",
     "cfg.toml:15: vip 'web': health.rise: must be an integer 1..100 (got 0)"},
    {"HealthFallZero", kNode + kVip + "[vip.health]\nkind = \"tcp\"\nfall = 0\n",
     "cfg.toml:15: vip 'web': health.fall: must be an integer 1..100 (got 0)"},
    {"HealthTimeoutNotBelowInterval",
     kNode + kVip + "[vip.health]\nkind = \"tcp\"\ninterval = \"1s\"\ntimeout = 1000\n",
     "cfg.toml:16: vip 'web': health.timeout: 1000ms must be shorter than the interval (1000ms)"},
    {"HealthBadDuration", kNode + kVip + "[vip.health]\nkind = \"tcp\"\ninterval = \"2 sec\"\n",
     "cfg.toml:15: vip 'web': health.interval: must be a duration of 1ms..1h"},
    {"HealthZeroDuration", kNode + kVip + "[vip.health]\nkind = \"tcp\"\ninterval = \"0s\"\n",
     "cfg.toml:15: vip 'web': health.interval: must be a duration of 1ms..1h such as \"2s\", "
     "\"500ms\", \"1m\" or integer milliseconds (got '0s')"},
    {"HealthCommandWithoutCommand", kNode + kVip + "[vip.health]\nkind = \"command\"\n",
     "cfg.toml:13: vip 'web': health: missing required key 'command'"},
    {"HealthUdpWithoutSend", kNode + kVip + "[vip.health]\nkind = \"udp\"\n",
     "cfg.toml:13: vip 'web': health: missing required key 'send'"},
    {"HealthHttpRelativePath", kNode + kVip + "[vip.health]\nkind = \"http\"\npath = \"healthz\"\n",
     "cfg.toml:15: vip 'web': health.path: 'healthz' must start with '/'"},
    // The path goes raw into "GET <path> HTTP/1.0\r\n": only request-target characters.
    {"HealthHttpPathSpace", kNode + kVip + "[vip.health]\nkind = \"http\"\npath = \"/a b\"\n",
     "cfg.toml:15: vip 'web': health.path: byte 0x20 (space) at position 3 is not allowed in an "
     "HTTP request target (RFC 3986: letters, digits, -._~!$&'()*+,;=:@/? and %HH escapes)"},
    {"HealthHttpPathCrLf",
     kNode + kVip + "[vip.health]\nkind = \"http\"\npath = \"/x\\r\\nX-Injected: 1\"\n",
     "cfg.toml:15: vip 'web': health.path: byte 0x0d (CR) at position 3 is not allowed"},
    {"HealthHttpPathLf", kNode + kVip + "[vip.health]\nkind = \"http\"\npath = \"/x\\n\"\n",
     "cfg.toml:15: vip 'web': health.path: byte 0x0a (LF) at position 3 is not allowed"},
    {"HealthHttpPathTab", kNode + kVip + "[vip.health]\nkind = \"http\"\npath = \"/\\t\"\n",
     "cfg.toml:15: vip 'web': health.path: byte 0x09 (tab) at position 2 is not allowed"},
    {"HealthHttpPathControl",
     kNode + kVip + "[vip.health]\nkind = \"http\"\npath = \"/a\\u0001\"\n",
     "cfg.toml:15: vip 'web': health.path: byte 0x01 at position 3 is not allowed"},
    {"HealthHttpPathFragment",
     kNode + kVip + "[vip.health]\nkind = \"http\"\npath = \"/a#b\"\n",
     "cfg.toml:15: vip 'web': health.path: '#' at position 3 is not allowed"},
    {"HealthHttpPathNonAscii",
     kNode + kVip + "[vip.health]\nkind = \"http\"\npath = \"/caf\\u00e9\"\n",
     "cfg.toml:15: vip 'web': health.path: byte 0xc3 at position 5 is not allowed"},
    {"HealthHttpPathBadPercent",
     kNode + kVip + "[vip.health]\nkind = \"http\"\npath = \"/a%2\"\n",
     "cfg.toml:15: vip 'web': health.path: '%' at position 3 must start a %HH escape (two hex "
     "digits)"},
    // Escapes are decoded by the health monitor's own decode_escapes.
    {"HealthSendUnknownEscape",
     kNode + kVip + "[vip.health]\nkind = \"udp\"\nsend = '\\q'\n",
     "cfg.toml:15: vip 'web': health.send: unknown escape '\\q' in '\\q'"},
    {"HealthSendShortHexEscape",
     kNode + kVip + "[vip.health]\nkind = \"udp\"\nsend = 'ab\\x4'\n",
     "cfg.toml:15: vip 'web': health.send: '\\x' must be followed by two hex digits in 'ab\\x4'"},
    {"HealthExpectTrailingBackslash",
     kNode + kVip + "[vip.health]\nkind = \"udp\"\nsend = 'ping'\nexpect = 'pong\\'\n",
     "cfg.toml:16: vip 'web': health.expect: '\\' at the end of 'pong\\'"},
    {"HealthHttpBadStatus", kNode + kVip + "[vip.health]\nkind = \"http\"\nexpect_status = 2000\n",
     "cfg.toml:15: vip 'web': health.expect_status: must be an integer 100..599 (got 2000)"},
    {"HealthKeyOfOtherKind", kNode + kVip + "[vip.health]\nkind = \"tcp\"\npath = \"/\"\n",
     "cfg.toml:15: vip 'web': health.path: only applies to kind 'http', not 'tcp'"},
    {"HealthPortNeededForPortlessVip",
     kNode + "[[vip]]\nname = \"all\"\naddress = \"192.0.2.10\"\nprotocol = \"tcp\"\n"
             "min_healthy = 0\n[vip.health]\nkind = \"tcp\"\n",
     "cfg.toml:11: vip 'all': health.port: required because the VIP has no port"},

    // [bgp] and [api] (after kNode + kVip, the header is line 13)
    {"BgpUnknownSpeaker", kNode + kVip + "[bgp]\nspeaker = \"gobgp\"\n",
     "cfg.toml:14: bgp.speaker: 'gobgp' is not one of none, bird, exabgp"},
    {"BgpPrefixNotABirdSymbol", kNode + kVip + "[bgp]\nprotocol_prefix = \"a-b\"\n",
     "cfg.toml:14: bgp.protocol_prefix: 'a-b' may hold only letters, digits and '_' (a BIRD symbol)"},
    // web-1 and web.1 both map to BIRD protocol anylb_web_1.
    {"BirdProtocolNameCollision",
     kNode + "[[vip]]\nname = \"web-1\"\naddress = \"192.0.2.10\"\nprotocol = \"tcp\"\n"
             "min_healthy = 0\n"
             "[[vip]]\nname = \"web.1\"\naddress = \"192.0.2.11\"\nprotocol = \"tcp\"\n"
             "min_healthy = 0\n"
             "[bgp]\nspeaker = \"bird\"\n",
     "cfg.toml:11: vip 'web.1': BIRD protocol 'anylb_web_1' is already vip 'web-1''s (line 6): "
     "characters other than letters, digits and '_' become '_'; rename one of the two"},
    {"BirdProtocolNameCollisionWithPrefix",
     kNode + "[[vip]]\nname = \"a_b\"\naddress = \"192.0.2.10\"\nprotocol = \"tcp\"\n"
             "min_healthy = 0\n"
             "[[vip]]\nname = \"a-b\"\naddress = \"192.0.2.11\"\nprotocol = \"tcp\"\n"
             "min_healthy = 0\n"
             "[bgp]\nspeaker = \"bird\"\nprotocol_prefix = \"lb\"\n",
     "cfg.toml:11: vip 'a-b': BIRD protocol 'lba_b' is already vip 'a_b''s (line 6)"},
    {"BgpHoldNotADuration", kNode + kVip + "[bgp]\nannounce_hold = \"soon\"\n",
     "cfg.toml:14: bgp.announce_hold: must be a duration"},
    {"ApiPortTooLarge", kNode + kVip + "[api]\ntcp_port = 70000\n",
     "cfg.toml:14: api.tcp_port: must be an integer 0..65535 (got 70000)"},
    {"ApiUnknownKey", kNode + kVip + "[api]\nlisten = \"0.0.0.0:80\"\n",
     "cfg.toml:14: api: unknown key 'listen'"},

    // [dpdk] (after kNode + kVip, its header is line 13)
    {"DpdkUnknownKey", kNode + kVip + "[dpdk]\nworkers = [1]\n",
     "cfg.toml:14: dpdk: unknown key 'workers'"},
    {"DpdkWorkerCpusEmpty", kNode + kVip + "[dpdk]\nworker_cpus = []\n",
     "cfg.toml:14: dpdk.worker_cpus: must be a non-empty array of integers 0..127 (got [])"},
    {"DpdkWorkerCpuOutOfRange", kNode + kVip + "[dpdk]\nworker_cpus = [1, 200]\n",
     "cfg.toml:14: dpdk.worker_cpus: must be a non-empty array of integers 0..127 (got 200)"},
    {"DpdkWorkerCpuNotInteger", kNode + kVip + "[dpdk]\nworker_cpus = [\"1\"]\n",
     "cfg.toml:14: dpdk.worker_cpus: must be a non-empty array of integers 0..127 (got a string)"},
    {"DpdkWorkerCpuTwice", kNode + kVip + "[dpdk]\nworker_cpus = [1, 1]\n",
     "cfg.toml:14: dpdk.worker_cpus: CPU 1 is listed twice (one worker per CPU)"},
    {"DpdkHugepagesNotBool", kNode + kVip + "[dpdk]\nhugepages = \"no\"\n",
     "cfg.toml:14: dpdk.hugepages: must be true or false (got a string)"},
    {"DpdkBurstTooLarge", kNode + kVip + "[dpdk]\nburst = 64\n",
     "cfg.toml:14: dpdk.burst: must be an integer 1..32 (got 64)"},
    {"DpdkEalArgsNotStrings", kNode + kVip + "[dpdk]\neal_args = [1]\n",
     "cfg.toml:14: dpdk.eal_args: must be an array of non-empty strings"},
    {"DpdkPortWithoutDevice", kNode + kVip + "[[dpdk.port]]\nexception_tap = \"x\"\n",
     "cfg.toml:13: dpdk: port #1: missing required key 'device'"},
    {"DpdkPortTwice",
     kNode + kVip + "[[dpdk.port]]\ndevice = \"net_tap0,iface=a\"\n"
                    "[[dpdk.port]]\ndevice = \"net_tap0,iface=b\"\n",
     "cfg.toml:15: dpdk: port #2: device 'net_tap0' is already the port at line 13"},
    {"DpdkTapNameTooLong",
     kNode + kVip + "[[dpdk.port]]\ndevice = \"net_null0\"\nexception_tap = \"a-very-long-tapname\"\n",
     "cfg.toml:15: dpdk: port #1: exception_tap: 'a-very-long-tapname' is longer than an "
     "interface name"},
};

INSTANTIATE_TEST_SUITE_P(Config, ConfigError, testing::ValuesIn(kErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConfigLimits, TooManyVips) {
  std::string text = kNode;
  for (size_t i = 0; i <= kMaxVips; ++i) {
    text += "[[vip]]\nname = \"v" + std::to_string(i) +
            "\"\naddress = \"192.0.2.1\"\nport = " + std::to_string(i + 1) +
            "\nprotocol = \"tcp\"\nmin_healthy = 0\n";
  }
  const int last_vip_line = 6 + static_cast<int>(kMaxVips) * 6;
  EXPECT_EQ(error_of(text), "cfg.toml:" + std::to_string(last_vip_line) +
                                ": too many VIPs: at most 4096 per config");
}

TEST(ConfigLimits, TooManyBackends) {
  std::string text =
      kNode + "[[vip]]\nname = \"big\"\naddress = \"192.0.2.1\"\nprotocol = \"tcp\"\n";
  for (size_t i = 0; i <= kMaxBackendsPerVip; ++i) {
    text += "[[vip.backend]]\naddress = \"10.9." + std::to_string(i / 256) + "." +
            std::to_string(i % 256) + "\"\n";
  }
  const int last_backend_line = 10 + static_cast<int>(kMaxBackendsPerVip) * 2;
  EXPECT_EQ(error_of(text), "cfg.toml:" + std::to_string(last_backend_line) +
                                ": vip 'big': too many backends: at most 4096 per VIP");
}

// 4096 VIPs at the largest table_size passed validation and then needed
// 256 GiB per copy of the tables; the sum is capped (kMaxTotalTableSlots).
TEST(ConfigLimits, TooManyMaglevSlotsOverAllVips) {
  const auto vips = [](size_t count) {
    std::string text = kNode;
    for (size_t i = 0; i < count; ++i) {
      text += "[[vip]]\nname = \"v" + std::to_string(i) +
              "\"\naddress = \"192.0.2.1\"\nport = " + std::to_string(i + 1) +
              "\nprotocol = \"tcp\"\ntable_size = 16777213\nmin_healthy = 0\n";
    }
    return text;
  };
  // Four of the largest tables fit (4 x 16777213 <= 2^26) ...
  static_assert(4 * uint64_t{kMaxTableSize} <= kMaxTotalTableSlots);
  auto four = parse(vips(4));
  EXPECT_TRUE(four.ok()) << four.error().message;
  // ... the fifth crosses the limit, and the message names it and the figures.
  EXPECT_EQ(error_of(vips(5)),
            "cfg.toml:34: vip 'v4': table_size 16777213 brings the Maglev tables of the VIPs so "
            "far to 83886065 slots, more than the 67108864 allowed over all VIPs; give VIPs with "
            "few backends smaller tables (100 x the backends is enough)");
}

// `vips` VIPs of 4096 backends each, built in code (as TOML it would be
// 140,000 lines): backend j of VIP i is declared at line 100000 + i * 4096 + j.
Config config_with_backends(size_t vips) {
  auto base = parse(kNode + kVip);
  EXPECT_TRUE(base.ok()) << base.error().message;
  Config config = *base;
  config.vips.clear();
  for (size_t i = 0; i < vips; ++i) {
    VipConfig v = base->vips[0];
    v.name = "v" + std::to_string(i);
    v.port = static_cast<uint16_t>(i + 1);
    v.line = static_cast<int>(i + 1);
    v.backends.clear();
    for (size_t j = 0; j < kMaxBackendsPerVip; ++j) {
      BackendConfig b;
      b.address = *parse_ip_address("10." + std::to_string(i) + "." + std::to_string(j / 256) +
                                    "." + std::to_string(j % 256));
      b.line = static_cast<int>(100000 + i * kMaxBackendsPerVip + j);
      v.backends.push_back(b);
    }
    config.vips.push_back(std::move(v));
  }
  return config;
}

// 17 x 4096 backends passed validation and then failed the state build
// ("state: 69632 backends, at most 65536 supported"): the same limit here.
TEST(ConfigLimits, TooManyBackendsOverAllVips) {
  static_assert(kMaxBackendIds % kMaxBackendsPerVip == 0);
  const size_t fitting = kMaxBackendIds / kMaxBackendsPerVip;  // 16
  auto at_limit = validate_config(config_with_backends(fitting));
  EXPECT_TRUE(at_limit.ok()) << at_limit.error().message;

  auto over = validate_config(config_with_backends(fitting + 1));
  ASSERT_FALSE(over.ok());
  // The first backend of the 17th VIP is the 65537th.
  EXPECT_EQ(over.error().message,
            "cfg.toml:" + std::to_string(100000 + fitting * kMaxBackendsPerVip) +
                ": vip 'v16': too many backends over all VIPs: 69632 with this VIP's 4096, at "
                "most 65536");
}

TEST(ConfigDefault, EmbeddedDefaultParsesWithoutWarnings) {
  const std::string_view text = embedded_default_config();
  ASSERT_FALSE(text.empty());
  auto config = parse_config(text, "<embedded>");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config->warnings.empty()) << config->warnings.front();
  EXPECT_EQ(config->source, "<embedded>");
  EXPECT_EQ(config->node.name, "lb1");
  EXPECT_EQ(config->node.dataplane, DataplaneKind::Model);
  EXPECT_EQ(config->node.interface, "veth-lb");
  EXPECT_EQ(config->node.tunnel_source_v4, parse_ip_address("10.100.0.1").value());
  EXPECT_EQ(config->node.tunnel_source_v6, parse_ip_address("fd00:100::1").value());

  ASSERT_EQ(config->vips.size(), 3u);
  const VipConfig& web = config->vips[0];
  EXPECT_EQ(web.address.to_string(), "192.0.2.10");
  EXPECT_EQ(web.port, 80);
  EXPECT_EQ(web.protocol, IPPROTO_TCP);
  EXPECT_EQ(web.encap, ANYLB_ENCAP_IPIP);
  ASSERT_EQ(web.backends.size(), 3u);
  EXPECT_EQ(web.backends[1].address.to_string(), "10.1.0.2");
  EXPECT_EQ(web.backends[1].weight, 200u);

  const VipConfig& dns = config->vips[1];
  EXPECT_EQ(dns.address.to_string(), "192.0.2.53");
  EXPECT_EQ(dns.port, 53);
  EXPECT_EQ(dns.protocol, IPPROTO_UDP);
  EXPECT_EQ(dns.encap, ANYLB_ENCAP_GUE);
  EXPECT_EQ(dns.health.kind, HealthCheckKind::Udp);
  EXPECT_FALSE(dns.health.udp_send.empty());
  EXPECT_EQ(dns.backends.size(), 2u);

  const VipConfig& web6 = config->vips[2];
  EXPECT_EQ(web6.address.to_string(), "2001:db8::10");
  EXPECT_EQ(web6.port, 443);
  ASSERT_EQ(web6.backends.size(), 2u);
  EXPECT_EQ(web6.backends[0].address.to_string(), "fd00:1::1");
  EXPECT_EQ(web6.backends[1].address.to_string(), "fd00:1::2");
}

// Every key set to a value other than its default, so a key the reader drops
// shows up as a default where the text says otherwise.
TEST(ConfigFull, EveryFieldReachesTheConfig) {
  const std::string text = R"([node]
name = "edge-7"
dataplane = "xdp"
interface = "ens1f0"
gateway_mac = "02:aa:bb:cc:dd:ee"
hash_seed = 0xdeadbeef
tunnel_source_v4_prefix = "10.99.0.0/24"
tunnel_source_v6_prefix = "fd00:99::/120"
gue_port = 7777
mtu = 9000
flow_table_entries = 4096

[timeouts]
tcp_syn = 3
tcp_established = 900
tcp_closing = 20
udp = 60
other = 15

[[vip]]
name = "api"
address = "192.0.2.20"
port = 8443
protocol = "udp"
encap = "gue"
table_size = 1009
min_healthy = 2

[vip.health]
kind = "udp"
port = 9000
interval = "1m"
timeout = 1500
rise = 4
fall = 5
send = "ping"
expect = "pong"

[[vip.backend]]
address = "10.1.0.1"
weight = 0
state = "draining"

[[vip.backend]]
address = "fd00:1::9"
weight = 65535
state = "down"

[[vip]]
name = "cmd"
address = "2001:db8::20"
protocol = "tcp"
min_healthy = 0
[vip.health]
kind = "command"
command = "/usr/local/bin/check"
interval = "3s"
timeout = "500ms"

[[vip]]
name = "http"
address = "192.0.2.21"
port = 80
protocol = "tcp"
min_healthy = 0
[vip.health]
kind = "http"
path = "/ready"
expect_status = 204
)";
  auto parsed = parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const Config& c = *parsed;
  EXPECT_EQ(c.source, "cfg.toml");
  EXPECT_EQ(c.node.name, "edge-7");
  EXPECT_EQ(c.node.dataplane, DataplaneKind::Xdp);
  EXPECT_EQ(c.node.interface, "ens1f0");
  EXPECT_EQ(mac_to_string(c.node.gateway_mac), "02:aa:bb:cc:dd:ee");
  EXPECT_EQ(c.node.hash_seed, 0xdeadbeefu);
  EXPECT_FALSE(c.node.tunnel_source_v4.has_value());
  ASSERT_TRUE(c.node.tunnel_source_v4_prefix.has_value());
  EXPECT_EQ(c.node.tunnel_source_v4_prefix->to_string(), "10.99.0.0/24");
  EXPECT_FALSE(c.node.tunnel_source_v6.has_value());
  ASSERT_TRUE(c.node.tunnel_source_v6_prefix.has_value());
  EXPECT_EQ(c.node.tunnel_source_v6_prefix->to_string(), "fd00:99::/120");
  EXPECT_EQ(c.node.gue_port, 7777);
  EXPECT_EQ(c.node.mtu, 9000);
  EXPECT_EQ(c.node.flow_table_entries, 4096u);

  EXPECT_EQ(c.timeouts.tcp_syn, 3u);
  EXPECT_EQ(c.timeouts.tcp_established, 900u);
  EXPECT_EQ(c.timeouts.tcp_closing, 20u);
  EXPECT_EQ(c.timeouts.udp, 60u);
  EXPECT_EQ(c.timeouts.other, 15u);

  ASSERT_EQ(c.vips.size(), 3u);
  const VipConfig& api = c.vips[0];
  EXPECT_EQ(api.line, 20);
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.address.to_string(), "192.0.2.20");
  EXPECT_EQ(api.port, 8443);
  EXPECT_EQ(api.protocol, IPPROTO_UDP);
  EXPECT_EQ(api.encap, ANYLB_ENCAP_GUE);
  EXPECT_EQ(api.table_size, 1009u);
  EXPECT_EQ(api.min_healthy, 2u);
  EXPECT_EQ(api.health.kind, HealthCheckKind::Udp);
  EXPECT_EQ(api.health.port, 9000);
  EXPECT_EQ(api.health.interval_ms, 60000u);
  EXPECT_EQ(api.health.timeout_ms, 1500u);
  EXPECT_EQ(api.health.rise, 4u);
  EXPECT_EQ(api.health.fall, 5u);
  EXPECT_EQ(api.health.udp_send, "ping");
  EXPECT_EQ(api.health.udp_expect, "pong");
  ASSERT_EQ(api.backends.size(), 2u);
  EXPECT_EQ(api.backends[0].address.to_string(), "10.1.0.1");
  EXPECT_EQ(api.backends[0].weight, 0u);
  EXPECT_EQ(api.backends[0].state, ANYLB_BACKEND_DRAINING);
  EXPECT_EQ(api.backends[0].line, 39);
  // An IPv4 VIP may go to an IPv6 backend (4in6).
  EXPECT_EQ(api.backends[1].address.to_string(), "fd00:1::9");
  EXPECT_EQ(api.backends[1].weight, 65535u);
  EXPECT_EQ(api.backends[1].state, ANYLB_BACKEND_DOWN);

  const VipConfig& cmd = c.vips[1];
  EXPECT_EQ(cmd.port, 0);
  EXPECT_EQ(cmd.encap, ANYLB_ENCAP_IPIP);
  EXPECT_EQ(cmd.health.kind, HealthCheckKind::Command);
  EXPECT_EQ(cmd.health.command, "/usr/local/bin/check");
  EXPECT_EQ(cmd.health.interval_ms, 3000u);
  EXPECT_EQ(cmd.health.timeout_ms, 500u);
  EXPECT_TRUE(cmd.backends.empty());

  const VipConfig& http = c.vips[2];
  EXPECT_EQ(http.health.kind, HealthCheckKind::Http);
  EXPECT_EQ(http.health.http_path, "/ready");
  EXPECT_EQ(http.health.http_expect_status, 204);
  // The table is sized for far more backends than none at all.
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigDefaults, AbsentKeysKeepTheDocumentedDefaults) {
  auto config = parse(kNode + kVip + "[vip.health]\nkind = \"http\"\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const NodeConfig& node = config->node;
  EXPECT_EQ(node.dataplane, DataplaneKind::Model);
  EXPECT_EQ(node.hash_seed, 0u);
  EXPECT_EQ(node.gue_port, 6080);
  EXPECT_EQ(node.mtu, 1500);
  EXPECT_EQ(node.flow_table_entries, 1u << 20);
  EXPECT_EQ(config->timeouts.tcp_established, 300u);
  const VipConfig& vip = config->vips[0];
  EXPECT_EQ(vip.encap, ANYLB_ENCAP_IPIP);
  EXPECT_EQ(vip.table_size, 65537u);
  EXPECT_EQ(vip.min_healthy, 1u);
  EXPECT_EQ(vip.health.http_path, "/");  // http without a path checks "/"
  EXPECT_EQ(vip.health.http_expect_status, 200);
  EXPECT_EQ(vip.health.interval_ms, 2000u);
  EXPECT_EQ(vip.health.timeout_ms, 1000u);
  EXPECT_EQ(vip.backends[0].weight, 100u);
  EXPECT_EQ(vip.backends[0].state, ANYLB_BACKEND_ACTIVE);
}

TEST(ConfigDpdk, EveryFieldReachesTheConfig) {
  auto config = parse(kNode + kVip + R"([dpdk]
main_cpu = 1
worker_cpus = [0, 2]
hugepages = false
memory_mb = 128
mbufs = 4095
rx_descriptors = 512
tx_descriptors = 256
burst = 16
eal_args = ["--log-level", "lib.eal:debug"]
[[dpdk.port]]
device = "0000:03:00.0"
exception_tap = "anylb0"
[[dpdk.port]]
device = "net_af_packet1,iface=veth1"
)");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const DpdkConfig& d = config->dpdk;
  EXPECT_EQ(d.main_cpu, 1u);
  EXPECT_EQ(d.worker_cpus, (std::vector<uint32_t>{0, 2}));
  EXPECT_FALSE(d.hugepages);
  EXPECT_EQ(d.memory_mb, 128u);
  EXPECT_EQ(d.mbufs, 4095u);
  EXPECT_EQ(d.rx_descriptors, 512);
  EXPECT_EQ(d.tx_descriptors, 256);
  EXPECT_EQ(d.burst, 16);
  EXPECT_EQ(d.eal_args, (std::vector<std::string>{"--log-level", "lib.eal:debug"}));
  ASSERT_EQ(d.ports.size(), 2u);
  EXPECT_EQ(d.ports[0].device, "0000:03:00.0");
  EXPECT_EQ(d.ports[0].exception_tap, "anylb0");
  EXPECT_EQ(d.ports[1].device, "net_af_packet1,iface=veth1");
  EXPECT_EQ(d.ports[1].exception_tap, "");
}

TEST(ConfigDpdk, AbsentTableKeepsTheDocumentedDefaults) {
  auto config = parse(kNode + kVip);
  ASSERT_TRUE(config.ok()) << config.error().message;
  const DpdkConfig& d = config->dpdk;
  EXPECT_EQ(d.main_cpu, 0u);
  EXPECT_EQ(d.worker_cpus, (std::vector<uint32_t>{1}));
  EXPECT_TRUE(d.hugepages);
  EXPECT_EQ(d.burst, 32);
  EXPECT_TRUE(d.ports.empty());
}

TEST(ConfigWarnings, SmallTableIsAWarningNotAnError) {
  auto config = parse(kNode +
                      "[[vip]]\nname = \"web\"\naddress = \"192.0.2.10\"\n"
                      "protocol = \"tcp\"\ntable_size = 101\n"
                      "[[vip.backend]]\naddress = \"10.1.0.1\"\n"
                      "[[vip.backend]]\naddress = \"10.1.0.2\"\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_EQ(config->warnings[0],
            "cfg.toml:6: vip 'web': table_size 101 is below 100 x 2 backends; load will spread "
            "unevenly (try 211)");
}

TEST(ConfigVips, PortlessVipBesideAPortVipIsAllowed) {
  auto config = parse(kNode + kVip +
                      "[[vip]]\nname = \"web-any\"\naddress = \"192.0.2.10\"\nprotocol = \"tcp\"\n"
                      "[[vip.backend]]\naddress = \"10.1.0.2\"\n"
                      // Same address and port, other protocol: a different VIP too.
                      "[[vip]]\nname = \"web-udp\"\naddress = \"192.0.2.10\"\nport = 80\n"
                      "protocol = \"udp\"\n[[vip.backend]]\naddress = \"10.1.0.3\"\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->vips.size(), 3u);
  EXPECT_EQ(config->vips[1].port, 0);
}

TEST(ConfigVips, TunnelSourcePrefixSatisfiesItsFamily) {
  auto config = parse(
      "[node]\nname = \"lb1\"\ngateway_mac = \"02:00:00:00:00:01\"\n"
      "tunnel_source_v4_prefix = \"10.99.0.0/24\"\n" +
      kVip);
  ASSERT_TRUE(config.ok()) << config.error().message;
}

TEST(ConfigValidate, RerunsOnAConfigChangedAtRunTime) {
  auto config = parse(kNode + kVip);
  ASSERT_TRUE(config.ok()) << config.error().message;
  Config changed = *config;
  BackendConfig twin = changed.vips[0].backends[0];
  twin.line = 40;
  changed.vips[0].backends.push_back(twin);
  auto result = validate_config(changed);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message,
            "cfg.toml:40: vip 'web': backend 10.1.0.1: listed twice (first at line 11)");

  changed = *config;
  changed.vips[0].table_size = 1000;
  result = validate_config(changed);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("cfg.toml:6: vip 'web': table_size: must be a prime"),
            std::string::npos);
}

// validate_config is the gate of a config changed at run time too: the health
// strings the prober sends are checked there as well, at the [vip.health] line.
TEST(ConfigValidate, RechecksTheHealthStrings) {
  auto config = parse(kNode + kVip + "[vip.health]\nkind = \"udp\"\nsend = 'ping'\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->vips[0].health.line, 13);

  Config changed = *config;
  changed.vips[0].health.udp_send = "\\q";
  auto result = validate_config(changed);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message,
            "cfg.toml:13: vip 'web': health.send: unknown escape '\\q' in '\\q'");

  changed = *config;
  changed.vips[0].health.udp_expect = "\\x";
  result = validate_config(changed);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message,
            "cfg.toml:13: vip 'web': health.expect: '\\x' must be followed by two hex digits in "
            "'\\x'");

  changed = *config;
  changed.vips[0].health.kind = HealthCheckKind::Http;
  changed.vips[0].health.udp_send.clear();
  changed.vips[0].health.http_path = "/ok HTTP/1.0\r\nHost: evil\r\n\r\n";
  result = validate_config(changed);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message,
            "cfg.toml:13: vip 'web': health.path: byte 0x20 (space) at position 4 is not allowed "
            "in an HTTP request target (RFC 3986: letters, digits, -._~!$&'()*+,;=:@/? and %HH "
            "escapes)");

  // Without a recorded line (built in code) the VIP's line stands in.
  changed.vips[0].health.line = 0;
  result = validate_config(changed);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message.rfind("cfg.toml:6: vip 'web': health.path: ", 0), 0u)
      << result.error().message;
}

TEST(ConfigHealth, RequestTargetCharactersAndEscapesAreAccepted) {
  auto config = parse(kNode + kVip +
                      "[vip.health]\nkind = \"http\"\n"
                      "path = \"/a-b._~/c%2Fd;e=(f)*+,!$&'@:x?q=1&r=%7e\"\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->vips[0].health.http_path, "/a-b._~/c%2Fd;e=(f)*+,!$&'@:x?q=1&r=%7e");

  config = parse(kNode + kVip +
                 "[vip.health]\nkind = \"udp\"\nsend = '\\x00\\x01\\r\\n\\t\\0\\\\'\n"
                 "expect = 'ok\\n'\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(decode_escapes(config->vips[0].health.udp_send).value(),
            std::string("\0\x01\r\n\t\0\\", 7));
}

TEST(ConfigHealth, SwitchedOffChecksAreNotDecoded) {
  // kind = "none" keeps the other keys as they are, unused.
  auto config = parse(kNode + kVip +
                      "[vip.health]\nkind = \"none\"\nsend = '\\q'\npath = \"/a b\"\n");
  EXPECT_TRUE(config.ok()) << config.error().message;
}

TEST(ConfigBgp, BirdProtocolNamesOnlyMatterWithBird) {
  const std::string vips =
      "[[vip]]\nname = \"web-1\"\naddress = \"192.0.2.10\"\nprotocol = \"tcp\"\n"
      "min_healthy = 0\n"
      "[[vip]]\nname = \"web_1\"\naddress = \"192.0.2.11\"\nprotocol = \"tcp\"\n"
      "min_healthy = 0\n";
  for (const char* speaker : {"none", "exabgp"}) {
    auto config = parse(kNode + vips + "[bgp]\nspeaker = \"" + speaker + "\"\n");
    EXPECT_TRUE(config.ok()) << speaker << ": " << config.error().message;
  }
  auto bird = parse(kNode + vips + "[bgp]\nspeaker = \"bird\"\n");
  ASSERT_FALSE(bird.ok());
  EXPECT_NE(bird.error().message.find("vip 'web_1': BIRD protocol 'anylb_web_1' is already vip "
                                      "'web-1''s (line 6)"),
            std::string::npos)
      << bird.error().message;

  // Names that differ in letters or digits keep their own protocols.
  auto distinct = parse(kNode +
                        "[[vip]]\nname = \"web-1\"\naddress = \"192.0.2.10\"\nprotocol = "
                        "\"tcp\"\nmin_healthy = 0\n"
                        "[[vip]]\nname = \"Web-1\"\naddress = \"192.0.2.11\"\nprotocol = "
                        "\"tcp\"\nmin_healthy = 0\n"
                        "[bgp]\nspeaker = \"bird\"\n");
  EXPECT_TRUE(distinct.ok()) << distinct.error().message;

  // A config changed at run time is checked the same way.
  Config changed = *distinct;
  changed.vips[1].name = "web.1";
  auto result = validate_config(changed);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("vip 'web.1': BIRD protocol 'anylb_web_1'"),
            std::string::npos)
      << result.error().message;
}

TEST(ConfigBgp, BirdProtocolNameMapping) {
  EXPECT_EQ(bird_protocol_name("anylb_", "web"), "anylb_web");
  EXPECT_EQ(bird_protocol_name("anylb_", "web-tls.v2"), "anylb_web_tls_v2");
  EXPECT_EQ(bird_protocol_name("", "a.b-c_D9"), "a_b_c_D9");
}

TEST(ConfigValidate, TableSizeBounds) {
  EXPECT_FALSE(is_valid_table_size(5));
  EXPECT_TRUE(is_valid_table_size(7));
  EXPECT_FALSE(is_valid_table_size(9));
  EXPECT_TRUE(is_valid_table_size(65537));
  EXPECT_TRUE(is_valid_table_size(kMaxTableSize));
  EXPECT_FALSE(is_valid_table_size(16777259));  // prime, but above the limit
}

TEST(ConfigFile, MissingFileNamesThePath) {
  const std::string path = "/nonexistent/anylb-config-test.toml";
  auto config = load_config_file(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message,
            "cannot read config file '" + path + "': No such file or directory");
}

TEST(ConfigFile, MessagesNameTheFile) {
  char path[] = "/tmp/anylb-config-testXXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = kNode + "[[vip]]\nname = \"x\"\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto config = load_config_file(path);
  unlink(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message,
            std::string(path) + ":6: vip 'x': missing required key 'address'");
}

TEST(ConfigNames, MatchTheSpellingTheParserAccepts) {
  EXPECT_STREQ(protocol_name(IPPROTO_TCP), "tcp");
  EXPECT_STREQ(protocol_name(IPPROTO_UDP), "udp");
  EXPECT_STREQ(protocol_name(IPPROTO_ICMPV6), "icmpv6");
  EXPECT_STREQ(protocol_name(IPPROTO_SCTP), "other");
  EXPECT_STREQ(encap_name(ANYLB_ENCAP_IPIP), "ipip");
  EXPECT_STREQ(encap_name(ANYLB_ENCAP_GUE), "gue");
  EXPECT_STREQ(backend_state_name(ANYLB_BACKEND_ACTIVE), "active");
  EXPECT_STREQ(backend_state_name(ANYLB_BACKEND_DRAINING), "draining");
  EXPECT_STREQ(backend_state_name(ANYLB_BACKEND_DOWN), "down");
  EXPECT_STREQ(dataplane_name(DataplaneKind::Model), "model");
  EXPECT_STREQ(dataplane_name(DataplaneKind::Xdp), "xdp");
  EXPECT_STREQ(dataplane_name(DataplaneKind::Dpdk), "dpdk");
  EXPECT_STREQ(health_check_kind_name(HealthCheckKind::Command), "command");
}

}  // namespace
}  // namespace anylb
