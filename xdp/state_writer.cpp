#include "xdp/state_writer.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "xdp/address_table.h"

namespace anylb {
namespace {

static_assert(VipAddressInfo::kInlineVips == ANYLB_INLINE_VIPS);
static_assert(VipAddressInfo::kAmbiguous == ANYLB_FRAGMENT_AMBIGUOUS);
static_assert(kMaxVipIds == ANYLB_MAX_VIPS && kMaxBackendIds == ANYLB_MAX_BACKENDS);

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

Error map_error(const char* map, const std::string& what, int err) {
  return make_error(std::string("map ") + map + ": " + what + ": " + errno_text(err));
}

template <typename T>
std::array<uint8_t, sizeof(T)> bytes_of(const T& v) {
  std::array<uint8_t, sizeof(T)> b;
  std::memcpy(b.data(), &v, sizeof(T));
  return b;
}

bool same(const void* a, const void* b, size_t n) { return std::memcmp(a, b, n) == 0; }

// The fd of the inner map at maglev[key], or -1 when there is none.
int inner_map_fd(int outer, uint32_t key) {
  uint32_t id = 0;
  if (bpf_map_lookup_elem(outer, &key, &id) != 0) return -1;
  return bpf_map_get_fd_by_id(id);
}

uint32_t inner_map_size(int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return 0;
  return info.max_entries;
}

// Reads an array map whole: in batches where the kernel has them, else one
// element at a time.
template <typename T>
bool read_array(int fd, uint32_t size, std::vector<T>& out) {
  out.assign(size, T{});
  std::vector<uint32_t> keys(size);
  uint32_t count = size, next = 0;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  const int err = bpf_map_lookup_batch(fd, nullptr, &next, keys.data(), out.data(), &count, &opts);
  if ((err == 0 || errno == ENOENT) && count == size) return true;
  for (uint32_t k = 0; k < size; ++k) {
    if (bpf_map_lookup_elem(fd, &k, &out[k]) != 0) return false;
  }
  return true;
}

anylb_backend to_map(const Backend& b) {
  anylb_backend m{};
  std::memcpy(m.addr, b.address.bytes.data(), 16);
  m.family = b.address.family;
  m.state = static_cast<uint8_t>(b.state);
  m.present = 1;
  m.vip_id = b.vip_id;
  return m;
}

anylb_addr_info to_map(const VipAddressInfo& info) {
  anylb_addr_info m{};
  m.fragment_vip[0] = info.fragment_vip[0];
  m.fragment_vip[1] = info.fragment_vip[1];
  m.inline_count = info.inline_count;
  m.overflow = info.overflow ? 1 : 0;
  for (int i = 0; i < info.inline_count; ++i) {
    m.vips[i].port = info.vips[i].port;
    m.vips[i].protocol = info.vips[i].protocol;
    m.vips[i].vip_id = info.vips[i].vip_id;
  }
  return m;
}

}  // namespace

XdpStateWriter::XdpStateWriter(const XdpMaps& maps)
    : maps_(maps), vips_(ANYLB_MAX_VIPS), backends_(ANYLB_MAX_BACKENDS) {}

Result<XdpStateWriter> XdpStateWriter::open(const XdpMaps& maps) {
  XdpStateWriter w(maps);
  if (auto ok = w.read_back(); !ok) return ok.error();
  return w;
}

Result<bool> XdpStateWriter::read_back() {
  for (uint32_t id = 0; id < ANYLB_MAX_VIPS; ++id) {
    VipShadow& v = vips_[id];
    if (bpf_map_lookup_elem(maps_.vips, &id, &v.entry) != 0) return map_error("vips", "read", errno);
    if (!v.entry.present) continue;
    for (uint32_t h = 0; h < 2; ++h) {
      const int fd = inner_map_fd(maps_.maglev, id * 2 + h);
      if (fd < 0) continue;
      read_array(fd, inner_map_size(fd), v.half[h]);
      close(fd);
    }
  }
  if (!read_array(maps_.backends, ANYLB_MAX_BACKENDS, backends_)) {
    return map_error("backends", "read", errno);
  }
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(maps_.addr_half, &zero, &addr_active_) != 0) {
    return map_error("addr_half", "read", errno);
  }
  addr_active_ &= 1;
  std::vector<anylb_addr_slot> all;
  if (!read_array(maps_.addr_slots, 2 * ANYLB_ADDR_SLOTS, all)) {
    return map_error("addr_slots", "read", errno);
  }
  for (uint32_t h = 0; h < 2; ++h) {
    addr_halves_[h].assign(all.begin() + h * ANYLB_ADDR_SLOTS,
                           all.begin() + (h + 1) * ANYLB_ADDR_SLOTS);
  }
  anylb_vip_key ikey{}, inext{};
  const anylb_vip_key* iprev = nullptr;
  while (bpf_map_get_next_key(maps_.vip_index, iprev, &inext) == 0) {
    uint32_t id = 0;
    if (bpf_map_lookup_elem(maps_.vip_index, &inext, &id) == 0) vip_index_[bytes_of(inext)] = id;
    ikey = inext;
    iprev = &ikey;
  }
  return true;
}

ForwardingState XdpStateWriter::running_state() const {
  ForwardingState st;
  for (const auto& [k, id] : vip_index_) {
    if (id >= vips_.size() || !vips_[id].entry.present) continue;
    anylb_vip_key key;
    std::memcpy(&key, k.data(), sizeof key);
    if (st.vips.size() <= id) st.vips.resize(id + 1);
    Vip& v = st.vips[id];
    const VipShadow& shadow = vips_[id];
    v.present = true;
    v.id = id;
    std::memcpy(v.address.bytes.data(), key.addr, 16);
    v.address.family = key.family;
    v.port = key.port;
    v.protocol = key.protocol;
    v.encap = static_cast<anylb_encap>(shadow.entry.encap);
    if (shadow.entry.table_size != 0) v.table.slots = shadow.half[shadow.entry.active & 1];
    // Weights are not in the maps, and a crash between a backend's write and
    // its table's flip leaves them out of step: the next build makes every
    // table afresh and only diffs against this one.
    v.table_inputs_known = false;
  }
  for (uint32_t id = 0; id < backends_.size(); ++id) {
    const anylb_backend& m = backends_[id];
    if (!m.present) continue;  // kept even without its VIP: its id stays held back
    if (st.backends.size() <= id) st.backends.resize(id + 1);
    Backend& b = st.backends[id];
    b.present = true;
    b.id = id;
    b.vip_id = m.vip_id;
    std::memcpy(b.address.bytes.data(), m.addr, 16);
    b.address.family = m.family;
    b.state = static_cast<anylb_backend_state>(m.state);
    if (m.vip_id < st.vips.size() && st.vips[m.vip_id].present) {
      st.vips[m.vip_id].backend_ids.push_back(id);
    }
  }
  return st;
}

Result<bool> XdpStateWriter::write_table(uint32_t vip_id, uint32_t half,
                                         const std::vector<uint32_t>& slots, PublishStats& stats) {
  VipShadow& v = vips_[vip_id];
  const uint32_t key = vip_id * 2 + half;
  std::vector<uint32_t>& shadow = v.half[half];
  int fd = -1;
  const bool fresh = shadow.size() != slots.size();
  if (fresh) {
    // A table of another size (or the first one): a fresh inner map, filled
    // completely before the outer map points at it.
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
    fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "anylb_maglev", sizeof(uint32_t), sizeof(uint32_t),
                        static_cast<uint32_t>(slots.size()), &opts);
    if (fd < 0) return map_error("maglev", "create inner map of " + std::to_string(slots.size()), fd);
    ++stats.inner_maps_created;
  } else {
    fd = inner_map_fd(maps_.maglev, key);
    if (fd < 0) return map_error("maglev", "inner map " + std::to_string(key) + " missing", errno);
  }
  std::vector<uint32_t> keys, values;
  for (uint32_t s = 0; s < slots.size(); ++s) {
    if (fresh || shadow[s] != slots[s]) {
      keys.push_back(s);
      values.push_back(slots[s]);
    }
  }
  if (!keys.empty()) {
    uint32_t count = static_cast<uint32_t>(keys.size());
    LIBBPF_OPTS(bpf_map_batch_opts, bopts);
    if (bpf_map_update_batch(fd, keys.data(), values.data(), &count, &bopts) != 0) {
      // Batch ops are an optimisation; fall back to one write per slot.
      for (size_t i = 0; i < keys.size(); ++i) {
        if (bpf_map_update_elem(fd, &keys[i], &values[i], BPF_ANY) != 0) {
          const int err = errno;
          close(fd);
          return map_error("maglev", "write slot", err);
        }
      }
    }
    stats.slots_written += keys.size();
    stats.map_writes += keys.size();
  }
  if (fresh) {
    const int value = fd;
    if (bpf_map_update_elem(maps_.maglev, &key, &value, BPF_ANY) != 0) {
      const int err = errno;
      close(fd);
      return map_error("maglev", "install inner map " + std::to_string(key), err);
    }
    ++stats.map_writes;
  }
  close(fd);
  shadow = slots;
  return true;
}

Result<PublishStats> XdpStateWriter::publish(const ForwardingState& st) {
  PublishStats stats;
  auto write = [&](int fd, const char* name, const void* key, const void* value) -> Result<bool> {
    if (bpf_map_update_elem(fd, key, value, BPF_ANY) != 0) return map_error(name, "write", errno);
    ++stats.map_writes;
    return true;
  };

  // 1. Backends that are new or changed and still serve.
  std::vector<anylb_backend> wanted(ANYLB_MAX_BACKENDS);
  for (const auto& b : st.backends) {
    if (b.present && b.id < ANYLB_MAX_BACKENDS) wanted[b.id] = to_map(b);
  }
  std::vector<uint32_t> later;  // going down or away: written after the tables
  for (uint32_t id = 0; id < ANYLB_MAX_BACKENDS; ++id) {
    if (same(&wanted[id], &backends_[id], sizeof(anylb_backend))) continue;
    if (!wanted[id].present || wanted[id].state == ANYLB_BACKEND_DOWN) {
      later.push_back(id);
      continue;
    }
    if (auto ok = write(maps_.backends, "backends", &id, &wanted[id]); !ok) return ok.error();
    backends_[id] = wanted[id];
  }

  // 2. Tables into the inactive half, then the flip.
  std::set<uint32_t> live_vips;
  for (const auto& v : st.vips) {
    if (!v.present) continue;
    live_vips.insert(v.id);
    VipShadow& shadow = vips_[v.id];
    const bool table_same = shadow.entry.present &&
                            shadow.half[shadow.entry.active] == v.table.slots;
    anylb_vip entry{};
    entry.present = 1;
    entry.encap = static_cast<uint8_t>(v.encap);
    entry.table_size = static_cast<uint32_t>(v.table.slots.size());
    entry.active = shadow.entry.present ? shadow.entry.active : 0;
    if (!table_same) {
      const uint32_t half = shadow.entry.present ? 1 - shadow.entry.active : 0;
      if (auto ok = write_table(v.id, half, v.table.slots, stats); !ok) return ok.error();
      entry.active = half;
      ++stats.vips_flipped;
    }
    if (!same(&entry, &shadow.entry, sizeof entry)) {
      if (auto ok = write(maps_.vips, "vips", &v.id, &entry); !ok) return ok.error();
      shadow.entry = entry;
    }
  }

  // 3. Indexes: every address, and every (address, port, protocol).
  std::vector<AddressEntry> want_addresses;  // each address once
  std::set<std::pair<uint8_t, std::array<uint8_t, 16>>> listed;
  std::map<IndexKey, uint32_t> want_index;
  for (const auto& v : st.vips) {
    if (!v.present) continue;
    const VipAddressInfo* info = st.find_address(v.address.bytes.data(), v.address.family);
    if (info != nullptr && listed.insert({v.address.family, v.address.bytes}).second) {
      want_addresses.push_back({v.address.bytes, v.address.family, to_map(*info)});
    }
    anylb_vip_key ik{};
    std::memcpy(ik.addr, v.address.bytes.data(), 16);
    ik.port = v.port;
    ik.protocol = v.protocol;
    ik.family = v.address.family;
    want_index[bytes_of(ik)] = v.id;
  }
  for (const auto& [k, id] : want_index) {
    auto it = vip_index_.find(k);
    if (it != vip_index_.end() && it->second == id) continue;
    if (auto ok = write(maps_.vip_index, "vip_index", k.data(), &id); !ok) return ok.error();
    vip_index_[k] = id;
  }
  // The builder is deterministic: the same addresses give the same slots, so
  // the active half tells whether anything changed.
  auto slots = build_address_slots(want_addresses);
  if (!slots) return slots.error();
  if (!same(slots->data(), addr_halves_[addr_active_].data(),
            sizeof(anylb_addr_slot) * ANYLB_ADDR_SLOTS)) {
    const uint32_t half = 1 - addr_active_;
    std::vector<anylb_addr_slot>& shadow = addr_halves_[half];
    for (uint32_t i = 0; i < ANYLB_ADDR_SLOTS; ++i) {
      if (same(&shadow[i], &(*slots)[i], sizeof(anylb_addr_slot))) continue;
      const uint32_t key = half * ANYLB_ADDR_SLOTS + i;
      if (auto ok = write(maps_.addr_slots, "addr_slots", &key, &(*slots)[i]); !ok) {
        return ok.error();
      }
      shadow[i] = (*slots)[i];
    }
    uint32_t zero = 0;
    if (auto ok = write(maps_.addr_half, "addr_half", &zero, &half); !ok) return ok.error();
    addr_active_ = half;
  }

  // 4. Removals, in the order that keeps every lookup answerable.
  for (auto it = vip_index_.begin(); it != vip_index_.end();) {
    if (want_index.count(it->first)) {
      ++it;
      continue;
    }
    if (bpf_map_delete_elem(maps_.vip_index, it->first.data()) != 0 && errno != ENOENT) {
      return map_error("vip_index", "delete", errno);
    }
    ++stats.map_writes;
    it = vip_index_.erase(it);
  }
  for (uint32_t id = 0; id < ANYLB_MAX_VIPS; ++id) {
    VipShadow& shadow = vips_[id];
    if (!shadow.entry.present || live_vips.count(id)) continue;
    const anylb_vip gone{};
    if (auto ok = write(maps_.vips, "vips", &id, &gone); !ok) return ok.error();
    for (uint32_t h = 0; h < 2; ++h) {
      const uint32_t key = id * 2 + h;
      if (bpf_map_delete_elem(maps_.maglev, &key) == 0) ++stats.map_writes;
    }
    shadow = VipShadow{};
  }
  for (uint32_t id : later) {
    if (auto ok = write(maps_.backends, "backends", &id, &wanted[id]); !ok) return ok.error();
    backends_[id] = wanted[id];
  }
  return stats;
}

}  // namespace anylb
