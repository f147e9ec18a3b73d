// The checks that need more than one field: they run on plain values (with the
// lines the reader recorded), so a config changed at run time gets the same
// scrutiny as one read from a file.
#include <map>
#include <tuple>

#include "control/config/config.h"

namespace anylb {

bool is_valid_table_size(uint64_t size) {
  if (size < kMinTableSize || size > kMaxTableSize) return false;
  if (size % 2 == 0) return false;
  for (uint64_t d = 3; d * d <= size; d += 2) {
    if (size % d == 0) return false;
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
    if (vip.backends.size() > kMaxBackendsPerVip) {
      return at(vip.backends[kMaxBackendsPerVip].line, label + ": too many backends: at most " +
                                                           std::to_string(kMaxBackendsPerVip) +
                                                           " per VIP");
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
