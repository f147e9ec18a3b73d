#include "dataplane/dpdk/port.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <algorithm>

namespace anylb::dpdk {

namespace {

std::string port_label(uint16_t port_id) {
  char name[RTE_ETH_NAME_MAX_LEN] = "";
  rte_eth_dev_get_name_by_port(port_id, name);
  return "port " + std::to_string(port_id) + " (" + name + ")";
}

Error port_error(uint16_t port_id, const std::string& what, int rc) {
  return make_error(port_label(port_id) + ": " + what + ": " + rte_strerror(rc < 0 ? -rc : rc));
}

}  // namespace

Result<uint16_t> find_or_probe_port(const std::string& device, bool& probed) {
  const std::string name = device.substr(0, device.find(','));
  uint16_t port_id = 0;
  probed = false;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) == 0) return port_id;
  if (int rc = rte_dev_probe(device.c_str()); rc != 0) {
    return make_error("device '" + device + "': probe failed: " + rte_strerror(-rc) +
                      " (a vdev string such as net_af_packet0,iface=eth0, or a PCI address)");
  }
  probed = true;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
    return make_error("device '" + device + "' was probed but no ethdev port is named '" + name +
                      "'");
  }
  return port_id;
}

Result<PortSetup> configure_port(uint16_t port_id, uint16_t want_queues, bool exact,
                                 uint16_t rx_descriptors, uint16_t tx_descriptors,
                                 rte_mempool* pool) {
  PortSetup p;
  p.port_id = port_id;
  char name[RTE_ETH_NAME_MAX_LEN] = "";
  rte_eth_dev_get_name_by_port(port_id, name);
  p.name = name;

  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    return port_error(port_id, "cannot read device info", rc);
  }
  p.driver = info.driver_name ? info.driver_name : "";
  const uint16_t device_max = std::min(info.max_rx_queues, info.max_tx_queues);
  const uint64_t rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
                          info.flow_type_rss_offloads;

  rte_eth_conf conf{};
  uint16_t queues = std::min<uint16_t>(want_queues, device_max);
  if (exact) {
    if (queues != want_queues) {
      return make_error(port_label(port_id) + ": needs " + std::to_string(want_queues) +
                        " queue pairs to mirror its port, the device has " +
                        std::to_string(device_max));
    }
  } else if (queues > 1 && rss_hf == 0) {
    // Without RSS the device would not keep a flow on one queue.
    queues = 1;
  }
  if (!exact && queues > 1) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    p.rss = true;
    p.rss_hf = rss_hf;
  }
  // Every mbuf comes from one pool and has one reference: the device may free
  // them in bulk. Checksums are computed in software by the core, so no
  // checksum offloads are asked for and none are needed.
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
  }
  p.tx_offloads = conf.txmode.offloads;
  p.queues = queues;

  if (int rc = rte_eth_dev_configure(port_id, queues, queues, &conf); rc != 0) {
    return port_error(port_id, "configure with " + std::to_string(queues) + " queues", rc);
  }
  uint16_t rxd = rx_descriptors, txd = tx_descriptors;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd); rc != 0) {
    return port_error(port_id, "adjust descriptor counts", rc);
  }
  const int socket = rte_eth_dev_socket_id(port_id);
  const unsigned socket_id = socket < 0 ? SOCKET_ID_ANY : static_cast<unsigned>(socket);
  rte_eth_txconf txconf = info.default_txconf;
  txconf.offloads = conf.txmode.offloads;
  for (uint16_t q = 0; q < queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(port_id, q, rxd, socket_id, nullptr, pool); rc != 0) {
      return port_error(port_id, "RX queue " + std::to_string(q) + " setup", rc);
    }
    if (int rc = rte_eth_tx_queue_setup(port_id, q, txd, socket_id, &txconf); rc != 0) {
      return port_error(port_id, "TX queue " + std::to_string(q) + " setup", rc);
    }
  }
  if (int rc = rte_eth_dev_start(port_id); rc != 0) return port_error(port_id, "start", rc);
  // Neighbour discovery and routing protocols use multicast; the exception
  // path must see it. Devices without the knob keep their default.
  rte_eth_allmulticast_enable(port_id);
  return p;
}

void close_port(const PortSetup& port) {
  rte_eth_dev_stop(port.port_id);
  rte_eth_dev_info info{};
  const bool have_device = rte_eth_dev_info_get(port.port_id, &info) == 0 && info.device;
  rte_eth_dev_close(port.port_id);
  if (port.probed && have_device) rte_dev_remove(info.device);
}

}  // namespace anylb::dpdk
