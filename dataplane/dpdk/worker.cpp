#include "dataplane/dpdk/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <span>

namespace anylb::dpdk {

void WorkerStats::add(const WorkerStats& o) {
  rx += o.rx;
  tx += o.tx;
  tx_refused += o.tx_refused;
  exception_out += o.exception_out;
  exception_out_refused += o.exception_out_refused;
  exception_in += o.exception_in;
  pass_unmirrored += o.pass_unmirrored;
  multi_segment += o.multi_segment;
  loops += o.loops;
  busy_loops += o.busy_loops;
}

// Frames for one TX queue, sent when a burst's worth is waiting and at the
// end of every loop; what the queue refuses is freed and counted, never
// retried (the ring is full: retrying would only stall RX behind it).
struct Worker::TxBuffer {
  static constexpr uint16_t kSize = kTxBufferFrames;
  uint16_t port = kNoPort;
  uint16_t queue = 0;
  uint16_t count = 0;
  rte_mbuf* frames[kSize];

  void add(rte_mbuf* m, uint64_t& refused) {
    frames[count++] = m;
    if (count == kSize) flush(refused);
  }
  void flush(uint64_t& refused) {
    if (count == 0) return;
    const uint16_t sent = rte_eth_tx_burst(port, queue, frames, count);
    if (sent < count) {
      rte_pktmbuf_free_bulk(frames + sent, count - sent);
      refused += count - sent;
    }
    count = 0;
  }
};

struct alignas(64) Worker::OwnedQueue {
  QueueAssignment where;
  TxBuffer out;        // to the port (encapsulated, replies, the kernel's frames)
  TxBuffer exception;  // to the exception port (frames the kernel should see)
};

Worker::Worker(uint32_t id, PublishedState& state, uint32_t flow_entries,
               FlowTimeoutsMs timeouts, uint16_t burst)
    : id_(id), state_(state), flows_(flow_entries, timeouts),
      counters_(std::make_unique<Counters>()),
      burst_(std::clamp<uint16_t>(burst, 1, kMaxBurst)),
      tsc_per_ms_(std::max<uint64_t>(rte_get_tsc_hz() / 1000, 1)) {}

Worker::~Worker() = default;

void Worker::add_queue(const QueueAssignment& q) {
  auto owned = std::make_unique<OwnedQueue>();
  owned->where = q;
  owned->out.port = q.port;
  owned->out.queue = q.queue;
  owned->exception.port = q.exception_port;
  owned->exception.queue = q.queue;
  owned_.push_back(std::move(owned));
}

uint32_t Worker::now_ms() const { return static_cast<uint32_t>(rte_rdtsc() / tsc_per_ms_); }

void Worker::run(const std::atomic<bool>& stop) {
  state_.reader_online(id_);
  while (!stop.load(std::memory_order_relaxed)) {
    poll_once();
    // Nothing read from the state survives past this point.
    state_.quiescent(id_);
  }
  state_.reader_offline(id_);
}

uint32_t Worker::poll_once() {
  const ForwardingState& st = *state_.current();
  const uint32_t now = now_ms();
  rte_mbuf* frames[kMaxBurst];
  uint32_t received = 0;
  for (auto& owned : owned_) {
    OwnedQueue& q = *owned;
    const uint16_t n = rte_eth_rx_burst(q.where.port, q.where.queue, frames, burst_);
    if (n > 0) {
      received += n;
      process(q, frames, n, st, now);
    }
    if (q.where.exception_port != kNoPort) {
      // What the kernel sends (ARP replies, BGP, ND) leaves by the port.
      const uint16_t k = rte_eth_rx_burst(q.where.exception_port, q.where.queue, frames, burst_);
      stats_.exception_in += k;
      for (uint16_t i = 0; i < k; ++i) q.out.add(frames[i], stats_.tx_refused);
    }
    q.out.flush(stats_.tx_refused);
    q.exception.flush(stats_.exception_out_refused);
  }
  stats_.loops++;
  if (received > 0) stats_.busy_loops++;
  stats_.rx += received;
  return received;
}

void Worker::process(OwnedQueue& q, rte_mbuf** frames, uint16_t n, const ForwardingState& st,
                     uint32_t now) {
  // Headers of the whole burst in flight before the first is parsed.
  for (uint16_t i = 0; i < n; ++i) rte_prefetch0(rte_pktmbuf_mtod(frames[i], void*));

  PacketBuffer bufs[kMaxBurst];
  rte_mbuf* kept[kMaxBurst];
  rte_mbuf* dropped[kMaxBurst];
  uint16_t k = 0, d = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = frames[i];
    if (m->nb_segs != 1) {
      // Our ports are configured without scatter; a chained frame is not ours to parse.
      stats_.multi_segment++;
      dropped[d++] = m;
      continue;
    }
    bufs[k] = PacketBuffer{rte_pktmbuf_mtod(m, uint8_t*), m->data_len, rte_pktmbuf_headroom(m)};
    kept[k++] = m;
  }

  Decision decisions[kMaxBurst];
  decide_burst(std::span(bufs, k), st, flows_, now, *counters_, std::span(decisions, k));

  for (uint16_t i = 0; i < k; ++i) {
    rte_mbuf* m = kept[i];
    switch (decisions[i].verdict) {
      case ANYLB_VERDICT_TX:
      case ANYLB_VERDICT_REPLY:
        // The core moved the frame's start into the headroom (encapsulation)
        // or rewrote it in place (echo reply).
        m->data_off = static_cast<uint16_t>(bufs[i].data - static_cast<uint8_t*>(m->buf_addr));
        m->data_len = static_cast<uint16_t>(bufs[i].len);
        m->pkt_len = bufs[i].len;
        m->ol_flags = 0;
        stats_.tx++;
        q.out.add(m, stats_.tx_refused);
        break;
      case ANYLB_VERDICT_PASS:
        if (q.where.exception_port != kNoPort) {
          stats_.exception_out++;
          q.exception.add(m, stats_.exception_out_refused);
        } else {
          stats_.pass_unmirrored++;
          dropped[d++] = m;
        }
        break;
      case ANYLB_VERDICT_DROP:
        dropped[d++] = m;  // counted by the decision under its reason
        break;
    }
  }
  if (d > 0) rte_pktmbuf_free_bulk(dropped, d);
}

}  // namespace anylb::dpdk
