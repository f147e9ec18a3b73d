#include "forwarding_state.h"

#include <algorithm>
#include <map>
#include <set>

namespace anylb {
namespace {

std::string vip_context(const VipSpec& v) {
  return "vip '" + v.name + "' (" + v.address.to_string() + ":" + std::to_string(v.port) + "/" +
         (v.protocol == 6 ? "tcp" : v.protocol == 17 ? "udp" : std::to_string(v.protocol)) + ")";
}

// Hands out the lowest ids not taken, skipping the ones kept from before.
class IdAllocator {
 public:
  explicit IdAllocator(std::set<uint32_t> taken) : taken_(std::move(taken)) {}
  uint32_t next() {
    while (taken_.count(cursor_)) ++cursor_;
    taken_.insert(cursor_);
    return cursor_++;
  }

 private:
  std::set<uint32_t> taken_;
  uint32_t cursor_ = 0;
};

int protocol_slot(uint8_t protocol) { return protocol == 6 ? 0 : protocol == 17 ? 1 : -1; }

}  // namespace

const Vip* ForwardingState::find_vip(const uint8_t* dst16, uint8_t family, uint16_t port_host,
                                     uint8_t protocol) const {
  if (const uint32_t* id = vip_index.find(make_vip_lookup_key(dst16, family, port_host, protocol))) {
    return vip(*id);
  }
  if (port_host != 0) {
    if (const uint32_t* id = vip_index.find(make_vip_lookup_key(dst16, family, 0, protocol))) {
      return vip(*id);
    }
  }
  return nullptr;
}

const Vip* ForwardingState::find_vip(const VipAddressInfo& addr, const uint8_t* dst16,
                                     uint8_t family, uint16_t port_host, uint8_t protocol) const {
  if (addr.overflow) return find_vip(dst16, family, port_host, protocol);
  uint32_t portless = ANYLB_INVALID_ID;
  for (int i = 0; i < addr.inline_count; ++i) {
    const auto& pv = addr.vips[i];
    if (pv.protocol != protocol) continue;
    if (pv.port == port_host) return vip(pv.vip_id);
    if (pv.port == 0) portless = pv.vip_id;
  }
  return portless == ANYLB_INVALID_ID ? nullptr : vip(portless);
}

AddressIndex::AddressIndex(const std::vector<IpAddress>& addresses) {
  uint32_t size = 8;
  while (size < addresses.size() * 2) size <<= 1;
  slots_.assign(size, Slot{});
  mask_ = size - 1;
  for (uint32_t value = 0; value < addresses.size(); ++value) {
    Slot s;
    std::memcpy(&s.lo, addresses[value].bytes.data(), 8);
    std::memcpy(&s.hi, addresses[value].bytes.data() + 8, 8);
    s.family = addresses[value].family;
    s.value = value;
    s.used = true;
    uint32_t i = hash(s.lo, s.hi, s.family) & mask_;
    while (slots_[i].used) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

const VipAddressInfo* ForwardingState::find_address(const uint8_t* dst16, uint8_t family) const {
  const uint32_t* i = address_index.find(dst16, family);
  return i && *i < addresses.size() ? &addresses[*i] : nullptr;
}

const Vip* ForwardingState::find_vip_by_name(std::string_view name) const {
  for (const auto& v : vips) {
    if (v.present && v.name == name) return &v;
  }
  return nullptr;
}

namespace {

// True when the previous state's table of this VIP was built from exactly
// these backends (ids, addresses, weights, in order) and size.
bool same_table_inputs(const Vip& old, const ForwardingState& previous,
                       const std::vector<MaglevBackend>& in_table, uint32_t table_size) {
  if (!old.table_inputs_known || old.table.slots.size() != table_size) return false;
  size_t k = 0;
  for (uint32_t id : old.backend_ids) {
    const Backend* b = previous.backend(id);
    if (b == nullptr || b->state != ANYLB_BACKEND_ACTIVE || b->weight == 0) continue;
    if (k >= in_table.size() || in_table[k].id != b->id || in_table[k].address != b->address ||
        in_table[k].weight != b->weight) {
      return false;
    }
    ++k;
  }
  return k == in_table.size();
}

}  // namespace

Result<ForwardingState> build_forwarding_state(const StateSpec& spec,
                                               const ForwardingState* previous) {
  if (spec.vips.size() > kMaxVipIds) {
    return make_error("state: " + std::to_string(spec.vips.size()) + " VIPs, at most " +
                      std::to_string(kMaxVipIds) + " supported");
  }
  size_t backend_total = 0;
  std::set<std::tuple<IpAddress, uint16_t, uint8_t>> seen_vips;
  for (const auto& v : spec.vips) {
    if (v.address.empty()) return make_error(vip_context(v) + ": no address");
    if (protocol_slot(v.protocol) < 0) return make_error(vip_context(v) + ": protocol must be tcp or udp");
    if (!seen_vips.insert({v.address, v.port, v.protocol}).second) {
      return make_error(vip_context(v) + ": defined twice");
    }
    std::set<IpAddress> seen_backends;
    for (const auto& b : v.backends) {
      if (!seen_backends.insert(b.address).second) {
        return make_error(vip_context(v) + ": backend " + b.address.to_string() + ": listed twice");
      }
      if (v.address.is_v6() && b.address.is_v4()) {
        return make_error(vip_context(v) + ": backend " + b.address.to_string() +
                          ": an IPv6 VIP needs IPv6 backends");
      }
      const bool have_source = b.address.is_v4()
                                   ? (spec.encap.source_v4 || spec.encap.source_v4_prefix)
                                   : (spec.encap.source_v6 || spec.encap.source_v6_prefix);
      if (!have_source) {
        return make_error(vip_context(v) + ": backend " + b.address.to_string() +
                          ": no tunnel source address for IPv" +
                          std::to_string(b.address.family) + " outer headers");
      }
    }
    backend_total += v.backends.size();
  }
  if (backend_total > kMaxBackendIds) {
    return make_error("state: " + std::to_string(backend_total) + " backends, at most " +
                      std::to_string(kMaxBackendIds) + " supported");
  }

  // Keep ids of whatever survives from the previous state. An id the previous
  // state used for something that is now gone is not handed out again in this
  // build: a fast path that publishes piecewise (the XDP maps) would otherwise
  // let the new owner's entry be seen through the old owner's table or index
  // for a moment. It becomes free again one build later.
  std::map<std::tuple<IpAddress, uint16_t, uint8_t>, uint32_t> old_vip_ids;
  std::map<std::pair<uint32_t, IpAddress>, uint32_t> old_backend_ids;
  if (previous) {
    for (const auto& v : previous->vips) {
      if (v.present) old_vip_ids[{v.address, v.port, v.protocol}] = v.id;
    }
    for (const auto& b : previous->backends) {
      if (b.present) old_backend_ids[{b.vip_id, b.address}] = b.id;
    }
  }
  std::vector<uint32_t> vip_ids(spec.vips.size(), ANYLB_INVALID_ID);
  {
    std::set<uint32_t> kept;
    for (size_t i = 0; i < spec.vips.size(); ++i) {
      const auto& v = spec.vips[i];
      if (auto it = old_vip_ids.find({v.address, v.port, v.protocol}); it != old_vip_ids.end()) {
        vip_ids[i] = it->second;
        kept.insert(it->second);
      }
    }
    std::set<uint32_t> taken = kept;
    if (previous) {
      for (const auto& v : previous->vips) {
        if (v.present) taken.insert(v.id);
      }
    }
    IdAllocator alloc(taken);
    for (auto& id : vip_ids) {
      if (id == ANYLB_INVALID_ID) id = alloc.next();
    }
  }
  std::vector<std::vector<uint32_t>> backend_ids(spec.vips.size());
  {
    std::set<uint32_t> kept;
    for (size_t i = 0; i < spec.vips.size(); ++i) {
      for (const auto& b : spec.vips[i].backends) {
        auto it = old_backend_ids.find({vip_ids[i], b.address});
        const uint32_t id = it == old_backend_ids.end() ? ANYLB_INVALID_ID : it->second;
        backend_ids[i].push_back(id);
        if (id != ANYLB_INVALID_ID) kept.insert(id);
      }
    }
    std::set<uint32_t> taken = kept;
    if (previous) {
      for (const auto& b : previous->backends) {
        if (b.present) taken.insert(b.id);
      }
    }
    IdAllocator alloc(taken);
    for (auto& ids : backend_ids) {
      for (auto& id : ids) {
        if (id == ANYLB_INVALID_ID) id = alloc.next();
      }
    }
  }

  // Ids index fixed-size arrays in both fast paths. Near the limits, holding
  // back the ids freed by this build can run past them: refuse rather than
  // publish an id no counter or map slot exists for.
  for (auto id : vip_ids) {
    if (id >= kMaxVipIds) {
      return make_error("state: VIP ids exhausted (" + std::to_string(kMaxVipIds) +
                        "); apply the removals first, then the additions");
    }
  }
  for (const auto& ids : backend_ids) {
    for (auto id : ids) {
      if (id >= kMaxBackendIds) {
        return make_error("state: backend ids exhausted (" + std::to_string(kMaxBackendIds) +
                          "); apply the removals first, then the additions");
      }
    }
  }

  ForwardingState st;
  st.hash_seed = spec.hash_seed;
  st.encap = spec.encap;
  uint32_t max_vip_id = 0, max_backend_id = 0;
  for (auto id : vip_ids) max_vip_id = std::max(max_vip_id, id + 1);
  for (const auto& ids : backend_ids) {
    for (auto id : ids) max_backend_id = std::max(max_backend_id, id + 1);
  }
  st.vips.resize(max_vip_id);
  st.backends.resize(max_backend_id);

  static const MaglevTable kNoTable;
  for (size_t i = 0; i < spec.vips.size(); ++i) {
    const VipSpec& vs = spec.vips[i];
    Vip& v = st.vips[vip_ids[i]];
    v.present = true;
    v.id = vip_ids[i];
    v.name = vs.name;
    v.address = vs.address;
    v.port = vs.port;
    v.protocol = vs.protocol;
    v.encap = vs.encap;
    std::vector<MaglevBackend> in_table;
    for (size_t j = 0; j < vs.backends.size(); ++j) {
      const BackendSpec& bs = vs.backends[j];
      Backend& b = st.backends[backend_ids[i][j]];
      b.present = true;
      b.id = backend_ids[i][j];
      b.vip_id = v.id;
      b.address = bs.address;
      b.weight = bs.weight;
      b.state = bs.state;
      v.backend_ids.push_back(b.id);
      // Draining and down backends take no new flows: they are not in the table.
      if (bs.state == ANYLB_BACKEND_ACTIVE && bs.weight > 0) {
        in_table.push_back({b.id, b.address, b.weight});
      }
    }
    const Vip* old = previous ? previous->vip(v.id) : nullptr;
    if (old != nullptr && same_table_inputs(*old, *previous, in_table, vs.table_size)) {
      // Nothing the table depends on changed: a health change elsewhere must
      // not rebuild every VIP's table (1.6 ms each at M = 65537).
      v.table = old->table;
      continue;
    }
    auto built = build_maglev(in_table, vs.table_size, old ? old->table : kNoTable);
    if (!built) return make_error(vip_context(vs) + ": " + built.error().message);
    v.table = std::move(built->table);
    v.changed_slots = std::move(built->changed);
  }

  // Indexes for the fast path.
  std::vector<std::pair<VipLookupKey, uint32_t>> vip_items;
  std::map<std::pair<IpAddress, int>, std::vector<uint32_t>> by_address;  // (addr, proto slot)
  std::map<IpAddress, uint32_t> address_slots;
  for (const auto& v : st.vips) {
    if (!v.present) continue;
    vip_items.push_back({make_vip_lookup_key(v.address.bytes.data(), v.address.family, v.port,
                                             v.protocol),
                         v.id});
    by_address[{v.address, protocol_slot(v.protocol)}].push_back(v.id);
    address_slots.emplace(v.address, static_cast<uint32_t>(address_slots.size()));
  }
  st.addresses.resize(address_slots.size());
  for (const auto& [key, ids] : by_address) {
    VipAddressInfo& info = st.addresses[address_slots[key.first]];
    uint32_t pick = ids.size() == 1 ? ids[0] : VipAddressInfo::kAmbiguous;
    for (auto id : ids) {
      if (st.vips[id].port == 0) pick = id;  // the port-less VIP takes every port
    }
    info.fragment_vip[key.second] = pick;
  }
  for (const auto& v : st.vips) {
    if (!v.present) continue;
    VipAddressInfo& info = st.addresses[address_slots[v.address]];
    if (info.inline_count < VipAddressInfo::kInlineVips) {
      info.vips[info.inline_count++] = {v.port, v.protocol, v.id};
    } else {
      info.overflow = true;
    }
  }
  std::vector<IpAddress> address_list(address_slots.size());
  for (const auto& [addr, slot] : address_slots) address_list[slot] = addr;
  st.vip_index = FlatIndex<VipLookupKey>(vip_items);
  st.address_index = AddressIndex(address_list);
  return st;
}

}  // namespace anylb
