// The operator's [dpdk] and [node] settings as the EAL's and the driver's
// options: written once for anylb-dpdk and for anylbd's DPDK dataplane.
#pragma once

#include <string>
#include <vector>

#include "control/config/config.h"
#include "dataplane/dpdk/driver.h"
#include "dataplane/dpdk/eal.h"

namespace anylb::dpdk {

EalOptions eal_options_from_config(const Config& config);
// Without [[dpdk.port]], one net_af_packet port on node.interface (the kernel
// keeps seeing an af_packet interface's frames: no exception port needed).
DriverOptions driver_options_from_config(const Config& config);

// What a reload cannot change in a running driver, one note per setting that
// differs in `next` ("dpdk.mbufs changed: takes effect on restart"): the EAL,
// ports and mbuf pool ([dpdk]) and the workers' flow-table timeouts
// ([timeouts]). anylbd's DPDK dataplane gives these; its controller notes
// the node settings itself.
std::vector<std::string> driver_settings_fixed_at_start(const Config& running, const Config& next);

// anylb-dpdk's reload: those, and the node settings it keeps: node.interface
// for the default port, node.flow_table_entries, and node.hash_seed, which
// would move nearly every flow (anylbd keeps it too).
std::vector<std::string> settings_fixed_at_start(const Config& running, const Config& next);

}  // namespace anylb::dpdk
