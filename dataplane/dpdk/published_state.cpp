#include "dataplane/dpdk/published_state.h"

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>


namespace anylb::dpdk {

Result<std::unique_ptr<PublishedState>> PublishedState::create(
    std::unique_ptr<const ForwardingState> initial, uint32_t max_readers) {
  const size_t size = rte_rcu_qsbr_get_memsize(max_readers);
  auto* qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("anylb_qsbr", size, RTE_CACHE_LINE_SIZE));
  if (qsbr == nullptr || rte_rcu_qsbr_init(qsbr, max_readers) != 0) {
    rte_free(qsbr);
    return make_error("cannot allocate the RCU (QSBR) variable for " +
                      std::to_string(max_readers) + " workers from DPDK memory");
  }
  return std::unique_ptr<PublishedState>(new PublishedState(initial.release(), qsbr));
}

PublishedState::~PublishedState() {
  delete current_.load();
  rte_free(qsbr_);
}

void PublishedState::reader_online(uint32_t reader) {
  rte_rcu_qsbr_thread_register(qsbr_, reader);
  rte_rcu_qsbr_thread_online(qsbr_, reader);
}

void PublishedState::quiescent(uint32_t reader) { rte_rcu_qsbr_quiescent(qsbr_, reader); }

void PublishedState::reader_offline(uint32_t reader) {
  rte_rcu_qsbr_thread_offline(qsbr_, reader);
  rte_rcu_qsbr_thread_unregister(qsbr_, reader);
}

uint64_t PublishedState::publish(std::unique_ptr<const ForwardingState> next) {
  std::lock_guard lock(publish_mutex_);
  const ForwardingState* old = current_.exchange(next.release(), std::memory_order_acq_rel);
  const uint64_t start = rte_get_timer_cycles();
  // Offline readers (stopped workers) are not waited for.
  rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
  const uint64_t waited = rte_get_timer_cycles() - start;
  delete old;
  publications_.fetch_add(1, std::memory_order_relaxed);
  return waited * 1'000'000 / rte_get_timer_hz();
}

}  // namespace anylb::dpdk
