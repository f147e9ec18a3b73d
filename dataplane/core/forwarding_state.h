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

constexpr uint32_t kMaxVipIds = ANYLB_MAX_VIPS;
constexpr uint32_t kMaxBackendIds = ANYLB_MAX_BACKENDS;  // over all VIPs

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
  // False for a table read back from a fast path (the XDP maps after a
  // restart): what it was built from is not known, so a build over it never
  // keeps it as it is, only diffs against it.
  bool table_inputs_known = true;
};

// Lookup keys: fixed layout, no padding, compared bytewise.
struct VipLookupKey {
  uint8_t addr[16];
  uint16_t port;  // host order; 0 for the port-less VIP
  uint8_t protocol;
  uint8_t family;
};
// The index every packet consults: is the destination a VIP address? Open
// addressing over one array, hashed straight from the packet's address bytes
// (two independent multiplies) without building a key first.
class AddressIndex {
 public:
  AddressIndex() = default;
  // addresses[i] -> i. Addresses must be unique.
  explicit AddressIndex(const std::vector<IpAddress>& addresses);
  const uint32_t* find(const uint8_t* addr16, uint8_t family) const {
    if (slots_.empty()) return nullptr;
    // IPv4 reads only its four bytes: the other twelve are zero by the key's
    // layout, and a load wider than the parser's 4-byte store would stall.
    uint64_t lo = 0, hi = 0;
    if (family == 4) {
      uint32_t v4;
      std::memcpy(&v4, addr16, 4);
      lo = v4;
    } else {
      std::memcpy(&lo, addr16, 8);
      std::memcpy(&hi, addr16 + 8, 8);
    }
    for (uint32_t i = hash(lo, hi, family) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.lo == lo && s.hi == hi && s.family == family) return &s.value;
    }
  }

 private:
  struct Slot {
    uint64_t lo = 0, hi = 0;
    uint32_t value = 0;
    uint8_t family = 0;
    bool used = false;
  };
  static uint32_t hash(uint64_t lo, uint64_t hi, uint8_t family) {
    uint64_t h = (lo * 0x9e3779b97f4a7c15ull) ^ (hi * 0xc2b2ae3d27d4eb4full) ^ family;
    h ^= h >> 29;
    return static_cast<uint32_t>((h * 0xbf58476d1ce4e5b9ull) >> 32);
  }
  std::vector<Slot> slots_;
  uint32_t mask_ = 0;
};

// What the state knows about one VIP address. Every packet to a VIP address
// costs one address lookup; the VIPs on the address sit inline, so finding
// the one for a port is a scan of a few entries in the same cache lines.
struct VipAddressInfo {
  static constexpr uint32_t kAmbiguous = 0xfffffffeu;
  static constexpr int kInlineVips = 6;

  struct PortVip {
    uint16_t port;  // host order; 0: port-less
    uint8_t protocol;
    uint32_t vip_id;
  };
  // Per protocol (index 0: TCP, 1: UDP): the VIP a fragment goes to: the
  // port-less VIP if there is one, else the only VIP on that protocol; else
  // kAmbiguous or ANYLB_INVALID_ID.
  uint32_t fragment_vip[2] = {ANYLB_INVALID_ID, ANYLB_INVALID_ID};
  // The address's VIPs when there are at most kInlineVips of them; with more,
  // `overflow` sends lookups to the state's (address, port, protocol) index.
  uint8_t inline_count = 0;
  bool overflow = false;
  PortVip vips[kInlineVips] = {};
};

struct ForwardingState {
  uint32_t hash_seed = 0;
  EncapParams encap;
  std::vector<Vip> vips;          // indexed by VIP id
  std::vector<Backend> backends;  // indexed by backend id
  std::vector<VipAddressInfo> addresses;
  FlatIndex<VipLookupKey> vip_index;          // -> VIP id
  AddressIndex address_index;                 // -> index into `addresses`

  const Vip* vip(uint32_t id) const {
    return id < vips.size() && vips[id].present ? &vips[id] : nullptr;
  }
  const Backend* backend(uint32_t id) const {
    return id < backends.size() && backends[id].present ? &backends[id] : nullptr;
  }
  // The VIP for a client -> VIP flow: exact port first, then the port-less VIP.
  const Vip* find_vip(const uint8_t* dst16, uint8_t family, uint16_t port_host,
                      uint8_t protocol) const;
  // The same, for an address already looked up (the fast path's way).
  const Vip* find_vip(const VipAddressInfo& addr, const uint8_t* dst16, uint8_t family,
                      uint16_t port_host, uint8_t protocol) const;
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
