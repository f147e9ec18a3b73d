// The operator's config as plain values: what a TOML file says after
// validation. Nothing here knows about TOML; config_toml.cpp fills it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/core/abi.h"
#include "dataplane/core/ip_address.h"
#include "dataplane/core/result.h"

namespace anylb {

// Limits the dataplanes size their tables by; parse_config enforces them.
inline constexpr size_t kMaxVips = 4096;
inline constexpr size_t kMaxBackendsPerVip = 4096;
inline constexpr uint32_t kMinTableSize = 7;
inline constexpr uint32_t kMaxTableSize = 16777213;  // the largest prime below 2^24
// The Maglev tables of all VIPs together, in slots. A slot is a 4-byte backend
// id, so this is 256 MiB per copy, and a node holds several copies: the
// published state and the one a reload builds beside it, and with XDP both
// halves of every VIP's table in the kernel plus the loader's shadow of them
// (about 1.5 GiB at the limit). Without a cap, 4096 VIPs at the largest size
// pass per-VIP checks and then take 256 GiB per copy (bad_alloc or the OOM
// killer). 2^26 still fits four tables of the largest size, or 1024 VIPs of
// the default 65537; VIPs with few backends do well with far smaller tables.
inline constexpr uint64_t kMaxTotalTableSlots = uint64_t{1} << 26;

enum class DataplaneKind { Model, Xdp, Dpdk };

struct NodeConfig {
  std::string name;
  DataplaneKind dataplane = DataplaneKind::Model;
  std::string interface;  // required for xdp / dpdk
  MacAddress gateway_mac{};
  uint32_t hash_seed = 0;
  // Outer source address of encapsulated packets, per outer family: either one
  // address, or a prefix from which the flow hash picks one (RSS entropy on
  // backends that steer by outer source). At most one of each pair is set.
  std::optional<IpAddress> tunnel_source_v4;
  std::optional<IpPrefix> tunnel_source_v4_prefix;
  std::optional<IpAddress> tunnel_source_v6;
  std::optional<IpPrefix> tunnel_source_v6_prefix;
  uint16_t gue_port = 6080;
  uint16_t mtu = 1500;  // largest IP packet the egress link carries
  uint32_t flow_table_entries = 1u << 20;  // per core
  // A draining backend keeps its flows until they end, or until this long
  // after it started draining (then it is down); 0: no limit.
  uint32_t drain_grace_ms = 0;
};

// Idle timeouts of flow-table entries, in seconds.
struct FlowTimeouts {
  uint32_t tcp_syn = 5;
  uint32_t tcp_established = 300;
  uint32_t tcp_closing = 10;
  uint32_t udp = 30;
  uint32_t other = 30;
};

enum class HealthCheckKind { None, Tcp, Http, Udp, Command };

struct HealthCheckConfig {
  HealthCheckKind kind = HealthCheckKind::None;
  uint16_t port = 0;             // 0: the VIP's port
  uint32_t interval_ms = 2000;
  uint32_t timeout_ms = 1000;
  uint32_t rise = 2;             // consecutive successes to become healthy
  uint32_t fall = 3;             // consecutive failures to become unhealthy
  std::string http_path = "/";   // kind = http
  uint16_t http_expect_status = 200;
  std::string udp_send;          // kind = udp: payload sent (hex escapes allowed)
  std::string udp_expect;        // kind = udp: the reply must contain this
  std::string command;           // kind = command: run with the backend address as $1
  int line = 0;                  // the [vip.health] header, for later messages; 0: none
};

struct BackendConfig {
  IpAddress address;
  uint32_t weight = 100;
  anylb_backend_state state = ANYLB_BACKEND_ACTIVE;  // operator override
  int line = 0;  // where it was declared, for later messages
};

struct VipConfig {
  std::string name;
  IpAddress address;
  uint16_t port = 0;   // 0: every port of the protocol
  uint8_t protocol = 0;  // IPPROTO_TCP or IPPROTO_UDP
  anylb_encap encap = ANYLB_ENCAP_IPIP;
  uint32_t table_size = 65537;  // Maglev M, prime
  uint32_t min_healthy = 1;
  HealthCheckConfig health;
  std::vector<BackendConfig> backends;
  int line = 0;
};

// One port the DPDK fast path owns, and the kernel interface that mirrors it.
struct DpdkPortConfig {
  // A PCI address ("0000:03:00.0") or a vdev string ("net_af_xdp0,iface=eth1").
  std::string device;
  // Name of a kernel TAP interface that gets the port's non-VIP traffic (ARP,
  // ND, BGP, ICMP to the node) and whose output leaves by the port; empty:
  // none (for net_af_packet, whose interface the kernel still sees).
  std::string exception_tap;
  int line = 0;
};

// [dpdk]: the EAL and ports of `dataplane = "dpdk"`.
struct DpdkConfig {
  uint32_t main_cpu = 0;                 // CPU of the control (main) lcore
  std::vector<uint32_t> worker_cpus{1};  // one worker lcore per entry
  bool hugepages = true;                 // false: --no-huge (slower mbuf alloc/free)
  uint32_t memory_mb = 512;
  uint32_t mbufs = 16383;                // mbuf pool size, all ports together
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  uint16_t burst = 32;                   // frames per receive burst
  std::vector<std::string> eal_args;     // appended to the EAL command line verbatim
  // Empty: one net_af_packet port on node.interface.
  std::vector<DpdkPortConfig> ports;
};

enum class SpeakerKind { None, Bird, ExaBgp };

// [bgp]: how anylbd announces and withdraws the VIP routes.
struct BgpConfig {
  SpeakerKind speaker = SpeakerKind::None;
  std::string bird_socket = "/run/bird/bird.ctl";
  std::string protocol_prefix = "anylb_";  // BIRD: static protocol per VIP, prefix + name
  std::string exabgp_pipe = "-";           // ExaBGP: "-" = stdout (anylbd as its process)
  uint32_t announce_hold_ms = 10'000;      // healthy this long before re-announcing
  uint32_t retry_ms = 2'000;               // speaker unreachable: retry after
  uint32_t shutdown_grace_ms = 5'000;      // withdraw, wait this long, then stop
};

// [api]: the admin API.
struct ApiConfig {
  std::string socket = "/run/anylb/anylbd.sock";  // Unix socket, mode 0600
  uint16_t tcp_port = 0;  // also on 127.0.0.1:port (and [::1]); 0: no TCP
};

struct Config {
  std::string source;  // file name (or "<embedded>") used in messages
  NodeConfig node;
  BgpConfig bgp;
  ApiConfig api;
  DpdkConfig dpdk;
  FlowTimeouts timeouts;
  std::vector<VipConfig> vips;
  std::vector<std::string> warnings;  // e.g. table size < 100 x backends
};

// Parses and validates TOML text. `source` names the input in every message,
// which reads "FILE:LINE: vip 'dns': backend 10.1.0.300: not an IP address".
Result<Config> parse_config(std::string_view toml_text, std::string_view source);

// The checks that span fields, VIPs and the node: duplicate VIPs and backends,
// backend vs VIP family, tunnel sources for the backends' families,
// min_healthy vs backend count, limits (per VIP and over all VIPs: Maglev
// slots, backends), BIRD protocol names, and the health strings the prober
// sends (escapes, HTTP path). parse_config runs it; the control
// plane can re-run it after changing a config at run time. Replaces
// config.warnings.
Result<Config> validate_config(Config config);

// Maglev needs a prime table size (every backend's permutation must visit
// every slot); true for primes in kMinTableSize..kMaxTableSize.
bool is_valid_table_size(uint64_t size);

// `\xHH`, `\n`, `\r`, `\t`, `\\` and `\0` in a config string (health.send,
// health.expect) -> bytes. Errors name the offending escape. The reader checks
// the strings with it and the health monitor decodes them with it, so a
// payload the config accepts is one the checker can send.
Result<std::string> decode_escapes(const std::string& text);

// health.path goes verbatim into the HTTP probe's request line ("GET <path>
// HTTP/1.0"), so it must be an RFC 3986 origin-form request target: '/', then
// only letters, digits, -._~!$&'()*+,;=:@/? and %HH escapes. No space, CR, LF
// or other control byte (they would end the request line early or add
// headers), no '#' (a fragment is never sent) and no byte above 0x7e. The
// error names the offending byte and its position.
Result<bool> check_http_path(std::string_view path);

// The BIRD protocol that stands for a VIP: `prefix` + the VIP's name, with
// every character BIRD does not allow in a symbol (anything but ASCII letters,
// digits and '_') turned into '_'. BirdSpeaker drives exactly this name, and
// validate_config rejects two VIPs that map to the same one (`web-1`, `web.1`,
// `web_1`), which would otherwise withdraw each other's route. It lives here,
// inline, because control/config is the lower layer: control/announce (built
// after it) only includes this header, and the validator cannot link announce.
inline std::string bird_protocol_name(std::string_view prefix, std::string_view vip) {
  std::string name;
  name.reserve(prefix.size() + vip.size());
  name.append(prefix);
  name.append(vip);
  for (char& c : name) {
    const bool symbol_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '_';
    if (!symbol_char) c = '_';
  }
  return name;
}

// Reads a file and parses it; an unreadable file is an error naming the path.
Result<Config> load_config_file(const std::string& path);

// The default config shipped in config/default.toml, compiled in.
std::string_view embedded_default_config();

// The config at `path`, or the embedded default when path is empty (the
// tools' and daemons' --config convention).
Result<Config> load_config_or_default(const std::string& path);

const char* protocol_name(uint8_t protocol);
const char* encap_name(anylb_encap encap);
const char* backend_state_name(anylb_backend_state state);
const char* dataplane_name(DataplaneKind kind);
const char* health_check_kind_name(HealthCheckKind kind);
const char* speaker_kind_name(SpeakerKind kind);

}  // namespace anylb
