// Everything the per-packet decision reads: VIPs with their Maglev tables and
// backends, the encapsulation parameters, and lookup indexes. It is built
// aside from a plain description (StateSpec), never changed afterwards, and
// published whole (a pointer swap in the drivers), so a packet sees either the
// old state or the new one, never a mix.
//
// VIP and backend ids are stable: a rebuild given the previous state keeps the
// id of every VIP (by address, port, protocol) and backend (by VIP and address)
// that is still there. Flow-table entries and per-core counters hold ids, so
// they stay meaningful across rebuilds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "abi.h"
#include "flat_index.h"
#include "ip_address.h"
#include "maglev.h"
#include "result.h"

namespace anylb {

constexpr uint32_t kMaxVipIds = 4096;
constexpr uint32_t kMaxBackendIds = 65536;  // over all VIPs

// ---- The description a state is built from (control/ fills it from config + health).

struct BackendSpec {
  IpAddress address;
  uint32_t weight = 100;
  anylb_backend_state state = ANYLB_BACKEND_ACTIVE;
};

struct VipSpec {
  std::string name;
  IpAddress address;
  uint16_t port = 0;  // 0: all ports of the protocol
  uint8_t protocol = 0;
  anylb_encap encap = ANYLB_ENCAP_IPIP;
  uint32_t table_size = 65537;
  std::vector<BackendSpec> backends;
};

struct EncapParams {
  MacAddress gateway_mac{};
  // Outer source per family: a single address, or a prefix the flow hash picks from.
  std::optional<IpAddress> source_v4;
  std::optional<IpPrefix> source_v4_prefix;
  std::optional<IpAddress> source_v6;
  std::optional<IpPrefix> source_v6_prefix;
  uint16_t gue_port = 6080;
  uint16_t mtu = 1500;  // largest outer IP packet
};

struct StateSpec {
  uint32_t hash_seed = 0;
  EncapParams encap;
  std::vector<VipSpec> vips;
};

// ---- The built state.

struct Backend {
  bool present = false;  // ids are slots; absent ones are free
  uint32_t id = ANYLB_INVALID_ID;
  uint32_t vip_id = ANYLB_INVALID_ID;
  IpAddress address;
  uint32_t weight = 0;
  anylb_backend_state state = ANYLB_BACKEND_DOWN;
};

struct Vip {
  bool present = false;
  uint32_t id = ANYLB_INVALID_ID;
  std::string name;
  IpAddress address;
  uint16_t port = 0;
  uint8_t protocol = 0;
  anylb_encap encap = ANYLB_ENCAP_IPIP;
  std::vector<uint32_t> backend_ids;  // active, draining and down alike
  MaglevTable table;
  std::vector<uint32_t> changed_slots;  // versus the previous state's table of this VIP
};

// Lookup keys: fixed layout, no padding, compared bytewise.
struct VipLookupKey {
  uint8_t addr[16];
  uint16_t port;  // host order; 0 for the port-less VIP
  uint8_t protocol;
  uint8_t family;
};
struct AddressLookupKey {
  uint8_t addr[16];
  uint8_t family;
  uint8_t pad[3];
};

// What the state knows about one VIP address, for packets whose VIP cannot be
// found by port: fragments (no ports after the first) and ICMP.
struct VipAddressInfo {
  // Per protocol (index 0: TCP, 1: UDP): the VIP a fragment goes to: the
  // port-less VIP if there is one, else the only VIP on that protocol; else
  // kAmbiguous or ANYLB_INVALID_ID.
  uint32_t fragment_vip[2] = {ANYLB_INVALID_ID, ANYLB_INVALID_ID};
  static constexpr uint32_t kAmbiguous = 0xfffffffeu;
};

struct ForwardingState {
  uint32_t hash_seed = 0;
  EncapParams encap;
  std::vector<Vip> vips;          // indexed by VIP id
  std::vector<Backend> backends;  // indexed by backend id
  std::vector<VipAddressInfo> addresses;
  FlatIndex<VipLookupKey> vip_index;          // -> VIP id
  FlatIndex<AddressLookupKey> address_index;  // -> index into `addresses`

  const Vip* vip(uint32_t id) const {
    return id < vips.size() && vips[id].present ? &vips[id] : nullptr;
  }
  const Backend* backend(uint32_t id) const {
    return id < backends.size() && backends[id].present ? &backends[id] : nullptr;
  }
  // The VIP for a client -> VIP flow: exact port first, then the port-less VIP.
  const Vip* find_vip(const uint8_t* dst16, uint8_t family, uint16_t port_host,
                      uint8_t protocol) const;
  const VipAddressInfo* find_address(const uint8_t* dst16, uint8_t family) const;
  const Vip* find_vip_by_name(std::string_view name) const;
};

// Builds a state from a spec. `previous` (may be null) supplies ids to keep and
// the old Maglev tables to diff against. Errors name the VIP and field.
Result<ForwardingState> build_forwarding_state(const StateSpec& spec,
                                               const ForwardingState* previous);

inline VipLookupKey make_vip_lookup_key(const uint8_t* addr16, uint8_t family, uint16_t port_host,
                                        uint8_t protocol) {
  VipLookupKey k{};
  std::memcpy(k.addr, addr16, 16);
  k.port = port_host;
  k.protocol = protocol;
  k.family = family;
  return k;
}

}  // namespace anylb
