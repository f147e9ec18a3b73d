// Publishes a core ForwardingState into the BPF maps, writing only what
// changed, in an order that never lets a packet see a half-built table:
//   1. backends that are new or changed (except those going down or away)
//   2. per VIP: the new Maglev table into the inactive half, then one write
//      of the VIP's entry flips `active` to it
//   3. (address, port, protocol) index entries that are new; then, when the
//      set of addresses or what they hold changed, the whole address table
//      into its inactive half (only the slots that differ from what that half
//      holds), then one write of addr_half flips it
//   4. removals: index entries first, then VIP entries, then backends going
//      down or away, whose flows the program then reschedules
// It keeps a shadow of what the maps hold; a new writer (a restarted control
// process) reads the maps back first, so its first publish is a diff too.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "dataplane/core/forwarding_state.h"
#include "dataplane/core/result.h"
#include "xdp/xdp_program.h"

namespace anylb {

struct PublishStats {
  uint64_t map_writes = 0;     // map entries written or deleted
  uint64_t slots_written = 0;  // Maglev slots among them
  uint32_t vips_flipped = 0;
  uint32_t inner_maps_created = 0;
};

class XdpStateWriter {
 public:
  // Reads back the maps' current content.
  static Result<XdpStateWriter> open(const XdpMaps& maps);

  Result<PublishStats> publish(const ForwardingState& state);

  // What the maps hold, as a state to build the next one over: the ids of
  // VIPs (by address, port, protocol) and backends (by VIP and address) and
  // each VIP's active table. A restarted control process builds its first
  // state over this, so the ids that flow entries hold keep their meaning.
  // Names and weights are not in the maps and come back empty; the tables are
  // marked as of unknown inputs, so a build over them rebuilds every one.
  ForwardingState running_state() const;

 private:
  struct VipShadow {
    anylb_vip entry{};
    std::array<std::vector<uint32_t>, 2> half;  // slots as written to maglev[id * 2 + h]
  };
  using IndexKey = std::array<uint8_t, sizeof(anylb_vip_key)>;

  explicit XdpStateWriter(const XdpMaps& maps);
  Result<bool> read_back();
  Result<bool> write_table(uint32_t vip_id, uint32_t half, const std::vector<uint32_t>& slots,
                           PublishStats& stats);

  XdpMaps maps_;
  std::vector<VipShadow> vips_;
  std::vector<anylb_backend> backends_;
  std::array<std::vector<anylb_addr_slot>, 2> addr_halves_;  // as written to addr_slots
  uint32_t addr_active_ = 0;
  std::map<IndexKey, uint32_t> vip_index_;
};

}  // namespace anylb
