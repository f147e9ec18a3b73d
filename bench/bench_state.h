// Shared setup for the core benchmarks: the forwarding state they run against,
// flow keys, and an arena of pre-built frames that decide() can be run on over
// and over.
//
// The state: seed 0x5eed1e55, every Maglev table 65537 slots, four VIPs with
// 4-8 backends each (IPIP and GUE, IPv4 and IPv6):
//   web      192.0.2.10:80/tcp     ipip  10.1.0.1-8
//   web-tls  192.0.2.10:443/tcp    ipip  10.1.1.1-6
//   dns      192.0.2.53:53/udp     gue   10.2.0.1-4
//   web6     [2001:db8::10]:443/tcp ipip fd00:1::1-5
//   quic     192.0.2.10:443/udp    gue   fd00:4::1-4   (4in6 GUE: the outer UDP
//                                                       checksum covers the packet)
//
// Frames are header-only (no payload) except for quic: decide() reads no
// payload byte but for GUE over IPv6, whose UDP checksum sums the whole inner
// packet.
#pragma once

#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "control/cli/synthetic_frame.h"
#include "dataplane/core/abi.h"
#include "dataplane/core/counters.h"
#include "dataplane/core/decide.h"
#include "dataplane/core/flow_hash.h"
#include "dataplane/core/flow_key.h"
#include "dataplane/core/flow_table.h"
#include "dataplane/core/forwarding_state.h"
#include "dataplane/core/ip_address.h"
#include "dataplane/core/packet_buffer.h"
#include "dataplane/core/packet_view.h"

namespace anylb::bench {

constexpr uint32_t kSeed = 0x5eed1e55;
constexpr uint32_t kTableSize = 65537;
constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;

// Spec targets (printed as counters; nothing fails on them).
constexpr double kTargetDecideNs = 50;
constexpr double kTargetMaglevBuildMs = 10;

[[noreturn]] inline void die(const std::string& message) {
  std::fprintf(stderr, "benchmark setup: %s\n", message.c_str());
  std::abort();
}

inline IpAddress addr(const std::string& text) {
  auto r = parse_ip_address(text);
  if (!r) die(r.error().message);
  return *r;
}

inline StateSpec bench_spec() {
  StateSpec s;
  s.hash_seed = kSeed;
  s.encap.gateway_mac = {0x02, 0, 0, 0, 0, 0x01};
  s.encap.source_v4 = addr("10.100.0.1");
  auto prefix = parse_ip_prefix("fd00:100::/120");
  if (!prefix) die(prefix.error().message);
  s.encap.source_v6_prefix = *prefix;
  s.encap.gue_port = 6080;
  s.encap.mtu = 1500;
  auto vip = [](const char* name, const char* address, uint16_t port, uint8_t proto,
                anylb_encap encap, const std::string& backend_prefix, int backends) {
    VipSpec v;
    v.name = name;
    v.address = addr(address);
    v.port = port;
    v.protocol = proto;
    v.encap = encap;
    v.table_size = kTableSize;
    for (int i = 1; i <= backends; ++i) {
      v.backends.push_back({addr(backend_prefix + std::to_string(i)), 100, ANYLB_BACKEND_ACTIVE});
    }
    return v;
  };
  s.vips.push_back(vip("web", "192.0.2.10", 80, kTcp, ANYLB_ENCAP_IPIP, "10.1.0.", 8));
  s.vips.push_back(vip("web-tls", "192.0.2.10", 443, kTcp, ANYLB_ENCAP_IPIP, "10.1.1.", 6));
  s.vips.push_back(vip("dns", "192.0.2.53", 53, kUdp, ANYLB_ENCAP_GUE, "10.2.0.", 4));
  s.vips.push_back(vip("web6", "2001:db8::10", 443, kTcp, ANYLB_ENCAP_IPIP, "fd00:1::", 5));
  s.vips.push_back(vip("quic", "192.0.2.10", 443, kUdp, ANYLB_ENCAP_GUE, "fd00:4::", 4));
  return s;
}

inline ForwardingState bench_state() {
  auto r = build_forwarding_state(bench_spec(), nullptr);
  if (!r) die(r.error().message);
  return std::move(*r);
}

// Where a key set's flows go; make_flows() cycles through the list.
struct Destination {
  IpAddress address;
  uint16_t port;  // host order
  uint8_t proto;
};

// web:80/tcp, web-tls:443/tcp, dns:53/udp in turn.
inline std::vector<Destination> v4_vips() {
  return {{addr("192.0.2.10"), 80, kTcp}, {addr("192.0.2.10"), 443, kTcp},
          {addr("192.0.2.53"), 53, kUdp}};
}
inline std::vector<Destination> v6_vip() { return {{addr("2001:db8::10"), 443, kTcp}}; }
inline std::vector<Destination> quic_vip() { return {{addr("192.0.2.10"), 443, kUdp}}; }
// An address of the node itself (ssh): not a VIP, passed to the kernel.
inline std::vector<Destination> non_vip() { return {{addr("198.51.100.1"), 22, kTcp}}; }

// `count` distinct client flows with random client addresses and ports, the
// client of the destination's family.
inline std::vector<anylb_flow_key> make_flows(size_t count, const std::vector<Destination>& dests,
                                              std::mt19937_64& rng) {
  std::vector<anylb_flow_key> keys;
  keys.reserve(count);
  std::unordered_set<uint64_t> seen;
  while (keys.size() < count) {
    const uint64_t r = rng();
    const uint16_t sport = static_cast<uint16_t>(1024 + (r >> 32) % (65536 - 1024));
    // The low 32 random bits go into the client address: with the port they
    // make the flow distinct.
    if (!seen.insert((r & 0xffffffffull) << 16 | sport).second) continue;
    const Destination& d = dests[keys.size() % dests.size()];
    IpAddress client;
    if (d.address.is_v6()) {
      client = addr("2001:db8:c000::");
      const uint64_t low = (r & 0xffffffffull) | (rng() << 32);
      for (int b = 0; b < 8; ++b) client.bytes[8 + b] = static_cast<uint8_t>(low >> (8 * b));
    } else {
      client = IpAddress::v4(static_cast<uint8_t>(r), static_cast<uint8_t>(r >> 8),
                             static_cast<uint8_t>(r >> 16), static_cast<uint8_t>(r >> 24));
    }
    keys.push_back(make_flow_key(client, sport, d.address, d.port, d.proto));
  }
  return keys;
}

// Frames laid out back to back, each with SyntheticFrame::kHeadroom bytes of
// headroom, at a fixed 64-byte-aligned stride, as a NIC's receive ring would
// hand them over.
//
// Restoring a frame after decide(): on TX, encapsulation writes only into the
// headroom and over the frame's L2 header (the new outer headers end where the
// inner IP packet starts); on PASS nothing is written. So a restore copies
// back the 14-byte Ethernet header (the same for every frame of an arena:
// finalize() checks) and resets the PacketBuffer. verify_restore() checks on a
// real run that this brings back every byte of the frame.
class FrameArena {
 public:
  static constexpr uint32_t kHeadroom = SyntheticFrame::kHeadroom;

  explicit FrameArena(size_t count, uint32_t stride = 256)
      : count_(count), stride_(stride), len_(count, 0) {
    if (stride % 64 != 0 || stride <= kHeadroom) die("bad arena stride");
    mem_.reset(static_cast<uint8_t*>(::operator new(count * stride, std::align_val_t{64})));
    std::memset(mem_.get(), 0, count * stride);
  }

  size_t size() const { return count_; }
  uint8_t* frame(size_t i) { return mem_.get() + i * stride_ + kHeadroom; }
  const uint8_t* frame(size_t i) const { return mem_.get() + i * stride_ + kHeadroom; }
  uint32_t len(size_t i) const { return len_[i]; }
  std::span<const uint8_t> bytes(size_t i) const { return {frame(i), len_[i]}; }

  void set(size_t i, const uint8_t* frame_bytes, uint32_t len) {
    if (len > stride_ - kHeadroom) die("frame too long for the arena stride");
    std::memcpy(frame(i), frame_bytes, len);
    len_[i] = len;
  }
  void set(size_t i, SyntheticFrame& f) { set(i, f.storage.data() + kHeadroom, f.len); }

  // Call once all frames are set: records the L2 header restore() writes back.
  void finalize() {
    std::memcpy(l2_.data(), frame(0), kL2Len);
    for (size_t i = 0; i < count_; ++i) {
      if (len_[i] < kL2Len || std::memcmp(frame(i), l2_.data(), kL2Len) != 0) {
        die("arena frames must share one untagged Ethernet header");
      }
    }
  }

  // The frame as it arrived, ready for decide(). Cheap: one 14-byte copy.
  PacketBuffer restore(size_t i) {
    uint8_t* f = frame(i);
    std::memcpy(f, l2_.data(), kL2Len);
    return {f, len_[i], kHeadroom};
  }

  std::vector<uint8_t> snapshot() const {
    return std::vector<uint8_t>(mem_.get(), mem_.get() + count_ * stride_);
  }
  std::span<const uint8_t> in_snapshot(const std::vector<uint8_t>& snap, size_t i) const {
    return {snap.data() + i * stride_ + kHeadroom, len_[i]};
  }

 private:
  static constexpr uint32_t kL2Len = 14;
  struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  size_t count_;
  uint32_t stride_;
  std::unique_ptr<uint8_t, AlignedDelete> mem_;
  std::vector<uint32_t> len_;
  std::array<uint8_t, kL2Len> l2_{};
};

// TCP over IPv6 with one 8-byte Destination Options header (a PadN option)
// between the IPv6 and TCP headers. The TCP checksum does not cover
// extension headers, so the synthetic frame's stays valid.
inline std::vector<uint8_t> tcp6_with_dest_opts(const anylb_flow_key& key, uint8_t flags) {
  SyntheticFrame f = make_flow_frame(key, flags);
  const uint8_t* p = f.storage.data() + SyntheticFrame::kHeadroom;
  constexpr size_t kL3 = 14, kExtAt = kL3 + 40;
  std::vector<uint8_t> out(p, p + kExtAt);
  const uint8_t ext[8] = {kTcp, 0, 0x01, 0x04, 0, 0, 0, 0};  // next: TCP; len 0; PadN(4)
  out.insert(out.end(), ext, ext + 8);
  out.insert(out.end(), p + kExtAt, p + f.len);
  out[kL3 + 6] = 60;  // next header: Destination Options
  const uint16_t payload = static_cast<uint16_t>(((out[kL3 + 4] << 8) | out[kL3 + 5]) + 8);
  out[kL3 + 4] = static_cast<uint8_t>(payload >> 8);
  out[kL3 + 5] = static_cast<uint8_t>(payload);
  return out;
}

// An arena with one frame per key: TCP keys get `tcp_flags`, UDP keys none;
// `payload` zero bytes after the L4 header.
inline FrameArena make_arena(const std::vector<anylb_flow_key>& keys, uint8_t tcp_flags,
                             uint16_t payload = 0) {
  uint32_t stride = 256;
  while (stride < FrameArena::kHeadroom + 14 + 40 + 20 + payload) stride *= 2;
  FrameArena a(keys.size(), stride);
  for (size_t i = 0; i < keys.size(); ++i) {
    SyntheticFrame f = make_flow_frame(keys[i], tcp_flags, payload);
    a.set(i, f);
  }
  a.finalize();
  return a;
}

// A forwarding state, this core's flow table and counters, and the frames.
struct DecideFixture {
  ForwardingState state = bench_state();
  FlowTable flows;
  std::unique_ptr<Counters> counters = std::make_unique<Counters>();
  FrameArena frames;
  uint32_t now_ms = 1'000'000;

  DecideFixture(uint32_t flow_capacity, FrameArena arena)
      : flows(flow_capacity, FlowTimeoutsMs{}), frames(std::move(arena)) {}
};

// Runs every frame of the fixture through decide() twice with a restore in
// between, and once more from a fresh full copy, and checks that (1) the
// restore brings back every byte of the frame, (2) the decisions and output
// frames are identical, (3) the verdict is `expected`. The flow table sees the
// frames' flows, so this doubles as the warm-up pass.
inline void verify_restore(DecideFixture& fx, anylb_verdict expected) {
  const std::vector<uint8_t> pristine = fx.frames.snapshot();
  std::vector<uint8_t> out1, scratch;
  auto same = [](const Decision& a, const Decision& b) {
    return a.verdict == b.verdict && a.reason == b.reason && a.vip_id == b.vip_id &&
           a.backend_id == b.backend_id && a.flow_hash == b.flow_hash;
  };
  for (size_t i = 0; i < fx.frames.size(); ++i) {
    PacketBuffer buf = fx.frames.restore(i);
    const Decision d1 = decide(buf, fx.state, fx.flows, fx.now_ms, *fx.counters);
    if (d1.verdict != expected) {
      die("frame " + std::to_string(i) + ": verdict " + verdict_name(d1.verdict) + " (" +
          drop_reason_name(d1.reason) + "), expected " + verdict_name(expected));
    }
    out1.assign(buf.data, buf.data + buf.len);

    buf = fx.frames.restore(i);
    const auto orig = fx.frames.in_snapshot(pristine, i);
    if (buf.len != orig.size() || std::memcmp(buf.data, orig.data(), orig.size()) != 0) {
      die("frame " + std::to_string(i) + ": restore does not give back the original frame");
    }
    const Decision d2 = decide(buf, fx.state, fx.flows, fx.now_ms, *fx.counters);
    if (!same(d1, d2) || buf.len != out1.size() ||
        std::memcmp(buf.data, out1.data(), out1.size()) != 0) {
      die("frame " + std::to_string(i) + ": restored frame decided differently");
    }

    scratch.assign(FrameArena::kHeadroom + orig.size(), 0);
    std::memcpy(scratch.data() + FrameArena::kHeadroom, orig.data(), orig.size());
    PacketBuffer fresh{scratch.data() + FrameArena::kHeadroom, static_cast<uint32_t>(orig.size()),
                       FrameArena::kHeadroom};
    const Decision d3 = decide(fresh, fx.state, fx.flows, fx.now_ms, *fx.counters);
    if (!same(d1, d3) || fresh.len != out1.size() ||
        std::memcmp(fresh.data, out1.data(), out1.size()) != 0) {
      die("frame " + std::to_string(i) + ": fresh copy decided differently from the arena frame");
    }
  }
  for (size_t i = 0; i < fx.frames.size(); ++i) fx.frames.restore(i);
}

}  // namespace anylb::bench
