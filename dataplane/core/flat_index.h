// An immutable open-addressing map from a small fixed-size key to a 32-bit
// value, built once with the forwarding state. Lookups are a hash and a short
// linear probe over one array: no allocation, no pointer chasing. Keys are
// compared bytewise, so key types must have no padding and be built zeroed.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>


namespace anylb {

template <typename Key>
class FlatIndex {
  static_assert(std::is_trivially_copyable_v<Key>);
  static_assert(std::has_unique_object_representations_v<Key>, "key must have no padding");

 public:
  FlatIndex() = default;

  // Keys must be unique. The table is kept at most half full so probes stay short.
  explicit FlatIndex(std::span<const std::pair<Key, uint32_t>> items) {
    uint32_t size = 8;
    while (size < items.size() * 2) size <<= 1;
    slots_.assign(size, Slot{});
    mask_ = size - 1;
    for (const auto& [key, value] : items) {
      uint32_t i = hash(key) & mask_;
      while (slots_[i].used) i = (i + 1) & mask_;
      slots_[i] = Slot{key, value, true};
    }
  }

  const uint32_t* find(const Key& key) const {
    if (slots_.empty()) return nullptr;
    for (uint32_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (std::memcmp(&s.key, &key, sizeof(Key)) == 0) return &s.value;
    }
  }

  size_t size_in_slots() const { return slots_.size(); }

 private:
  struct Slot {
    Key key{};
    uint32_t value = 0;
    bool used = false;
  };
  // Keys come from the config, not from packets, and a probe stops at the
  // first empty slot of a half-empty table, so a fast multiplicative mix is
  // enough here; the flow hash's strength is not needed.
  static uint32_t hash(const Key& key) {
    static_assert(sizeof(Key) % 4 == 0);
    uint32_t words[sizeof(Key) / 4];
    std::memcpy(words, &key, sizeof(Key));
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (uint32_t w : words) h = (h ^ w) * 0xff51afd7ed558ccdull;
    return static_cast<uint32_t>(h >> 32);
  }

  std::vector<Slot> slots_;
  uint32_t mask_ = 0;
};

}  // namespace anylb
