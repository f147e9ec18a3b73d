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

namespace {

void note_if(std::vector<std::string>& notes, bool changed, const char* setting) {
  if (changed) notes.push_back(std::string(setting) + " changed: takes effect on restart");
}

}  // namespace

std::vector<std::string> driver_settings_fixed_at_start(const Config& running, const Config& next) {
  std::vector<std::string> notes;
  auto note = [&](bool changed, const char* setting) { note_if(notes, changed, setting); };
  const DpdkConfig &a = running.dpdk, &b = next.dpdk;
  note(a.main_cpu != b.main_cpu, "dpdk.main_cpu");
  note(a.worker_cpus != b.worker_cpus, "dpdk.worker_cpus");
  note(a.hugepages != b.hugepages, "dpdk.hugepages");
  note(a.memory_mb != b.memory_mb, "dpdk.memory_mb");
  note(a.mbufs != b.mbufs, "dpdk.mbufs");
  note(a.rx_descriptors != b.rx_descriptors, "dpdk.rx_descriptors");
  note(a.tx_descriptors != b.tx_descriptors, "dpdk.tx_descriptors");
  note(a.burst != b.burst, "dpdk.burst");
  note(a.eal_args != b.eal_args, "dpdk.eal_args");
  // The ports as they are configured, not where they stand in the file.
  auto ports = [](const DpdkConfig& c) {
    std::vector<std::pair<std::string, std::string>> p;
    for (const DpdkPortConfig& port : c.ports) p.emplace_back(port.device, port.exception_tap);
    return p;
  };
  note(ports(a) != ports(b), "[[dpdk.port]]");
  const FlowTimeouts &ta = running.timeouts, &tb = next.timeouts;
  note(ta.tcp_syn != tb.tcp_syn, "timeouts.tcp_syn");
  note(ta.tcp_established != tb.tcp_established, "timeouts.tcp_established");
  note(ta.tcp_closing != tb.tcp_closing, "timeouts.tcp_closing");
  note(ta.udp != tb.udp, "timeouts.udp");
  note(ta.other != tb.other, "timeouts.other");
  return notes;
}

std::vector<std::string> settings_fixed_at_start(const Config& running, const Config& next) {
  std::vector<std::string> notes = driver_settings_fixed_at_start(running, next);
  // Without [[dpdk.port]], the one port is opened on node.interface.
  note_if(notes,
          running.dpdk.ports.empty() && next.dpdk.ports.empty() &&
              running.node.interface != next.node.interface,
          "node.interface (the default port)");
  note_if(notes, running.node.flow_table_entries != next.node.flow_table_entries,
          "node.flow_table_entries");
  note_if(notes, running.node.hash_seed != next.node.hash_seed, "node.hash_seed");
  return notes;
}

}  // namespace anylb::dpdk
