// Bringing up one DPDK port: find or probe the device, configure it to what
// it supports, start it.
#pragma once

#include <cstdint>
#include <string>

#include "dataplane/core/result.h"

struct rte_mempool;

namespace anylb::dpdk {

struct PortSetup {
  uint16_t port_id = 0;
  std::string name;
  uint16_t queues = 1;     // RX and TX queue pairs
  bool rss = false;        // RSS over the 5-tuple spreads flows over the queues
  uint64_t rss_hf = 0;     // hash fields the device agreed to
  uint64_t tx_offloads = 0;
  bool probed = false;     // we probed it (and remove it on close)
  std::string driver;
};

// The port named by `device`: an existing port of that name (the part before
// the first comma), else the device is probed (vdev string or PCI address).
Result<uint16_t> find_or_probe_port(const std::string& device, bool& probed);

// Configures `port_id` with up to `want_queues` queue pairs: as many as the
// device has and RSS can spread, one without RSS, so that a flow always
// arrives on one queue. `exact` demands exactly want_queues (an exception
// port must match its port's queues) and fails otherwise.
Result<PortSetup> configure_port(uint16_t port_id, uint16_t want_queues, bool exact,
                                 uint16_t rx_descriptors, uint16_t tx_descriptors,
                                 rte_mempool* pool);

// Stops and closes the port; removes the device if we probed it.
void close_port(const PortSetup& port);

}  // namespace anylb::dpdk
