#include "control/daemon/dataplane.h"
#include "control/tables/state_spec.h"
#include "dataplane/dpdk/driver.h"
#include "dataplane/dpdk/eal.h"

namespace anylb {

namespace {

// The DPDK driver inside anylbd: the EAL and workers live in this process.
class DpdkDataplane : public Dataplane {
 public:
  const char* kind() const override { return "dpdk"; }

  Result<bool> start(const Config& c, const ForwardingState& state) override {
    dpdk::EalOptions e;
    e.main_cpu = c.dpdk.main_cpu;
    e.worker_cpus = c.dpdk.worker_cpus;
    e.hugepages = c.dpdk.hugepages;
    e.memory_mb = c.dpdk.memory_mb;
    e.extra = c.dpdk.eal_args;
    dpdk::DriverOptions o;
    for (const auto& p : c.dpdk.ports) {
      e.pci = e.pci || dpdk::is_pci_address(p.device);
      o.ports.push_back({p.device, p.exception_tap.empty() ? "" : dpdk::tap_device(p.exception_tap)});
    }
    if (o.ports.empty()) o.ports.push_back({"net_af_packet0,iface=" + c.node.interface, ""});
    o.mbufs = c.dpdk.mbufs;
    o.rx_descriptors = c.dpdk.rx_descriptors;
    o.tx_descriptors = c.dpdk.tx_descriptors;
    o.burst = c.dpdk.burst;
    o.flow_entries = c.node.flow_table_entries;
    o.timeouts = flow_timeouts_from_config(c.timeouts);
    if (auto ok = dpdk::init_eal(e); !ok) return ok.error();
    auto d = dpdk::Driver::start(o, state);
    if (!d) return d.error();
    driver_ = std::move(*d);
    return true;
  }

  Result<bool> publish(const ForwardingState& state) override {
    driver_->publish(state);
    return true;
  }

  Result<std::unique_ptr<Counters>> counters(const ForwardingState&) const override {
    auto s = driver_->stats();
    return std::make_unique<Counters>(std::move(s->counters));
  }

  FlowOccupancy flow_occupancy() const override {
    auto o = driver_->flow_occupancy(4096);
    return {o.first, o.second};
  }

  void stop() override {
    if (driver_) driver_->stop();
  }

 private:
  std::unique_ptr<dpdk::Driver> driver_;
};

}  // namespace

std::unique_ptr<Dataplane> make_dpdk_dataplane() { return std::make_unique<DpdkDataplane>(); }

}  // namespace anylb
