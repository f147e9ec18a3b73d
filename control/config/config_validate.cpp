// The checks that need more than one field: they run on plain values (with the
// lines the reader recorded), so a config changed at run time gets the same
// scrutiny as one read from a file.
#include <cstdio>
#include <map>
#include <tuple>

#include "control/config/config.h"
#include "dataplane/core/forwarding_state.h"

namespace anylb {

bool is_valid_table_size(uint64_t size) {
  if (size < kMinTableSize || size > kMaxTableSize) return false;
  if (size % 2 == 0) return false;
  for (uint64_t d = 3; d * d <= size; d += 2) {
    if (size % d == 0) return false;
  }
  return true;
}

Result<std::string> decode_escapes(const std::string& t) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '\\') {
      out += t[i];
      continue;
    }
    if (i + 1 >= t.size()) return make_error("'\\' at the end of '" + t + "'");
    const char c = t[++i];
    switch (c) {
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case 'x': {
        auto hex = [](char h) -> int {
          if (h >= '0' && h <= '9') return h - '0';
          if (h >= 'a' && h <= 'f') return h - 'a' + 10;
          if (h >= 'A' && h <= 'F') return h - 'A' + 10;
          return -1;
        };
        if (i + 2 >= t.size() || hex(t[i + 1]) < 0 || hex(t[i + 2]) < 0) {
          return make_error("'\\x' must be followed by two hex digits in '" + t + "'");
        }
        out += static_cast<char>(hex(t[i + 1]) * 16 + hex(t[i + 2]));
        i += 2;
        break;
      }
      default:
        return make_error(std::string("unknown escape '\\") + c + "' in '" + t + "'");
    }
  }
  return out;
}

namespace {

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 pchar (unreserved, sub-delims, ':' and '@') plus the '/' of path
// segments and the '?' of the query; '%' is checked apart (it must start %HH).
bool is_request_target_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  constexpr std::string_view kOthers = "-._~!$&'()*+,;=:@/?";
  return kOthers.find(c) != std::string_view::npos;
}

// A byte as a message shows it: printable ones quoted, the rest in hex (raw,
// a CR or LF would break the message itself).
std::string describe_byte(char c) {
  const auto b = static_cast<unsigned char>(c);
  if (b > 0x20 && b < 0x7f) return std::string("'") + c + "'";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", b);
  std::string text = std::string("byte ") + hex;
  switch (b) {
    case 0x00: return text + " (NUL)";
    case 0x09: return text + " (tab)";
    case 0x0a: return text + " (LF)";
    case 0x0d: return text + " (CR)";
    case 0x20: return text + " (space)";
    case 0x7f: return text + " (DEL)";
    default: return text;
  }
}

}  // namespace

Result<bool> check_http_path(std::string_view path) {
  // The characters first: a path with a CR in it is not echoed below.
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    const std::string at = " at position " + std::to_string(i + 1);
    if (c == '%') {
      if (i + 2 >= path.size() || !is_hex_digit(path[i + 1]) || !is_hex_digit(path[i + 2])) {
        return make_error("'%'" + at + " must start a %HH escape (two hex digits)");
      }
      i += 2;
      continue;
    }
    if (!is_request_target_char(c)) {
      return make_error(describe_byte(c) + at +
                        " is not allowed in an HTTP request target (RFC 3986: letters, digits, "
                        "-._~!$&'()*+,;=:@/? and %HH escapes)");
    }
  }
  if (path.empty() || path.front() != '/') {
    return make_error("'" + std::string(path) + "' must start with '/'");
  }
  return true;
}

namespace {

std::string vip_endpoint(const VipConfig& vip) {
  // Appends rather than "[" + str: g++ 12 -O3 warns falsely (-Wrestrict) on that.
  std::string text;
  if (vip.address.is_v6()) text += '[';
  text += vip.address.to_string();
  if (vip.address.is_v6()) text += ']';
  text += ':';
  text += vip.port == 0 ? std::string("*") : std::to_string(vip.port);
  text += '/';
  text += protocol_name(vip.protocol);
  return text;
}

}  // namespace

Result<Config> validate_config(Config config) {
  const auto at = [&](int line, const std::string& what) {
    return make_error(config.source + ":" + std::to_string(line) + ": " + what);
  };
  const NodeConfig& node = config.node;
  const bool has_v4_source = node.tunnel_source_v4 || node.tunnel_source_v4_prefix;
  const bool has_v6_source = node.tunnel_source_v6 || node.tunnel_source_v6_prefix;

  if (config.vips.size() > kMaxVips) {
    return at(config.vips[kMaxVips].line,
              "too many VIPs: at most " + std::to_string(kMaxVips) + " per config");
  }
  config.warnings.clear();
  std::map<std::string, const VipConfig*> by_name;
  std::map<std::tuple<IpAddress, uint16_t, uint8_t>, const VipConfig*> by_endpoint;
  std::map<std::string, const VipConfig*> by_bird_protocol;
  uint64_t total_slots = 0;   // Maglev slots of the VIPs so far
  size_t total_backends = 0;  // backends of the VIPs so far
  for (const VipConfig& vip : config.vips) {
    const std::string label = "vip '" + vip.name + "'";
    if (auto [it, fresh] = by_name.emplace(vip.name, &vip); !fresh) {
      return at(vip.line, label + ": name already used by the VIP at line " +
                              std::to_string(it->second->line));
    }
    // A port-less VIP beside port VIPs on the same address is fine: the
    // dataplane prefers the exact port and falls back to the port-less one.
    if (auto [it, fresh] =
            by_endpoint.emplace(std::tuple(vip.address, vip.port, vip.protocol), &vip);
        !fresh) {
      return at(vip.line, label + ": " + vip_endpoint(vip) + " is already vip '" +
                              it->second->name + "' (line " + std::to_string(it->second->line) +
                              ")");
    }
    if (!is_valid_table_size(vip.table_size)) {
      return at(vip.line, label + ": table_size: must be a prime in " +
                              std::to_string(kMinTableSize) + ".." + std::to_string(kMaxTableSize) +
                              " (got " + std::to_string(vip.table_size) + ")");
    }
    // Each table fits on its own; all of them together must fit in memory too
    // (kMaxTotalTableSlots says why this bound).
    total_slots += vip.table_size;
    if (total_slots > kMaxTotalTableSlots) {
      return at(vip.line, label + ": table_size " + std::to_string(vip.table_size) +
                              " brings the Maglev tables of the VIPs so far to " +
                              std::to_string(total_slots) + " slots, more than the " +
                              std::to_string(kMaxTotalTableSlots) +
                              " allowed over all VIPs; give VIPs with few backends smaller "
                              "tables (100 x the backends is enough)");
    }
    if (vip.backends.size() > kMaxBackendsPerVip) {
      return at(vip.backends[kMaxBackendsPerVip].line, label + ": too many backends: at most " +
                                                           std::to_string(kMaxBackendsPerVip) +
                                                           " per VIP");
    }
    // The state build numbers the backends of all VIPs together and refuses
    // more ids than the fast paths' arrays hold; the same limit here, at the
    // first backend past it. total_backends never exceeds it (we stop here).
    if (vip.backends.size() > kMaxBackendIds - total_backends) {
      const BackendConfig& first_over = vip.backends[kMaxBackendIds - total_backends];
      return at(first_over.line,
                label + ": too many backends over all VIPs: " +
                    std::to_string(total_backends + vip.backends.size()) +
                    " with this VIP's " + std::to_string(vip.backends.size()) + ", at most " +
                    std::to_string(kMaxBackendIds));
    }
    total_backends += vip.backends.size();
    // BirdSpeaker enables and disables the protocol named after the VIP; two
    // VIPs on one protocol would announce and withdraw each other's route.
    if (config.bgp.speaker == SpeakerKind::Bird) {
      const std::string protocol = bird_protocol_name(config.bgp.protocol_prefix, vip.name);
      if (auto [it, fresh] = by_bird_protocol.emplace(protocol, &vip); !fresh) {
        return at(vip.line, label + ": BIRD protocol '" + protocol + "' is already vip '" +
                                it->second->name + "''s (line " +
                                std::to_string(it->second->line) +
                                "): characters other than letters, digits and '_' become '_'; "
                                "rename one of the two");
      }
    }
    // What the prober sends: the reader checked these at their keys' lines; a
    // config changed at run time gets the same checks, reported at [vip.health].
    // The health monitor decodes the escapes of every kind but none.
    const HealthCheckConfig& health = vip.health;
    const int health_line = health.line != 0 ? health.line : vip.line;
    if (health.kind != HealthCheckKind::None) {
      if (auto send = decode_escapes(health.udp_send); !send) {
        return at(health_line, label + ": health.send: " + send.error().message);
      }
      if (auto expect = decode_escapes(health.udp_expect); !expect) {
        return at(health_line, label + ": health.expect: " + expect.error().message);
      }
    }
    if (health.kind == HealthCheckKind::Http) {
      if (auto path = check_http_path(health.http_path); !path) {
        return at(health_line, label + ": health.path: " + path.error().message);
      }
    }

    std::map<IpAddress, int> backend_lines;
    for (const BackendConfig& b : vip.backends) {
      const std::string backend = label + ": backend " + b.address.to_string();
      if (auto [it, fresh] = backend_lines.emplace(b.address, b.line); !fresh) {
        return at(b.line,
                  backend + ": listed twice (first at line " + std::to_string(it->second) + ")");
      }
      if (vip.address.is_v6() && b.address.is_v4()) {
        return at(b.line, backend +
                              ": an IPv6 VIP cannot be carried to an IPv4 backend "
                              "(no IPv6-in-IPv4 encapsulation); use the backend's IPv6 address");
      }
      if (b.address.is_v4() && !has_v4_source) {
        return at(b.line, backend +
                              ": an IPv4 backend needs node.tunnel_source_v4 or "
                              "node.tunnel_source_v4_prefix (the outer source address)");
      }
      if (b.address.is_v6() && !has_v6_source) {
        return at(b.line, backend +
                              ": an IPv6 backend needs node.tunnel_source_v6 or "
                              "node.tunnel_source_v6_prefix (the outer source address)");
      }
      if (b.weight > 65535) {
        return at(b.line, backend + ": weight: must be an integer 0..65535 (got " +
                              std::to_string(b.weight) + ")");
      }
    }

    if (vip.backends.empty() && vip.min_healthy > 0) {
      return at(vip.line, label + ": has no backends but min_healthy is " +
                              std::to_string(vip.min_healthy) +
                              "; add [[vip.backend]] entries or set min_healthy = 0");
    }
    if (vip.min_healthy > vip.backends.size()) {
      return at(vip.line, label + ": min_healthy " + std::to_string(vip.min_healthy) +
                              " exceeds the number of backends (" +
                              std::to_string(vip.backends.size()) +
                              "), so the VIP could never "
                              "be healthy");
    }
    // Maglev's disruption and balance bounds assume M >> N; below 100 x N a
    // backend's share of the table can differ from its weight by several percent.
    if (vip.table_size < 100 * vip.backends.size()) {
      uint64_t suggested = 100 * vip.backends.size();
      while (suggested < kMaxTableSize && !is_valid_table_size(suggested)) ++suggested;
      config.warnings.push_back(config.source + ":" + std::to_string(vip.line) + ": " + label +
                                ": table_size " + std::to_string(vip.table_size) +
                                " is below 100 x " + std::to_string(vip.backends.size()) +
                                " backends; load will spread unevenly (try " +
                                std::to_string(suggested) + ")");
    }
  }
  return config;
}

}  // namespace anylb
