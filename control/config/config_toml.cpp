// TOML text -> Config. Each reader below turns one table into plain values
// and checks what a single field can say about itself (type, range,
// spelling); checks that span fields or VIPs live in config_validate.cpp.
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "control/config/config.h"
#include "control/config/toml_reader.h"

namespace anylb {

namespace embedded {
// Generated from config/default.toml by scripts/embed_file.py.
extern const std::string_view default_config_toml;
}  // namespace embedded

namespace {

using toml_reader::line_of;
using toml_reader::NamedValue;
using toml_reader::Reader;
using toml_reader::Scope;

// One table per enum, shared by the parser and the *_name functions so the
// spelling accepted is the spelling printed.
constexpr NamedValue<DataplaneKind> kDataplanes[] = {
    {"model", DataplaneKind::Model}, {"xdp", DataplaneKind::Xdp}, {"dpdk", DataplaneKind::Dpdk}};
constexpr NamedValue<uint8_t> kProtocols[] = {{"tcp", IPPROTO_TCP}, {"udp", IPPROTO_UDP}};
constexpr NamedValue<anylb_encap> kEncaps[] = {{"ipip", ANYLB_ENCAP_IPIP},
                                               {"gue", ANYLB_ENCAP_GUE}};
constexpr NamedValue<anylb_backend_state> kBackendStates[] = {{"active", ANYLB_BACKEND_ACTIVE},
                                                              {"draining", ANYLB_BACKEND_DRAINING},
                                                              {"down", ANYLB_BACKEND_DOWN}};
constexpr NamedValue<SpeakerKind> kSpeakers[] = {
    {"none", SpeakerKind::None}, {"bird", SpeakerKind::Bird}, {"exabgp", SpeakerKind::ExaBgp}};
constexpr NamedValue<HealthCheckKind> kHealthKinds[] = {{"none", HealthCheckKind::None},
                                                        {"tcp", HealthCheckKind::Tcp},
                                                        {"http", HealthCheckKind::Http},
                                                        {"udp", HealthCheckKind::Udp},
                                                        {"command", HealthCheckKind::Command}};

constexpr std::string_view kVipKeys[] = {"name",       "address",     "port",   "protocol", "encap",
                                         "table_size", "min_healthy", "health", "backend"};

template <typename E, size_t N>
const char* name_of(const NamedValue<E> (&choices)[N], E value, const char* unknown) {
  for (const auto& c : choices) {
    if (c.value == value) return c.name;
  }
  return unknown;
}

// The schema: which tables and keys a config has and what each may hold.
class ConfigReader : public Reader {
 public:
  using Reader::Reader;
  bool read_document(const toml::table& doc, Config& config);

 private:
  bool read_node(const Scope& s, NodeConfig& node);
  bool read_timeouts(const Scope& s, FlowTimeouts& timeouts);
  bool read_dpdk(const Scope& s, DpdkConfig& dpdk);
  bool read_bgp(const Scope& s, BgpConfig& bgp);
  bool read_api(const Scope& s, ApiConfig& api);
  bool read_dpdk_port(const toml::table& t, size_t index, DpdkPortConfig& port);
  bool read_vip(const toml::table& t, size_t index, VipConfig& vip);
  bool read_health(const Scope& s, const VipConfig& vip, HealthCheckConfig& health);
  bool read_backend(const toml::table& t, const std::string& vip_label, size_t index,
                    BackendConfig& backend);
};

bool ConfigReader::read_document(const toml::table& doc, Config& config) {
  const Scope top{doc, "", "", 1};
  if (!check_keys(top, {"node", "timeouts", "bgp", "api", "dpdk", "vip"})) return false;

  const toml::table* node = nullptr;
  if (!read_table(top, "node", "[node]", node)) return false;
  if (node == nullptr) return fail(1, "missing table [node]");
  if (!read_node({*node, "node", ".", line_of(*node)}, config.node)) return false;

  const toml::table* timeouts = nullptr;
  if (!read_table(top, "timeouts", "[timeouts]", timeouts)) return false;
  if (timeouts != nullptr &&
      !read_timeouts({*timeouts, "timeouts", ".", line_of(*timeouts)}, config.timeouts)) {
    return false;
  }

  const toml::table* bgp = nullptr;
  if (!read_table(top, "bgp", "[bgp]", bgp)) return false;
  if (bgp != nullptr && !read_bgp({*bgp, "bgp", ".", line_of(*bgp)}, config.bgp)) return false;
  const toml::table* api = nullptr;
  if (!read_table(top, "api", "[api]", api)) return false;
  if (api != nullptr && !read_api({*api, "api", ".", line_of(*api)}, config.api)) return false;

  const toml::table* dpdk = nullptr;
  if (!read_table(top, "dpdk", "[dpdk]", dpdk)) return false;
  if (dpdk != nullptr && !read_dpdk({*dpdk, "dpdk", ".", line_of(*dpdk)}, config.dpdk)) {
    return false;
  }

  std::vector<const toml::table*> vips;
  if (!read_tables(top, "vip", "[[vip]]", vips)) return false;
  for (size_t i = 0; i < vips.size(); ++i) {
    if (i == kMaxVips) {
      return fail(line_of(*vips[i]),
                  "too many VIPs: at most " + std::to_string(kMaxVips) + " per config");
    }
    config.vips.emplace_back();
    if (!read_vip(*vips[i], i, config.vips.back())) return false;
  }
  return true;
}

bool ConfigReader::read_node(const Scope& s, NodeConfig& node) {
  if (!check_keys(s, {"name", "dataplane", "interface", "gateway_mac", "hash_seed",
                      "tunnel_source_v4", "tunnel_source_v4_prefix", "tunnel_source_v6",
                      "tunnel_source_v6_prefix", "gue_port", "mtu", "flow_table_entries",
                      "drain_grace"})) {
    return false;
  }
  if (!require(s, "name") || !read_string(s, "name", node.name)) return false;
  if (!read_choice(s, "dataplane", node.dataplane, kDataplanes)) return false;
  if (node.dataplane != DataplaneKind::Model &&
      !require(s, "interface",
               std::string(" (dataplane '") + dataplane_name(node.dataplane) + "' needs it)")) {
    return false;
  }
  if (!read_string(s, "interface", node.interface)) return false;
  if (node.interface.size() > 15) {  // IFNAMSIZ - 1
    return fail(s.line_of_key("interface"),
                s.field("interface") + ": '" + node.interface +
                    "' is longer than an interface name can be (15 characters)");
  }

  if (!require(s, "gateway_mac") || !read_mac(s, "gateway_mac", node.gateway_mac)) return false;

  if (!read_integer(s, "hash_seed", node.hash_seed, 0, UINT32_MAX)) return false;
  for (const uint8_t family : {4, 6}) {
    const std::string key = "tunnel_source_v" + std::to_string(family);
    auto& address = family == 4 ? node.tunnel_source_v4 : node.tunnel_source_v6;
    auto& prefix = family == 4 ? node.tunnel_source_v4_prefix : node.tunnel_source_v6_prefix;
    if (!read_address(s, key, address, family) ||
        !read_prefix(s, key + "_prefix", prefix, family)) {
      return false;
    }
    if (address && prefix) {
      return fail(s.line_of_key(key + "_prefix"), s.field(key + "_prefix") + ": set only one of " +
                                                      key + " and " + key + "_prefix");
    }
  }
  if (!read_integer(s, "gue_port", node.gue_port, 1, 65535) ||
      !read_integer(s, "mtu", node.mtu, 1280, 9216)) {
    return false;
  }
  // The flow table indexes by hash & (size - 1).
  constexpr int64_t kMaxFlows = int64_t{1} << 28;
  if (!read_integer(s, "flow_table_entries", node.flow_table_entries, 1024, kMaxFlows) ||
      !read_duration_ms(s, "drain_grace", node.drain_grace_ms)) {
    return false;
  }
  if ((node.flow_table_entries & (node.flow_table_entries - 1)) != 0) {
    return fail(s.line_of_key("flow_table_entries"),
                s.field("flow_table_entries") + ": must be a power of two (got " +
                    std::to_string(node.flow_table_entries) + ")");
  }
  return true;
}

bool ConfigReader::read_timeouts(const Scope& s, FlowTimeouts& t) {
  constexpr int64_t kDay = 86400;
  return check_keys(s, {"tcp_syn", "tcp_established", "tcp_closing", "udp", "other"}) &&
         read_integer(s, "tcp_syn", t.tcp_syn, 1, kDay, " seconds") &&
         read_integer(s, "tcp_established", t.tcp_established, 1, kDay, " seconds") &&
         read_integer(s, "tcp_closing", t.tcp_closing, 1, kDay, " seconds") &&
         read_integer(s, "udp", t.udp, 1, kDay, " seconds") &&
         read_integer(s, "other", t.other, 1, kDay, " seconds");
}

bool ConfigReader::read_bgp(const Scope& s, BgpConfig& b) {
  if (!check_keys(s, {"speaker", "bird_socket", "protocol_prefix", "exabgp_pipe", "announce_hold",
                      "retry", "shutdown_grace"}) ||
      !read_choice(s, "speaker", b.speaker, kSpeakers) ||
      !read_string(s, "bird_socket", b.bird_socket) ||
      !read_string(s, "protocol_prefix", b.protocol_prefix, true) ||
      !read_string(s, "exabgp_pipe", b.exabgp_pipe) ||
      !read_duration_ms(s, "announce_hold", b.announce_hold_ms) ||
      !read_duration_ms(s, "retry", b.retry_ms) ||
      !read_duration_ms(s, "shutdown_grace", b.shutdown_grace_ms)) {
    return false;
  }
  for (char c : b.protocol_prefix) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return fail(s.line_of_key("protocol_prefix"),
                  s.field("protocol_prefix") + ": '" + b.protocol_prefix +
                      "' may hold only letters, digits and '_' (a BIRD symbol)");
    }
  }
  return true;
}

bool ConfigReader::read_api(const Scope& s, ApiConfig& a) {
  if (!check_keys(s, {"socket", "tcp_port"}) || !read_string(s, "socket", a.socket) ||
      !read_integer(s, "tcp_port", a.tcp_port, 0, 65535)) {
    return false;
  }
  if (a.socket.size() > 107) {  // sizeof(sockaddr_un.sun_path) - 1
    return fail(s.line_of_key("socket"), s.field("socket") + ": longer than 107 characters");
  }
  return true;
}

bool ConfigReader::read_dpdk(const Scope& s, DpdkConfig& d) {
  // RTE_MAX_LCORE is 128 in Debian's build; one lcore is the main one.
  constexpr int64_t kMaxCpu = 127;
  if (!check_keys(s, {"main_cpu", "worker_cpus", "hugepages", "memory_mb", "mbufs",
                      "rx_descriptors", "tx_descriptors", "burst", "eal_args", "port"}) ||
      !read_integer(s, "main_cpu", d.main_cpu, 0, kMaxCpu) ||
      !read_integer_list(s, "worker_cpus", d.worker_cpus, 0, kMaxCpu) ||
      !read_bool(s, "hugepages", d.hugepages) ||
      !read_integer(s, "memory_mb", d.memory_mb, 64, 1 << 20, " MiB") ||
      !read_integer(s, "mbufs", d.mbufs, 1024, 1 << 24) ||
      !read_integer(s, "rx_descriptors", d.rx_descriptors, 64, 16384) ||
      !read_integer(s, "tx_descriptors", d.tx_descriptors, 64, 16384) ||
      !read_integer(s, "burst", d.burst, 1, 32) || !read_string_list(s, "eal_args", d.eal_args)) {
    return false;
  }
  if (d.worker_cpus.size() > 64) {
    return fail(s.line_of_key("worker_cpus"), s.field("worker_cpus") + ": at most 64 workers");
  }
  for (size_t i = 0; i < d.worker_cpus.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (d.worker_cpus[i] == d.worker_cpus[j]) {
        // Two pollers on one CPU take turns by the scheduler's tick.
        return fail(s.line_of_key("worker_cpus"),
                    s.field("worker_cpus") + ": CPU " + std::to_string(d.worker_cpus[i]) +
                        " is listed twice (one worker per CPU)");
      }
    }
  }
  std::vector<const toml::table*> ports;
  if (!read_tables(s, "port", "[[dpdk.port]]", ports)) return false;
  for (size_t i = 0; i < ports.size(); ++i) {
    DpdkPortConfig port;
    if (!read_dpdk_port(*ports[i], i, port)) return false;
    for (const DpdkPortConfig& other : d.ports) {
      const auto name = [](const std::string& device) { return device.substr(0, device.find(',')); };
      if (name(other.device) == name(port.device)) {
        return fail(port.line, "dpdk: port #" + std::to_string(i + 1) + ": device '" +
                                   name(port.device) + "' is already the port at line " +
                                   std::to_string(other.line));
      }
      if (!port.exception_tap.empty() && other.exception_tap == port.exception_tap) {
        return fail(port.line, "dpdk: port #" + std::to_string(i + 1) + ": exception_tap '" +
                                   port.exception_tap + "' is already the port at line " +
                                   std::to_string(other.line) + "'s");
      }
    }
    d.ports.push_back(std::move(port));
  }
  return true;
}

bool ConfigReader::read_dpdk_port(const toml::table& t, size_t index, DpdkPortConfig& port) {
  port.line = line_of(t);
  const Scope s{t, "dpdk: port #" + std::to_string(index + 1), ": ", port.line};
  if (!check_keys(s, {"device", "exception_tap"}) || !require(s, "device") ||
      !read_string(s, "device", port.device) ||
      !read_string(s, "exception_tap", port.exception_tap, true)) {
    return false;
  }
  if (port.exception_tap.size() > 15) {
    return fail(s.line_of_key("exception_tap"),
                s.field("exception_tap") + ": '" + port.exception_tap +
                    "' is longer than an interface name can be (15 characters)");
  }
  return true;
}

bool ConfigReader::read_vip(const toml::table& t, size_t index, VipConfig& vip) {
  vip.line = line_of(t);
  // Until the name is known the VIP goes by its position.
  Scope s{t, "vip #" + std::to_string(index + 1), ": ", vip.line};
  if (!require(s, "name") || !read_string(s, "name", vip.name)) return false;
  const bool name_ok =
      vip.name.size() <= 64 && std::all_of(vip.name.begin(), vip.name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
      });
  if (!name_ok) {
    // Names end up in metric labels and CLI arguments.
    return fail(s.line_of_key("name"), s.field("name") + ": '" + vip.name +
                                           "' must be at most 64 letters, digits, '-', '_' or '.'");
  }
  s.label = "vip '" + vip.name + "'";

  if (!check_keys(s, kVipKeys)) return false;
  std::optional<IpAddress> address;
  if (!require(s, "address") || !read_address(s, "address", address)) return false;
  vip.address = *address;
  if (!require(s, "protocol") || !read_choice(s, "protocol", vip.protocol, kProtocols) ||
      !read_integer(s, "port", vip.port, 0, 65535) ||
      !read_choice(s, "encap", vip.encap, kEncaps) ||
      !read_integer(s, "min_healthy", vip.min_healthy, 0, int64_t{kMaxBackendsPerVip})) {
    return false;
  }
  if (!read_integer(s, "table_size", vip.table_size, 0, UINT32_MAX)) return false;
  if (!is_valid_table_size(vip.table_size)) {
    std::string message = s.field("table_size") + ": must be a prime in " +
                          std::to_string(kMinTableSize) + ".." + std::to_string(kMaxTableSize) +
                          " (got " + std::to_string(vip.table_size);
    uint64_t next = vip.table_size;
    while (next < kMaxTableSize && !is_valid_table_size(next)) ++next;
    if (vip.table_size > kMinTableSize && vip.table_size < kMaxTableSize) {
      message += "; the next prime is " + std::to_string(next);
    }
    return fail(s.line_of_key("table_size"), message + ")");
  }

  const toml::table* health = nullptr;
  if (!read_table(s, "health", "[vip.health]", health)) return false;
  if (health != nullptr &&
      !read_health({*health, s.label + ": health", ".", line_of(*health)}, vip, vip.health)) {
    return false;
  }

  std::vector<const toml::table*> backends;
  if (!read_tables(s, "backend", "[[vip.backend]]", backends)) return false;
  for (size_t i = 0; i < backends.size(); ++i) {
    if (i == kMaxBackendsPerVip) {
      return fail(line_of(*backends[i]), s.about("too many backends: at most " +
                                                 std::to_string(kMaxBackendsPerVip) + " per VIP"));
    }
    vip.backends.emplace_back();
    if (!read_backend(*backends[i], s.label, i, vip.backends.back())) return false;
  }
  return true;
}

bool ConfigReader::read_health(const Scope& s, const VipConfig& vip, HealthCheckConfig& h) {
  h.line = s.line;
  if (!check_keys(s, {"kind", "port", "interval", "timeout", "rise", "fall", "path",
                      "expect_status", "send", "expect", "command"})) {
    return false;
  }
  if (!require(s, "kind", " (one of " + toml_reader::choice_list(kHealthKinds) + ")") ||
      !read_choice(s, "kind", h.kind, kHealthKinds) || !read_integer(s, "port", h.port, 0, 65535) ||
      !read_duration_ms(s, "interval", h.interval_ms) ||
      !read_duration_ms(s, "timeout", h.timeout_ms) || !read_integer(s, "rise", h.rise, 1, 100) ||
      !read_integer(s, "fall", h.fall, 1, 100) || !read_string(s, "path", h.http_path) ||
      !read_integer(s, "expect_status", h.http_expect_status, 100, 599) ||
      !read_string(s, "send", h.udp_send) || !read_string(s, "expect", h.udp_expect, true) ||
      !read_string(s, "command", h.command)) {
    return false;
  }
  if (h.timeout_ms >= h.interval_ms) {
    return fail(s.line_of_key(s.table.contains("timeout") ? "timeout" : "interval"),
                s.field("timeout") + ": " + std::to_string(h.timeout_ms) +
                    "ms must be shorter than the interval (" + std::to_string(h.interval_ms) +
                    "ms)");
  }
  if (h.kind == HealthCheckKind::None) return true;  // the rest may stay, switched off

  // Keys of another kind are most likely a wrong `kind`, so say which kind they belong to.
  const struct {
    const char* key;
    HealthCheckKind kind;
  } kind_keys[] = {{"path", HealthCheckKind::Http},
                   {"expect_status", HealthCheckKind::Http},
                   {"send", HealthCheckKind::Udp},
                   {"expect", HealthCheckKind::Udp},
                   {"command", HealthCheckKind::Command}};
  for (const auto& k : kind_keys) {
    if (k.kind != h.kind && s.table.contains(k.key)) {
      return fail(s.line_of_key(k.key), s.field(k.key) + ": only applies to kind '" +
                                            health_check_kind_name(k.kind) + "', not '" +
                                            health_check_kind_name(h.kind) + "'");
    }
  }
  // The path goes raw into the probe's request line: a CR, LF or space there
  // would end it early or add headers (check_http_path says what is allowed).
  if (h.kind == HealthCheckKind::Http) {
    if (auto ok = check_http_path(h.http_path); !ok) {
      return fail(s.line_of_key("path"), s.field("path") + ": " + ok.error().message);
    }
  }
  // The health monitor decodes these when it starts probing; an escape it
  // cannot decode would stop anylbd there, so it is this file's error instead.
  const std::pair<const char*, const std::string*> payloads[] = {{"send", &h.udp_send},
                                                                  {"expect", &h.udp_expect}};
  for (const auto& [key, text] : payloads) {
    if (auto decoded = decode_escapes(*text); !decoded) {
      return fail(s.line_of_key(key), s.field(key) + ": " + decoded.error().message);
    }
  }
  if (h.kind == HealthCheckKind::Udp && !require(s, "send", " (the probe payload of kind 'udp')")) {
    return false;
  }
  if (h.kind == HealthCheckKind::Command &&
      !require(s, "command", " (the program kind 'command' runs)")) {
    return false;
  }
  if (h.kind != HealthCheckKind::Command && h.port == 0 && vip.port == 0) {
    return fail(s.line,
                s.field("port") + ": required because the VIP has no port (it serves every port)");
  }
  return true;
}

bool ConfigReader::read_backend(const toml::table& t, const std::string& vip_label, size_t index,
                                BackendConfig& b) {
  b.line = line_of(t);
  Scope s{t, vip_label + ": backend #" + std::to_string(index + 1), ": ", b.line};
  std::string text;
  if (!require(s, "address") || !read_string(s, "address", text)) return false;
  // Named by the text as written, so a bad address reads "backend 10.1.0.300: ...".
  s.label = vip_label + ": backend " + text;
  auto address = parse_ip_address(text);
  if (!address) return fail(s.line_of_key("address"), s.about("not an IP address"));
  b.address = *address;
  for (auto&& [key, value] : t) {
    if (key.str() == "address" || key.str() == "weight" || key.str() == "state") continue;
    if (std::find(std::begin(kVipKeys), std::end(kVipKeys), key.str()) != std::end(kVipKeys)) {
      return fail(line_of(key), s.about("unknown key '" + std::string(key.str()) +
                                        "' (a VIP key: keys below [[vip.backend]] belong to that "
                                        "backend; move it above the first [[vip.backend]])"));
    }
  }
  return check_keys(s, {"address", "weight", "state"}) &&
         read_integer(s, "weight", b.weight, 0, 65535) &&
         read_choice(s, "state", b.state, kBackendStates);
}

Result<Config> syntax_error(std::string_view source, const toml::parse_error& e) {
  return make_error(std::string(source) + ":" + std::to_string(e.source().begin.line) +
                    ": invalid TOML: " + std::string(e.description()));
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, std::string_view source) {
  // Debian builds toml++ with exceptions, where parse() throws; without them it
  // returns a parse_result. Either way a syntax error becomes an Error here.
#if TOML_EXCEPTIONS
  toml::table doc;
  try {
    doc = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return syntax_error(source, e);
  }
#else
  toml::parse_result parsed = toml::parse(toml_text, source);
  if (!parsed) return syntax_error(source, parsed.error());
  const toml::table& doc = parsed.table();
#endif
  Config config;
  config.source = source;
  ConfigReader reader(config.source);
  if (!reader.read_document(doc, config)) return reader.error();
  return validate_config(std::move(config));
}

Result<Config> load_config_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return make_error("cannot read config file '" + path + "': " + std::strerror(errno));
  }
  std::string text;
  char buf[16384];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int read_errno = errno;
  std::fclose(f);
  if (failed) {
    return make_error("cannot read config file '" + path + "': " + std::strerror(read_errno));
  }
  return parse_config(text, path);
}

std::string_view embedded_default_config() { return embedded::default_config_toml; }

Result<Config> load_config_or_default(const std::string& path) {
  return path.empty() ? parse_config(embedded_default_config(), "<embedded default>")
                      : load_config_file(path);
}

const char* protocol_name(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_ICMP: return "icmp";
    case IPPROTO_ICMPV6: return "icmpv6";
    default: return name_of(kProtocols, protocol, "other");
  }
}
const char* encap_name(anylb_encap encap) { return name_of(kEncaps, encap, "unknown"); }
const char* backend_state_name(anylb_backend_state state) {
  return name_of(kBackendStates, state, "unknown");
}
const char* dataplane_name(DataplaneKind kind) { return name_of(kDataplanes, kind, "unknown"); }
const char* speaker_kind_name(SpeakerKind kind) { return name_of(kSpeakers, kind, "unknown"); }
const char* health_check_kind_name(HealthCheckKind kind) {
  return name_of(kHealthKinds, kind, "unknown");
}

}  // namespace anylb
