// The operator's [dpdk] and [node] settings as the EAL's and the driver's
// options: written once for anylb-dpdk and for anylbd's DPDK dataplane.
#pragma once

#include "control/config/config.h"
#include "dataplane/dpdk/driver.h"
#include "dataplane/dpdk/eal.h"

namespace anylb::dpdk {

EalOptions eal_options_from_config(const Config& config);
// Without [[dpdk.port]], one net_af_packet port on node.interface (the kernel
// keeps seeing an af_packet interface's frames: no exception port needed).
DriverOptions driver_options_from_config(const Config& config);

}  // namespace anylb::dpdk
