// The XDP program against the C++ model, frame for frame: verdict, drop
// reason and output bytes must be equal, across a long sequence that builds
// up flow-table state and flips tables in the middle. Runs the program with
// BPF_PROG_TEST_RUN on one CPU (its per-CPU flow table is the model's one).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "dataplane/core/decide.h"
#include "dataplane/core/flow_key.h"
#include "dataplane/core/packet_view.h"
#include "dataplane/replay/frame_decider.h"
#include "tests/unit/frames.h"
#include "tests/unit/mixed_traffic.h"
#include "xdp/xdp_decider.h"

namespace anylb::test {
namespace {

std::string hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%02x", x);
    s += buf;
  }
  return s;
}

std::unique_ptr<XdpDecider> make_xdp(const ForwardingState& st, const FlowTimeoutsMs& t) {
  auto x = XdpDecider::create(st, 1 << 16, t);
  if (!x) {
    const std::string& m = x.error().message;
    if (geteuid() != 0) return nullptr;  // the caller skips
    ADD_FAILURE() << m;
    return nullptr;
  }
  return std::move(*x);
}

template <typename T>
T on_this_cpu(int fd, uint32_t key) {
  std::vector<T> values(static_cast<size_t>(libbpf_num_possible_cpus()));
  if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) ADD_FAILURE() << "read counters";
  return values[static_cast<size_t>(sched_getcpu())];
}

struct Mismatch {
  size_t index;
  std::string what;
};

// Runs `n` frames through both; returns the first mismatch, if any.
std::optional<Mismatch> compare(FrameDecider& model, FrameDecider& xdp, FrameSource& src, size_t n,
                                size_t base) {
  for (size_t i = 0; i < n; ++i) {
    const Bytes frame = src.next();
    auto m = model.decide(frame, monotonic_ms());
    auto x = xdp.decide(frame, 0);
    if (!m || !x) return Mismatch{base + i, !m ? m.error().message : x.error().message};
    if (m->verdict != x->verdict || m->reason != x->reason || m->out != x->out) {
      return Mismatch{base + i, std::string("model ") + verdict_name(m->verdict) + "/" +
                                    drop_reason_name(m->reason) + " xdp " +
                                    verdict_name(x->verdict) + "/" + drop_reason_name(x->reason) +
                                    "\n frame " + hex(frame) + "\n model " + hex(m->out) +
                                    "\n xdp   " + hex(x->out)};
    }
  }
  return std::nullopt;
}

TEST(XdpDifferential, TwoHundredThousandFramesWithTableFlips) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  const FlowTimeoutsMs t = long_timeouts();
  ForwardingState st = build(spec());
  auto xdp = make_xdp(st, t);
  ASSERT_NE(xdp, nullptr);
  ModelDecider model(st, 1 << 16, t);
  FrameSource src(20261128);

  auto m1 = compare(model, *xdp, src, 80'000, 0);
  ASSERT_FALSE(m1) << "frame " << m1->index << ": " << m1->what;

  // Flip: drain one backend, take one down, add one; existing flows must
  // follow the same rules on both paths.
  StateSpec changed = spec();
  changed.vips[0].backends[1].state = ANYLB_BACKEND_DRAINING;
  changed.vips[1].backends[0].state = ANYLB_BACKEND_DOWN;
  changed.vips[2].backends.push_back({ip("fd00:1::9"), 100, ANYLB_BACKEND_ACTIVE});
  ForwardingState st2 = build(changed, &st);
  ASSERT_TRUE(model.publish(st2));
  ASSERT_TRUE(xdp->publish(st2));
  auto m2 = compare(model, *xdp, src, 70'000, 80'000);
  ASSERT_FALSE(m2) << "frame " << m2->index << ": " << m2->what;

  // Flip again: a backend removed outright, a VIP removed, the table resized.
  StateSpec again = changed;
  again.vips[0].backends.erase(again.vips[0].backends.begin());
  again.vips[0].table_size = 1013;
  again.vips.erase(again.vips.begin() + 5);  // two-80 goes
  ForwardingState st3 = build(again, &st2);
  ASSERT_TRUE(model.publish(st3));
  ASSERT_TRUE(xdp->publish(st3));
  auto m3 = compare(model, *xdp, src, 60'000, 150'000);
  ASSERT_FALSE(m3) << "frame " << m3->index << ": " << m3->what;

  // The counters agree too: every path counter, every drop reason, and every
  // VIP's and backend's packets and bytes (the program's, on this CPU).
  const Counters& c = model.counters();
  const XdpMaps& maps = xdp->program().maps();
  const auto path = on_this_cpu<anylb_path_stats>(maps.path_stats, 0);
  EXPECT_EQ(std::memcmp(&path, &c.path, sizeof path), 0)
      << "passed " << path.passed << "/" << c.path.passed << " transmitted " << path.transmitted
      << "/" << c.path.transmitted << " hits " << path.flow_hits << "/" << c.path.flow_hits;
  // Runts (< 14 bytes) never reach an XDP program (see XdpDecider), so only
  // the model counts eth_truncated.
  for (uint32_t r = ANYLB_DROP_ETH_TRUNCATED + 1; r < ANYLB_DROP_REASON_COUNT; ++r) {
    EXPECT_EQ(on_this_cpu<uint64_t>(maps.drop_stats, r), c.drops[r])
        << drop_reason_name(static_cast<anylb_drop_reason>(r));
  }
  for (uint32_t id = 0; id < 32; ++id) {
    const auto v = on_this_cpu<anylb_vip_stats>(maps.vip_stats, id);
    EXPECT_EQ(std::memcmp(&v, &c.vip[id], sizeof v), 0) << "vip " << id;
    const auto b = on_this_cpu<anylb_backend_stats>(maps.backend_stats, id);
    EXPECT_EQ(std::memcmp(&b, &c.backend[id], sizeof b), 0) << "backend " << id;
  }
  EXPECT_GT(c.path.transmitted, 100'000u);
  EXPECT_GT(c.path.flow_hits, 50'000u);
}

TEST(XdpDifferential, FullTableEvictsAndCountsAlike) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  const FlowTimeoutsMs t = long_timeouts();
  ForwardingState st = build(spec());
  // 64 entries (8 buckets of 8 ways): 500 new flows must evict.
  auto x = XdpDecider::create(st, 64, t);
  ASSERT_TRUE(x.ok()) << x.error().message;
  ModelDecider model(st, 64, t);
  // Which entry goes may differ (the two read their clocks apart), but not
  // how many: with nothing expiring, a full bucket pair stays full, and the
  // pairs fill alike (same hash, same first-free-way rule).
  const uint32_t now = monotonic_ms();
  for (uint16_t p = 1000; p < 1500; ++p) {
    const Bytes f = eth_ipv4(ipv4(ip("198.51.100.9"), ip("192.0.2.10"), kIpProtoTcp, tcp(p, 80, kTcpSyn)));
    auto m = model.decide(f, now);
    auto xd = (*x)->decide(f, now);
    ASSERT_TRUE(m && xd);
    ASSERT_EQ(m->out, xd->out) << "port " << p;
  }
  const auto path = on_this_cpu<anylb_path_stats>((*x)->program().maps().path_stats, 0);
  EXPECT_GT(model.counters().path.flow_evictions, 400u);
  EXPECT_EQ(path.flow_evictions, model.counters().path.flow_evictions);
}

TEST(XdpDifferential, IdleTimeoutsExpireAlike) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  FlowTimeoutsMs t = long_timeouts();
  t.tcp_syn = 200;  // a SYN-only flow is forgotten after 200 ms
  ForwardingState st = build(spec());
  auto xdp = make_xdp(st, t);
  ASSERT_NE(xdp, nullptr);
  ModelDecider model(st, 1 << 16, t);
  // SYNs, then the table changes so Maglev would now pick differently for
  // some; after 400 ms idle both must have forgotten the SYN-only flows.
  std::vector<Bytes> syns;
  for (uint16_t p = 1000; p < 1300; ++p) {
    syns.push_back(eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp, tcp(p, 80, kTcpSyn))));
  }
  for (const auto& f : syns) {
    auto m = model.decide(f, monotonic_ms());
    auto x = xdp->decide(f, 0);
    ASSERT_TRUE(m && x);
    ASSERT_EQ(m->out, x->out);
  }
  StateSpec changed = spec();
  changed.vips[0].backends.push_back({ip("10.1.0.4"), 300, ANYLB_BACKEND_ACTIVE});
  ForwardingState st2 = build(changed, &st);
  ASSERT_TRUE(model.publish(st2));
  ASSERT_TRUE(xdp->publish(st2));
  usleep(400'000);
  int moved = 0;
  for (const auto& f : syns) {
    Bytes ack = f;
    auto m = model.decide(ack, monotonic_ms());
    auto x = xdp->decide(ack, 0);
    ASSERT_TRUE(m && x);
    ASSERT_EQ(m->out, x->out);
    moved += m->out.size() > 33 && m->out[33] == 4;  // outer destination 10.1.0.4
  }
  EXPECT_GT(moved, 0) << "expired SYN flows should have been re-picked onto the new backend";
}

}  // namespace
}  // namespace anylb::test
