#include "dataplane/dpdk/options_from_config.h"

#include "control/tables/state_spec.h"

namespace anylb::dpdk {

EalOptions eal_options_from_config(const Config& c) {
  EalOptions e;
  e.main_cpu = c.dpdk.main_cpu;
  e.worker_cpus = c.dpdk.worker_cpus;
  e.hugepages = c.dpdk.hugepages;
  e.memory_mb = c.dpdk.memory_mb;
  e.extra = c.dpdk.eal_args;
  for (const auto& p : c.dpdk.ports) e.pci = e.pci || is_pci_address(p.device);
  return e;
}

DriverOptions driver_options_from_config(const Config& c) {
  DriverOptions o;
  for (const auto& p : c.dpdk.ports) {
    o.ports.push_back({p.device, p.exception_tap.empty() ? "" : tap_device(p.exception_tap)});
  }
  if (o.ports.empty()) o.ports.push_back({"net_af_packet0,iface=" + c.node.interface, ""});
  o.mbufs = c.dpdk.mbufs;
  o.rx_descriptors = c.dpdk.rx_descriptors;
  o.tx_descriptors = c.dpdk.tx_descriptors;
  o.burst = c.dpdk.burst;
  o.flow_entries = c.node.flow_table_entries;
  o.timeouts = flow_timeouts_from_config(c.timeouts);
  return o;
}

}  // namespace anylb::dpdk
