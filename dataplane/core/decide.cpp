#include "decide.h"

#include <algorithm>

#include "encap.h"
#include "flow_hash.h"
#include "flow_key.h"
#include "icmp_echo.h"
#include "maglev.h"
#include "packet_view.h"

namespace anylb {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;

void pass(Decision& d, Counters& c) {
  d.verdict = ANYLB_VERDICT_PASS;
  ++c.path.passed;
}

void drop(Decision& d, anylb_drop_reason reason, Counters& c) {
  d.verdict = ANYLB_VERDICT_DROP;
  d.reason = reason;
  ++c.drops[reason];
  if (d.vip_id < c.vip.size()) ++c.vip[d.vip_id].drops;
}

bool usable_for(const Backend* b, const Vip& vip) {
  return b != nullptr && b->vip_id == vip.id && b->state != ANYLB_BACKEND_DOWN;
}

// The Maglev choice for a flow hash. Sets d.slot; returns the backend, or
// null with `reason` set.
const Backend* pick(const ForwardingState& st, const Vip& vip, uint32_t hash, Decision& d,
                    anylb_drop_reason& reason) {
  const auto& slots = vip.table.slots;
  if (slots.empty()) {
    reason = ANYLB_DROP_NO_BACKEND;
    return nullptr;
  }
  d.slot = maglev_slot(hash, static_cast<uint32_t>(slots.size()));
  const uint32_t id = slots[d.slot];
  if (id == ANYLB_INVALID_ID) {
    reason = ANYLB_DROP_NO_BACKEND;
    return nullptr;
  }
  const Backend* b = st.backend(id);
  if (b == nullptr) reason = ANYLB_DROP_BACKEND_MISSING;
  return b;
}

void forward(Decision& d, PacketBuffer& buf, const PacketView& v, const ForwardingState& st,
                 const Vip& vip, const Backend& b, Counters& c) {
  d.backend_id = b.id;
  const anylb_drop_reason r = encap_packet(vip.encap, buf, v, b.address, d.flow_hash, st.encap);
  if (r != ANYLB_DROP_NONE) return drop(d, r, c);
  d.verdict = ANYLB_VERDICT_TX;
  ++c.path.transmitted;
  if (vip.id < c.vip.size()) {
    ++c.vip[vip.id].packets;
    c.vip[vip.id].bytes += v.l3_length;
  }
  if (b.id < c.backend.size()) {
    ++c.backend[b.id].packets;
    c.backend[b.id].bytes += v.l3_length;
  }
}

// ICMP errors about a flow go where the flow goes, so that the backend's stack
// learns of path MTU drops and unreachable clients. The quoted packet is the
// backend's reply (VIP -> client); the flow is its reverse. No flow entry is
// made or refreshed: an error must not keep a flow alive.
void route_icmp_error(Decision& d, PacketBuffer& buf, const PacketView& v,
                          const ForwardingState& st, FlowTable& flows, uint32_t now_ms,
                          Counters& c) {
  const anylb_flow_key flow = reverse_flow_key(v.inner_key);
  // The same address-then-port walk as a packet's own VIP lookup.
  const VipAddressInfo* addr = st.find_address(flow.dst, flow.family);
  const Vip* vip =
      addr ? st.find_vip(*addr, flow.dst, flow.family, ntoh16(flow.dport), flow.proto) : nullptr;
  if (vip == nullptr) return drop(d, ANYLB_DROP_ICMP_UNHANDLED, c);
  d.vip_id = vip->id;
  d.path = DecisionPath::IcmpError;
  d.flow_hash = flow_hash(flow, st.hash_seed);
  const FlowEntry* e = flows.peek(flow, d.flow_hash, now_ms);
  const Backend* b = e ? st.backend(e->backend_id) : nullptr;
  if (!usable_for(b, *vip)) {
    anylb_drop_reason reason = ANYLB_DROP_NONE;
    b = pick(st, *vip, d.flow_hash, d, reason);
    if (b == nullptr) return drop(d, reason, c);
  }
  ++c.path.icmp_errors_routed;
  return forward(d, buf, v, st, *vip, *b, c);
}

// Fragments after the first carry no ports, so every fragment of a datagram is
// hashed on addresses and protocol alone and sent to the same backend, which
// reassembles. A flow's fragments may thus reach another backend than its
// unfragmented packets: acceptable for the datagram protocols that fragment.
void route_fragment(Decision& d, PacketBuffer& buf, const PacketView& v,
                        const ForwardingState& st, const VipAddressInfo& addr, Counters& c) {
  const int proto_slot = v.l4_proto == kProtoTcp ? 0 : v.l4_proto == kProtoUdp ? 1 : -1;
  if (proto_slot < 0) return drop(d, ANYLB_DROP_FRAGMENT_UNROUTABLE, c);
  const uint32_t vip_id = addr.fragment_vip[proto_slot];
  const Vip* vip = st.vip(vip_id);
  if (vip == nullptr) return drop(d, ANYLB_DROP_FRAGMENT_UNROUTABLE, c);
  d.vip_id = vip->id;
  d.path = DecisionPath::Fragment;
  anylb_flow_key key = v.key;
  key.sport = 0;
  key.dport = 0;
  d.flow_hash = flow_hash(key, st.hash_seed);
  anylb_drop_reason reason = ANYLB_DROP_NONE;
  const Backend* b = pick(st, *vip, d.flow_hash, d, reason);
  if (b == nullptr) return drop(d, reason, c);
  ++c.path.fragments_routed;
  return forward(d, buf, v, st, *vip, *b, c);
}

}  // namespace

uint8_t initial_flow_state(uint8_t protocol, uint8_t tcp_flags) {
  if (protocol == kProtoUdp) return ANYLB_FLOW_UDP;
  if (protocol != kProtoTcp) return ANYLB_FLOW_OTHER;
  if (tcp_flags & (kTcpFin | kTcpRst)) return ANYLB_FLOW_TCP_CLOSING;
  if (tcp_flags & kTcpSyn) return ANYLB_FLOW_TCP_SYN;
  return ANYLB_FLOW_TCP_ESTABLISHED;
}

uint8_t next_tcp_flow_state(uint8_t current, uint8_t flags) {
  if (flags & (kTcpFin | kTcpRst)) return ANYLB_FLOW_TCP_CLOSING;
  if (flags & kTcpSyn) {
    // A SYN after the close is a new connection reusing the 4-tuple.
    return current == ANYLB_FLOW_TCP_CLOSING ? uint8_t{ANYLB_FLOW_TCP_SYN} : current;
  }
  // Late ACKs after a FIN do not reopen the flow.
  return current == ANYLB_FLOW_TCP_CLOSING ? current : uint8_t{ANYLB_FLOW_TCP_ESTABLISHED};
}

namespace {

// What the decision learns before it touches the flow table. decide_burst()
// prepares a whole burst first, so that the flow-table lines of every packet
// are in flight before the first one is needed.
struct PreparedPacket {
  PacketView view;
  anylb_drop_reason parsed = ANYLB_DROP_NONE;
  const VipAddressInfo* addr = nullptr;  // destination is a VIP address
  const Vip* vip = nullptr;              // set only for the flow-table path
  uint32_t hash = 0;
};

void prepare_packet(const PacketBuffer& buf, const ForwardingState& st, PreparedPacket& p) {
  p.parsed = parse_frame(buf.frame(), p.view);
  p.addr = p.view.l3_ok ? st.find_address(p.view.key.dst, p.view.family) : nullptr;
  p.vip = nullptr;
  const PacketView& v = p.view;
  if (p.parsed != ANYLB_DROP_NONE || p.addr == nullptr || v.icmp != IcmpKind::None ||
      v.fragment != FragmentKind::None) {
    return;
  }
  p.vip = st.find_vip(*p.addr, v.key.dst, v.family, ntoh16(v.key.dport), v.l4_proto);
  if (p.vip != nullptr) p.hash = flow_hash(v.key, st.hash_seed);
}

// Fills `d` (default-constructed by the caller) in place: building it in
// small functions and returning it by value made the compiler copy it through
// the stack with wide loads of narrow stores, a store-forwarding stall.
void finish_packet(PacketBuffer& buf, const PreparedPacket& p, const ForwardingState& st,
                   FlowTable& flows, uint32_t now_ms, Counters& c, Decision& d) {
  const PacketView& v = p.view;
  if (p.parsed != ANYLB_DROP_NONE) {
    // Malformed traffic for the node itself is the kernel's business.
    if (v.l3_ok && p.addr == nullptr) return pass(d, c);
    return drop(d, p.parsed, c);
  }
  if (p.addr == nullptr) return pass(d, c);  // not IP, or not to a VIP address

  switch (v.icmp) {
    case IcmpKind::EchoRequest:
      if (v.fragment != FragmentKind::None) return drop(d, ANYLB_DROP_FRAGMENT_UNROUTABLE, c);
      if (auto r = reply_icmp_echo(buf, v); r != ANYLB_DROP_NONE) return drop(d, r, c);
      d.verdict = ANYLB_VERDICT_REPLY;
      d.path = DecisionPath::EchoReply;
      ++c.path.replied;
      return;
    case IcmpKind::Error:
      return route_icmp_error(d, buf, v, st, flows, now_ms, c);
    case IcmpKind::Other:
      return drop(d, ANYLB_DROP_ICMP_UNHANDLED, c);
    case IcmpKind::None:
      break;
  }
  if (v.fragment != FragmentKind::None) return route_fragment(d, buf, v, st, *p.addr, c);

  const Vip* vip = p.vip;
  if (vip == nullptr) return drop(d, ANYLB_DROP_VIP_PORT_UNKNOWN, c);
  d.vip_id = vip->id;
  d.flow_hash = p.hash;

  FlowEntry* e = flows.lookup(v.key, d.flow_hash, now_ms);
  const Backend* b = nullptr;
  ++(e != nullptr ? c.path.flow_hits : c.path.flow_misses);
  if (e != nullptr) {
    b = st.backend(e->backend_id);
    if (usable_for(b, *vip)) {
      d.path = DecisionPath::FlowHit;
    } else {
      anylb_drop_reason reason = ANYLB_DROP_NONE;
      b = pick(st, *vip, d.flow_hash, d, reason);
      if (b == nullptr) return drop(d, reason, c);
      e->backend_id = b->id;
      e->vip_id = vip->id;
      d.path = DecisionPath::Rescheduled;
      ++c.path.rescheduled;
    }
    if (v.l4_proto == kProtoTcp) {
      flows.set_state(e, next_tcp_flow_state(e->state, v.tcp_flags), now_ms);
    }
  } else {
    anylb_drop_reason reason = ANYLB_DROP_NONE;
    b = pick(st, *vip, d.flow_hash, d, reason);
    if (b == nullptr) return drop(d, reason, c);
    const uint64_t evicted_before = flows.stats().evictions;
    flows.insert(v.key, d.flow_hash, now_ms, b->id, vip->id,
                 initial_flow_state(v.l4_proto, v.tcp_flags));
    c.path.flow_evictions += flows.stats().evictions - evicted_before;
    d.path = DecisionPath::NewFlow;
    if (vip->id < c.vip.size()) ++c.vip[vip->id].new_flows;
  }
  return forward(d, buf, v, st, *vip, *b, c);
}

}  // namespace

Decision decide(PacketBuffer& buf, const ForwardingState& st, FlowTable& flows, uint32_t now_ms,
                Counters& c) {
  PreparedPacket p;
  prepare_packet(buf, st, p);
  Decision d;
  finish_packet(buf, p, st, flows, now_ms, c, d);
  return d;
}

void decide_burst(std::span<PacketBuffer> bufs, const ForwardingState& st, FlowTable& flows,
                  uint32_t now_ms, Counters& c, std::span<Decision> out) {
  // Passes over each chunk: parse and hash; load each flow's first bucket;
  // read the buckets again and prefetch the matching entry; decide. The cache
  // misses of a chunk overlap instead of queueing.
  PreparedPacket prepared[kMaxBurst];
  for (size_t base = 0; base < bufs.size(); base += kMaxBurst) {
    const size_t n = std::min(bufs.size() - base, kMaxBurst);
    for (size_t i = 0; i < n; ++i) prepare_packet(bufs[base + i], st, prepared[i]);
    // Every first bucket of the chunk is loaded back to back, by loads rather
    // than prefetches. In this loop the misses (and their TLB walks: nested
    // ones in a VM) all overlap; interleaved with the parses, only two or
    // three fit in the reorder window. And a software prefetch that misses
    // the TLB while the page walkers are busy may be dropped, where a load
    // waits its turn.
    for (size_t i = 0; i < n; ++i) {
      if (prepared[i].vip != nullptr) flows.load_bucket(prepared[i].hash);
    }
    for (size_t i = 0; i < n; ++i) {
      if (prepared[i].vip != nullptr) flows.prefetch_entry(prepared[i].hash);
    }
    for (size_t i = 0; i < n; ++i) {
      out[base + i] = Decision{};
      finish_packet(bufs[base + i], prepared[i], st, flows, now_ms, c, out[base + i]);
    }
  }
}

const char* verdict_name(anylb_verdict verdict) {
  switch (verdict) {
    case ANYLB_VERDICT_PASS: return "pass";
    case ANYLB_VERDICT_DROP: return "drop";
    case ANYLB_VERDICT_TX: return "tx";
    case ANYLB_VERDICT_REPLY: return "reply";
  }
  return "unknown";
}

const char* decision_path_name(DecisionPath path) {
  switch (path) {
    case DecisionPath::None: return "none";
    case DecisionPath::FlowHit: return "flow-table hit";
    case DecisionPath::NewFlow: return "new flow (maglev)";
    case DecisionPath::Rescheduled: return "rescheduled (backend gone)";
    case DecisionPath::Fragment: return "fragment (maglev on addresses)";
    case DecisionPath::IcmpError: return "icmp error (follows quoted flow)";
    case DecisionPath::EchoReply: return "echo reply";
  }
  return "unknown";
}

}  // namespace anylb
