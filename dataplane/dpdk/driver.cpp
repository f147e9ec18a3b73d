#include "dataplane/dpdk/driver.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>

namespace anylb::dpdk {

namespace {

constexpr unsigned kMempoolCache = 256;

struct WorkerLaunch {
  Worker* worker;
  const std::atomic<bool>* stop;
};

// Unique per driver so that tests can start one driver after another.
std::string next_pool_name() {
  static std::atomic<uint32_t> serial{0};
  return "anylb_mbufs_" + std::to_string(serial.fetch_add(1));
}

}  // namespace

std::string tap_device(const std::string& tap) {
  // vdev names start with their driver's name; the suffix keeps ours apart
  // from any net_tapN the operator configures as a port.
  return "net_tap_anylb_" + tap + ",iface=" + tap;
}

Result<std::unique_ptr<Driver>> Driver::start(const DriverOptions& o, ForwardingState initial) {
  if (o.ports.empty()) return make_error("dpdk: no ports configured");
  std::unique_ptr<Driver> d(new Driver());

  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) d->lcores_.push_back(lcore);
  if (d->lcores_.empty()) {
    return make_error("dpdk: no worker lcores (dpdk.worker_cpus lists none the EAL accepted)");
  }
  const auto workers = static_cast<uint16_t>(d->lcores_.size());

  // Every RX descriptor holds an mbuf, TX rings hold up to their size, and
  // each lcore's mempool cache and in-flight bursts hold more.
  const uint64_t queue_pairs = o.ports.size() * workers * 2;  // with exception ports
  const uint64_t needed = queue_pairs * (o.rx_descriptors + o.tx_descriptors) +
                          (workers + 1) * (kMempoolCache + 2 * kTxBufferFrames);
  if (o.mbufs < needed) {
    return make_error("dpdk.mbufs: " + std::to_string(o.mbufs) + " is too few for " +
                      std::to_string(o.ports.size()) + " port(s) x " + std::to_string(workers) +
                      " worker(s) with " + std::to_string(o.rx_descriptors) + "/" +
                      std::to_string(o.tx_descriptors) + " descriptors; need at least " +
                      std::to_string(needed));
  }
  d->pool_ = rte_pktmbuf_pool_create(next_pool_name().c_str(), o.mbufs, kMempoolCache, 0,
                                     RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (d->pool_ == nullptr) {
    return make_error("dpdk: cannot create a pool of " + std::to_string(o.mbufs) +
                      " mbufs: " + rte_strerror(rte_errno) +
                      " (more dpdk.memory_mb, or hugepages)");
  }
  d->pool_size_ = o.mbufs;

  auto published =
      PublishedState::create(std::make_unique<const ForwardingState>(std::move(initial)), workers);
  if (!published) return published.error();
  d->published_ = std::move(*published);

  for (uint16_t w = 0; w < workers; ++w) {
    d->workers_.push_back(
        std::make_unique<Worker>(w, *d->published_, o.flow_entries, o.timeouts, o.burst));
  }

  for (size_t i = 0; i < o.ports.size(); ++i) {
    const DriverPort& spec = o.ports[i];
    bool probed = false;
    auto port_id = find_or_probe_port(spec.device, probed);
    if (!port_id) return port_id.error();
    auto port = configure_port(*port_id, workers, false, o.rx_descriptors, o.tx_descriptors,
                               d->pool_);
    if (!port) {
      if (probed) close_port(PortSetup{*port_id, "", 1, false, 0, 0, true, ""});
      return port.error();
    }
    port->probed = probed;
    d->ports_.push_back(*port);

    uint16_t exception_id = kNoPort;
    if (!spec.exception_device.empty()) {
      bool ex_probed = false;
      auto ex_id = find_or_probe_port(spec.exception_device, ex_probed);
      if (!ex_id) return ex_id.error();
      auto ex = configure_port(*ex_id, port->queues, true, o.rx_descriptors, o.tx_descriptors,
                               d->pool_);
      if (!ex) {
        if (ex_probed) close_port(PortSetup{*ex_id, "", 1, false, 0, 0, true, ""});
        return ex.error();
      }
      // Before any error path: close_port removes a device only if we probed it.
      ex->probed = ex_probed;
      // The kernel side answers for the port, so it must own the port's MAC
      // (set once started: net_tap applies it to the kernel interface then).
      // A port without a MAC of its own (net_ring) leaves the TAP its own.
      rte_ether_addr mac{};
      if (rte_eth_macaddr_get(*port_id, &mac) == 0 && rte_is_valid_assigned_ether_addr(&mac)) {
        if (int rc = rte_eth_dev_default_mac_addr_set(*ex_id, &mac); rc != 0) {
          close_port(*ex);
          return make_error("exception device '" + spec.exception_device +
                            "': cannot take the port's MAC address: " + rte_strerror(-rc));
        }
      }
      d->exception_ports_.push_back(*ex);
      exception_id = ex->port_id;
    }
    // Queue q of port i goes to worker (q + i) % workers: with RSS every
    // worker gets a queue of every port, single-queue ports spread over them.
    for (uint16_t q = 0; q < port->queues; ++q) {
      d->workers_[(q + i) % workers]->add_queue({port->port_id, q, exception_id});
    }
  }

  for (size_t w = 0; w < d->workers_.size(); ++w) {
    auto* launch = new WorkerLaunch{d->workers_[w].get(), &d->stop_};
    if (int rc = rte_eal_remote_launch(&Driver::worker_main, launch, d->lcores_[w]); rc != 0) {
      delete launch;
      d->stop();
      return make_error("dpdk: cannot launch worker on lcore " + std::to_string(d->lcores_[w]) +
                        ": " + rte_strerror(-rc));
    }
    d->launched_ = true;
  }
  return d;
}

int Driver::worker_main(void* arg) {
  std::unique_ptr<WorkerLaunch> launch(static_cast<WorkerLaunch*>(arg));
  launch->worker->run(*launch->stop);
  return 0;
}

Driver::~Driver() { stop(); }

uint64_t Driver::publish(ForwardingState next) {
  return published_->publish(std::make_unique<const ForwardingState>(std::move(next)));
}

std::unique_ptr<DriverStats> Driver::stats() const {
  auto s = std::make_unique<DriverStats>();
  for (const auto& w : workers_) {
    s->counters.add(w->counters());
    s->plumbing.add(w->stats());
    s->per_worker.push_back(w->stats());
    const FlowTableStats& f = w->flows().stats();
    s->flows.hits += f.hits;
    s->flows.misses += f.misses;
    s->flows.inserts += f.inserts;
    s->flows.evictions += f.evictions;
    s->flows.expirations += f.expirations;
  }
  s->publications = published_ ? published_->publications() : 0;
  return s;
}

std::pair<uint64_t, uint64_t> Driver::flow_occupancy(uint32_t sample_buckets) const {
  uint64_t live = 0, capacity = 0;
  for (const auto& w : workers_) {
    // Read while the worker writes: an estimate, as the sample is anyway.
    live += w->flows().estimate_live(w->clock_ms(), sample_buckets);
    capacity += w->flows().capacity();
  }
  return {live, capacity};
}

uint32_t Driver::stop() {
  if (stopped_) return leaked_;
  stopped_ = true;
  stop_.store(true, std::memory_order_relaxed);
  if (launched_) {
    for (unsigned lcore : lcores_) rte_eal_wait_lcore(lcore);
  }
  for (const PortSetup& p : ports_) close_port(p);
  for (const PortSetup& p : exception_ports_) close_port(p);
  if (pool_ != nullptr) {
    leaked_ = pool_size_ - rte_mempool_avail_count(pool_);
    // A leaked mbuf may still be referenced; then the pool must stay.
    if (leaked_ == 0) rte_mempool_free(pool_);
    pool_ = nullptr;
  }
  return leaked_;
}

}  // namespace anylb::dpdk
