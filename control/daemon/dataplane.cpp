// The model dataplane and the factory; the XDP and DPDK ones are in their
// own files, built only when those fast paths are.
#include "control/daemon/dataplane.h"

namespace anylb {

#if ANYLB_HAVE_XDP
std::unique_ptr<Dataplane> make_xdp_dataplane(const std::string& pin_root);
#endif
#if ANYLB_HAVE_DPDK
std::unique_ptr<Dataplane> make_dpdk_dataplane();
#endif

namespace {

// The userspace reference: nothing is forwarded; the states are kept, so
// everything above the fast path (health, routes, API) runs as it would.
class ModelDataplane : public Dataplane {
 public:
  const char* kind() const override { return "model"; }
  Result<bool> start(const Config&, const ForwardingState&) override { return true; }
  Result<bool> publish(const Config&, const ForwardingState&) override { return true; }
  Result<std::unique_ptr<Counters>> counters(const ForwardingState&) const override {
    return std::make_unique<Counters>();
  }
  FlowOccupancy flow_occupancy() const override { return {}; }
  void stop() override {}
};

}  // namespace

Result<std::unique_ptr<Dataplane>> make_dataplane(const Config& config,
                                                  const std::string& xdp_pin_root) {
  switch (config.node.dataplane) {
    case DataplaneKind::Model: return std::unique_ptr<Dataplane>(new ModelDataplane());
    case DataplaneKind::Xdp:
#if ANYLB_HAVE_XDP
      return make_xdp_dataplane(xdp_pin_root);
#else
      (void)xdp_pin_root;
      return make_error("node.dataplane 'xdp': anylbd was built without the XDP fast path");
#endif
    case DataplaneKind::Dpdk:
#if ANYLB_HAVE_DPDK
      return make_dpdk_dataplane();
#else
      return make_error("node.dataplane 'dpdk': anylbd was built without the DPDK fast path");
#endif
  }
  return make_error("unknown dataplane");
}

}  // namespace anylb
