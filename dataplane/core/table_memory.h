// Zeroed memory for large per-core tables, asked of the kernel in 2 MiB pages
// where it can (transparent huge pages, madvise mode being the common
// default). A 1M-entry flow table spans 72 MiB: on 4 KiB pages nearly every
// lookup also misses the TLB.
#pragma once

#include <cstddef>
#include <memory>

namespace anylb {

struct TableMemoryDelete {
  size_t bytes;
  void operator()(void* p) const;
};
using TableMemory = std::unique_ptr<void, TableMemoryDelete>;

// Zero-filled, 2 MiB aligned. Throws std::bad_alloc like new (construction
// time only: never on the per-packet path).
TableMemory allocate_table_memory(size_t bytes);

}  // namespace anylb
