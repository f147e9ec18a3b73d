#include "dataplane/dpdk/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>

#include <cctype>
#include <string_view>

namespace anylb::dpdk {

std::vector<std::string> eal_arguments(const EalOptions& o) {
  std::string lcores = "0@" + std::to_string(o.main_cpu);
  for (size_t i = 0; i < o.worker_cpus.size(); ++i) {
    lcores += "," + std::to_string(i + 1) + "@" + std::to_string(o.worker_cpus[i]);
  }
  std::vector<std::string> args = {"anylb", "--lcores", lcores, "--main-lcore", "0",
                                   "--no-telemetry"};
  if (o.hugepages) {
    args.push_back("--in-memory");
  } else {
    args.insert(args.end(), {"--no-huge", "-m", std::to_string(o.memory_mb), "--no-shconf"});
  }
  if (!o.pci) args.push_back("--no-pci");
  args.insert(args.end(), o.extra.begin(), o.extra.end());
  return args;
}

Result<bool> init_eal(const EalOptions& options) {
  std::vector<std::string> args = eal_arguments(options);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    std::string line;
    for (const std::string& a : args) line += (line.empty() ? "" : " ") + a;
    return make_error("DPDK EAL init failed (" + std::string(rte_strerror(rte_errno)) +
                      "); arguments: " + line);
  }
  return true;
}

bool is_pci_address(const std::string& device) {
  // Devargs follow the first comma ("0000:03:00.0,txq_inline=128"), as
  // find_or_probe_port reads the name.
  const std::string_view address = std::string_view(device).substr(0, device.find(','));
  // BB:DD.F with an optional DDDD: domain in front; hex digits only.
  size_t colons = 0, dots = 0;
  for (char c : address) {
    if (c == ':') {
      ++colons;
    } else if (c == '.') {
      ++dots;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return (colons == 1 || colons == 2) && dots == 1 && address.back() != '.';
}

}  // namespace anylb::dpdk
