// libFuzzer target: any bytes as a received frame, through parse_frame() and
// decide() against a small fixed forwarding state, with invariants on the
// result checked by __builtin_trap(). Built with ASan and UBSan over the core
// sources too, so any read or write outside [data - headroom, data + len) is
// caught: the buffer is an exact-size heap block.
//
// One flow table (4096 entries) and a fake ms clock are shared across inputs,
// so that hits, expiries, evictions and rescheduling get exercised; a crash
// found after many inputs may therefore need the same history to reproduce.
//
// Each input is decided twice, each time on a fresh copy: once against state
// A (all backends up) or B (some down, draining, removed, weight 0), then
// against the other one, so that every input exercises the flow-table paths
// (hit, reschedule, expiry) itself rather than through the fuzzer's history.
//
// The source MAC (bytes 6..11) is never looked at by the decision, so it is
// used here as knobs the fuzzer can turn:
//   byte 10       the clock advances 1 + byte*64 ms before the first decision
//                 (0-16 s: SYN, closing and UDP timeouts are within reach);
//   byte 11 bit 0 the first decision is against state B, the second against A;
//   byte 11 >> 1  the clock advances that many times 128 ms between the two.
// And the destination MAC's multicast bit (byte 0 bit 0): headroom is byte 1
// mod 80 instead of 128, so the no-headroom path gets exercised.
//
// FUZZ_DECIDE_VERBOSE=1 in the environment prints each decision (to check
// what seeds exercise: `fuzz_decide -runs=0 corpus/`).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>

#include "dataplane/core/abi.h"
#include "dataplane/core/checksum.h"
#include "dataplane/core/counters.h"
#include "dataplane/core/decide.h"
#include "dataplane/core/encap.h"
#include "dataplane/core/flow_table.h"
#include "dataplane/core/forwarding_state.h"
#include "dataplane/core/packet_buffer.h"
#include "dataplane/core/packet_view.h"
#include "tests/fuzz/fuzz_check.h"

namespace anylb {
namespace {

constexpr uint32_t kDefaultHeadroom = 128;
constexpr size_t kMaxFrame = 16384;
constexpr uint32_t kMaxEncapGrowth = 48 + 4;  // outer IPv6 + UDP, and slack for a VLAN tag

IpAddress addr(const char* text) {
  auto r = parse_ip_address(text);
  if (!r) {
    std::fprintf(stderr, "fuzz_decide: %s\n", r.error().message.c_str());
    std::abort();
  }
  return *r;
}

// web     192.0.2.10:80/tcp      ipip  10.1.0.1-3
// web-tls 192.0.2.10:443/tcp     gue   10.1.1.1-2
// dns     192.0.2.53:53/udp      gue   10.2.0.1-2
// any     192.0.2.20:*/udp       gue   fd00:2::1          (port-less, 4in6 GUE)
// two     192.0.2.30:80 and :443/tcp ipip 10.3.0.1         (fragments ambiguous)
// empty   192.0.2.40:80/tcp      ipip  (no backends)
// web6    [2001:db8::10]:443/tcp ipip  fd00:1::1-2
// gue6    [2001:db8::11]:53/udp  gue   fd00:3::1-2        (6in6 GUE: UDP checksum)
// State B: web 10.1.0.2 down, 10.1.0.3 draining; dns 10.2.0.1 weight 0;
// web6 fd00:1::2 removed; any's only backend down.
StateSpec fuzz_spec(bool variant_b) {
  StateSpec s;
  s.hash_seed = 0x5eed1e55;
  s.encap.gateway_mac = {0x02, 0, 0, 0, 0, 0x01};
  s.encap.source_v4 = addr("10.100.0.1");
  s.encap.source_v6_prefix = *parse_ip_prefix("fd00:100::/120");
  s.encap.gue_port = 6080;
  s.encap.mtu = 1500;
  auto vip = [](const char* name, const char* address, uint16_t port, uint8_t proto,
                anylb_encap encap, uint32_t table_size) {
    VipSpec v;
    v.name = name;
    v.address = addr(address);
    v.port = port;
    v.protocol = proto;
    v.encap = encap;
    v.table_size = table_size;
    return v;
  };
  auto backend = [](const char* a, uint32_t weight = 100,
                    anylb_backend_state state = ANYLB_BACKEND_ACTIVE) {
    return BackendSpec{addr(a), weight, state};
  };
  const bool b = variant_b;
  VipSpec web = vip("web", "192.0.2.10", 80, 6, ANYLB_ENCAP_IPIP, 1009);
  web.backends = {backend("10.1.0.1"),
                  backend("10.1.0.2", 100, b ? ANYLB_BACKEND_DOWN : ANYLB_BACKEND_ACTIVE),
                  backend("10.1.0.3", 50, b ? ANYLB_BACKEND_DRAINING : ANYLB_BACKEND_ACTIVE)};
  VipSpec tls = vip("web-tls", "192.0.2.10", 443, 6, ANYLB_ENCAP_GUE, 251);
  tls.backends = {backend("10.1.1.1"), backend("10.1.1.2")};
  VipSpec dns = vip("dns", "192.0.2.53", 53, 17, ANYLB_ENCAP_GUE, 251);
  dns.backends = {backend("10.2.0.1", b ? 0 : 100), backend("10.2.0.2")};
  VipSpec any = vip("any", "192.0.2.20", 0, 17, ANYLB_ENCAP_GUE, 251);
  any.backends = {backend("fd00:2::1", 100, b ? ANYLB_BACKEND_DOWN : ANYLB_BACKEND_ACTIVE)};
  VipSpec two80 = vip("two-80", "192.0.2.30", 80, 6, ANYLB_ENCAP_IPIP, 251);
  two80.backends = {backend("10.3.0.1")};
  VipSpec two443 = vip("two-443", "192.0.2.30", 443, 6, ANYLB_ENCAP_IPIP, 251);
  two443.backends = {backend("10.3.0.1")};
  VipSpec empty = vip("empty", "192.0.2.40", 80, 6, ANYLB_ENCAP_IPIP, 251);
  VipSpec web6 = vip("web6", "2001:db8::10", 443, 6, ANYLB_ENCAP_IPIP, 1009);
  web6.backends = {backend("fd00:1::1")};
  if (!b) web6.backends.push_back(backend("fd00:1::2"));
  VipSpec gue6 = vip("gue6", "2001:db8::11", 53, 17, ANYLB_ENCAP_GUE, 251);
  gue6.backends = {backend("fd00:3::1"), backend("fd00:3::2")};
  s.vips = {web, tls, dns, any, two80, two443, empty, web6, gue6};
  return s;
}

struct Harness {
  ForwardingState a;
  ForwardingState b;
  FlowTable flows{4096, FlowTimeoutsMs{}};
  std::unique_ptr<Counters> counters = std::make_unique<Counters>();
  uint32_t now_ms = 0xffff0000u;  // the ms clock wraps after ~65 s of fake time

  Harness() {
    auto ra = build_forwarding_state(fuzz_spec(false), nullptr);
    if (!ra) std::abort();
    a = std::move(*ra);
    auto rb = build_forwarding_state(fuzz_spec(true), &a);
    if (!rb) std::abort();
    b = std::move(*rb);
  }
};

uint64_t decisions_counted(const Counters& c) {
  return c.path.passed + c.path.transmitted + c.path.replied +
         std::accumulate(c.drops.begin(), c.drops.end(), uint64_t{0});
}

// One's-complement sum check: the bytes, checksum field included, sum to 0xffff.
bool checksum_ok(uint32_t sum) { return csum_fold(sum) == 0xffff; }

// The ICMP/ICMPv6 checksum of the IP packet at `ip` as described by `v`.
bool icmp_checksum_ok(const uint8_t* frame, const PacketView& v) {
  const uint8_t* ip = frame + v.l3_offset;
  const uint8_t* icmp = frame + v.l4_offset;
  const uint32_t len = v.l3_offset + v.l3_length - v.l4_offset;
  uint32_t sum = 0;
  if (v.family == 6) sum = csum_pseudo_v6(ip + 8, ip + 24, 58, len);
  return checksum_ok(csum_add_bytes(sum, icmp, len));
}

void check_tx(const Decision& d, const ForwardingState& st, const PacketBuffer& buf,
              const uint8_t* in, size_t in_len, const PacketView& in_view) {
  FUZZ_CHECK(d.reason == ANYLB_DROP_NONE);
  const Vip* vip = st.vip(d.vip_id);
  const Backend* backend = st.backend(d.backend_id);
  FUZZ_CHECK(vip != nullptr);
  FUZZ_CHECK(backend != nullptr);
  FUZZ_CHECK(backend->vip_id == vip->id);
  FUZZ_CHECK(backend->state != ANYLB_BACKEND_DOWN);
  FUZZ_CHECK(buf.len <= in_len + kMaxEncapGrowth);
  FUZZ_CHECK(buf.len >= 34);

  // Ethernet: to the gateway, from the MAC the frame arrived on, same VLAN tag.
  const uint8_t* f = buf.data;
  FUZZ_CHECK(std::memcmp(f, st.encap.gateway_mac.data(), 6) == 0);
  FUZZ_CHECK(std::memcmp(f + 6, in, 6) == 0);
  size_t l2 = 14;
  if (in_view.has_vlan) {
    FUZZ_CHECK(load_be16(f + 12) == 0x8100);
    FUZZ_CHECK(load_be16(f + 14) == in_view.vlan_tci);
    l2 = 18;
  }
  const uint16_t ethertype = load_be16(f + l2 - 2);
  const uint8_t* outer = f + l2;
  const IpAddress& dst = backend->address;
  uint8_t proto = 0;
  size_t outer_len = 0;
  if (dst.is_v4()) {
    FUZZ_CHECK(ethertype == 0x0800);
    FUZZ_CHECK(buf.len >= l2 + 20);
    FUZZ_CHECK(outer[0] == 0x45);
    FUZZ_CHECK(checksum_ok(csum_add_bytes(0, outer, 20)));
    FUZZ_CHECK(load_be16(outer + 2) == buf.len - l2);
    FUZZ_CHECK(std::memcmp(outer + 16, dst.bytes.data(), 4) == 0);
    proto = outer[9];
    outer_len = 20;
  } else {
    FUZZ_CHECK(ethertype == 0x86dd);
    FUZZ_CHECK(buf.len >= l2 + 40);
    FUZZ_CHECK((outer[0] >> 4) == 6);
    FUZZ_CHECK(load_be16(outer + 4) == buf.len - l2 - 40);
    FUZZ_CHECK(std::memcmp(outer + 24, dst.bytes.data(), 16) == 0);
    proto = outer[6];
    outer_len = 40;
  }
  if (vip->encap == ANYLB_ENCAP_GUE) {
    FUZZ_CHECK(proto == 17);
    const uint8_t* udp = outer + outer_len;
    FUZZ_CHECK(load_be16(udp + 2) == st.encap.gue_port);
    FUZZ_CHECK(load_be16(udp + 4) == buf.len - l2 - outer_len);
    if (dst.is_v6()) {
      const uint32_t udp_len = static_cast<uint32_t>(buf.len - l2 - outer_len);
      FUZZ_CHECK(load_be16(udp + 6) != 0);
      FUZZ_CHECK(checksum_ok(
          csum_add_bytes(csum_pseudo_v6(outer + 8, outer + 24, 17, udp_len), udp, udp_len)));
    }
    outer_len += 8;
  } else {
    FUZZ_CHECK(proto == (in_view.family == 4 ? 4 : 41));
  }
  // The inner packet is the client's IP packet, byte for byte, without padding.
  FUZZ_CHECK(buf.len == l2 + outer_len + in_view.l3_length);
  FUZZ_CHECK(std::memcmp(f + l2 + outer_len, in + in_view.l3_offset, in_view.l3_length) == 0);
}

void check_reply(const PacketBuffer& buf, const uint8_t* base, uint32_t headroom,
                 const uint8_t* in, size_t in_len, const PacketView& in_view) {
  FUZZ_CHECK(buf.data == base + headroom);
  FUZZ_CHECK(buf.len <= in_len);
  FUZZ_CHECK(in_view.icmp == IcmpKind::EchoRequest);
  const uint8_t* f = buf.data;
  // Back to where it came from, from the VIP.
  FUZZ_CHECK(std::memcmp(f, in + 6, 6) == 0);
  FUZZ_CHECK(std::memcmp(f + 6, in, 6) == 0);
  const uint8_t* ip = f + in_view.l3_offset;
  const uint8_t* in_ip = in + in_view.l3_offset;
  if (in_view.family == 4) {
    FUZZ_CHECK(checksum_ok(csum_add_bytes(0, ip, 20)));
    FUZZ_CHECK(std::memcmp(ip + 12, in_ip + 16, 4) == 0);
    FUZZ_CHECK(f[in_view.l4_offset] == 0);
  } else {
    FUZZ_CHECK(std::memcmp(ip + 8, in_ip + 24, 16) == 0);
    FUZZ_CHECK(f[in_view.l4_offset] == 129);
  }
  // The checksum is updated incrementally: a request with a good one gets a reply with a good one.
  if (icmp_checksum_ok(in, in_view)) FUZZ_CHECK(icmp_checksum_ok(f, in_view));
}

// One decision on a fresh copy of the input, and every invariant on it.
Decision decide_and_check(Harness& h, const ForwardingState& st, const uint8_t* data, size_t size,
                          uint32_t headroom) {
  // Exactly [data - headroom, data + len): ASan reports any access outside.
  std::unique_ptr<uint8_t[]> mem(new uint8_t[headroom + size]);
  std::memset(mem.get(), 0xa5, headroom);
  if (size > 0) std::memcpy(mem.get() + headroom, data, size);
  PacketBuffer buf{mem.get() + headroom, static_cast<uint32_t>(size), headroom};

  PacketView view;
  const anylb_drop_reason parsed = parse_frame({data, size}, view);

  const uint64_t counted_before = decisions_counted(*h.counters);
  const Decision d = decide(buf, st, h.flows, h.now_ms, *h.counters);
  FUZZ_CHECK(decisions_counted(*h.counters) == counted_before + 1);
  static const bool verbose = std::getenv("FUZZ_DECIDE_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "fuzz_decide: %zu bytes, state %c, t=%u: %s %s, path %s, vip %u, backend %u\n",
                 size, &st == &h.a ? 'A' : 'B', h.now_ms, verdict_name(d.verdict),
                 drop_reason_name(d.reason), decision_path_name(d.path), d.vip_id, d.backend_id);
  }
  FUZZ_CHECK(buf.headroom == static_cast<uint32_t>(buf.data - mem.get()));

  switch (d.verdict) {
    case ANYLB_VERDICT_PASS:
      FUZZ_CHECK(d.reason == ANYLB_DROP_NONE);
      FUZZ_CHECK(buf.data == mem.get() + headroom && buf.len == size);
      FUZZ_CHECK(size == 0 || std::memcmp(buf.data, data, size) == 0);
      break;
    case ANYLB_VERDICT_DROP:
      FUZZ_CHECK(d.reason != ANYLB_DROP_NONE && d.reason < ANYLB_DROP_REASON_COUNT);
      break;
    case ANYLB_VERDICT_TX:
      FUZZ_CHECK(parsed == ANYLB_DROP_NONE);
      FUZZ_CHECK(buf.data >= mem.get() && buf.data + buf.len <= mem.get() + headroom + size);
      check_tx(d, st, buf, data, size, view);
      break;
    case ANYLB_VERDICT_REPLY:
      FUZZ_CHECK(parsed == ANYLB_DROP_NONE);
      check_reply(buf, mem.get(), headroom, data, size, view);
      break;
    default:
      FUZZ_CHECK(false);
  }
  return d;
}

}  // namespace
}  // namespace anylb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace anylb;
  static Harness& h = *new Harness();
  if (size > kMaxFrame) return 0;

  const uint32_t headroom =
      size >= 2 && (data[0] & 1) ? uint32_t{data[1]} % 80 : kDefaultHeadroom;
  const uint8_t knobs = size >= 12 ? data[11] : 0;
  const bool b_first = (knobs & 1) != 0;
  if (size >= 11) h.now_ms += 1 + uint32_t{data[10]} * 64;
  const Decision first = decide_and_check(h, b_first ? h.b : h.a, data, size, headroom);

  // The same frame again under the other state: the flow is usually in the
  // table now, so this is a hit, a reschedule (backend down or removed), or
  // an expiry, depending on the clock.
  h.now_ms += static_cast<uint32_t>(knobs >> 1) * 128;
  const Decision second = decide_and_check(h, b_first ? h.a : h.b, data, size, headroom);
  // Both states have the same VIP addresses, so whether the frame is passed,
  // answered, or dropped as malformed cannot change between them.
  auto malformed = [](const Decision& d) {
    return d.verdict == ANYLB_VERDICT_DROP && d.reason <= ANYLB_DROP_ICMP_INNER_MALFORMED;
  };
  FUZZ_CHECK(first.verdict == second.verdict ||
             (first.verdict != ANYLB_VERDICT_PASS && second.verdict != ANYLB_VERDICT_PASS &&
              first.verdict != ANYLB_VERDICT_REPLY && second.verdict != ANYLB_VERDICT_REPLY));
  FUZZ_CHECK(malformed(first) == malformed(second));
  return 0;
}
