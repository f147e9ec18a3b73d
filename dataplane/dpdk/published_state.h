// The forwarding state the workers read, published by RCU: the control
// thread swaps one pointer and frees the old state only after every worker
// has reported a quiescent state (DPDK's QSBR), i.e. has finished the loop
// iteration that might still hold it. Workers never lock or wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "dataplane/core/forwarding_state.h"
#include "dataplane/core/result.h"

struct rte_rcu_qsbr;

namespace anylb::dpdk {

class PublishedState {
 public:
  // max_readers: worker ids are 0..max_readers-1. Fails only when DPDK's
  // heap cannot hold the QSBR variable.
  static Result<std::unique_ptr<PublishedState>> create(
      std::unique_ptr<const ForwardingState> initial, uint32_t max_readers);
  ~PublishedState();
  PublishedState(const PublishedState&) = delete;
  PublishedState& operator=(const PublishedState&) = delete;

  // Workers: the state for this loop iteration; valid until the caller's
  // next quiescent().
  const ForwardingState* current() const { return current_.load(std::memory_order_acquire); }
  void reader_online(uint32_t reader);
  void quiescent(uint32_t reader);
  void reader_offline(uint32_t reader);

  // Control: makes `next` the current state, waits until no worker can still
  // be reading the old one, frees it. Returns the microseconds waited.
  uint64_t publish(std::unique_ptr<const ForwardingState> next);
  // The current state, for building the next one from (ids kept). Control
  // thread only: it stays valid until that thread publishes again.
  const ForwardingState& latest() const { return *current(); }
  uint64_t publications() const { return publications_.load(std::memory_order_relaxed); }

 private:
  PublishedState(const ForwardingState* initial, rte_rcu_qsbr* qsbr)
      : current_(initial), qsbr_(qsbr) {}
  std::atomic<const ForwardingState*> current_;
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::mutex publish_mutex_;  // one publisher at a time; never taken by workers
  std::atomic<uint64_t> publications_{0};
};

}  // namespace anylb::dpdk
