#include "control/daemon/dataplane.h"
#include "dataplane/dpdk/driver.h"
#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/options_from_config.h"

namespace anylb {

namespace {

// The DPDK driver inside anylbd: the EAL and workers live in this process.
class DpdkDataplane : public Dataplane {
 public:
  const char* kind() const override { return "dpdk"; }

  Result<bool> start(const Config& c, const ForwardingState& state) override {
    if (auto ok = dpdk::init_eal(dpdk::eal_options_from_config(c)); !ok) return ok.error();
    auto d = dpdk::Driver::start(dpdk::driver_options_from_config(c), state);
    if (!d) return d.error();
    driver_ = std::move(*d);
    return true;
  }

  // The encapsulation settings travel in the state; the workers' flow tables
  // take their timeouts when they start.
  Result<bool> publish(const Config&, const ForwardingState& state) override {
    driver_->publish(state);
    return true;
  }

  std::vector<std::string> fixed_at_start(const Config& running, const Config& next) const override {
    return dpdk::driver_settings_fixed_at_start(running, next);
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
