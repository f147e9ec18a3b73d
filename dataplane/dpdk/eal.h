// Starting DPDK's EAL from plain options. The command line is built by a pure
// function so that what anylb asks of the EAL can be tested and printed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/core/result.h"

namespace anylb::dpdk {

struct EalOptions {
  uint32_t main_cpu = 0;
  std::vector<uint32_t> worker_cpus{1};
  bool hugepages = true;
  uint32_t memory_mb = 512;  // with hugepages: grows on demand; without: reserved up front
  bool pci = false;          // false: --no-pci (every port is a vdev)
  std::vector<std::string> extra;  // appended verbatim
};

// The EAL command line (argv[0] included). Lcore 0 is the main lcore on
// main_cpu; lcores 1..N are the workers, one per worker_cpus entry, so that
// the main lcore may share a CPU with a worker (--lcores maps ids to CPUs).
// Hugepage runs use --in-memory (no files left in /dev/hugepages); runs
// without hugepages use --no-shconf, the only combination DPDK 22.11 takes.
std::vector<std::string> eal_arguments(const EalOptions& options);

// rte_eal_init() with those arguments. Once per process: DPDK cannot
// initialise its EAL twice, even after rte_eal_cleanup().
Result<bool> init_eal(const EalOptions& options);

// True when `device` names a PCI address (DDDD:BB:DD.F or BB:DD.F, with or
// without devargs after a comma) rather than a vdev string.
bool is_pci_address(const std::string& device);

}  // namespace anylb::dpdk
