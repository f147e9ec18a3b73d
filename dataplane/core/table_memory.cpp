#include "table_memory.h"

#include <sys/mman.h>

#include <new>

namespace anylb {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
size_t round_up(size_t n) { return (n + kHugePage - 1) / kHugePage * kHugePage; }
}  // namespace

void TableMemoryDelete::operator()(void* p) const {
  if (p != nullptr) munmap(p, round_up(bytes));
}

TableMemory allocate_table_memory(size_t bytes) {
  // Over-allocate by one huge page and trim, so the table starts on a 2 MiB
  // boundary and THP can back all of it. Anonymous mmap memory is zeroed.
  const size_t size = round_up(bytes);
  void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  auto addr = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (addr + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > addr) munmap(raw, aligned - addr);
  const uintptr_t end = addr + size + kHugePage;
  if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  void* p = reinterpret_cast<void*>(aligned);
  // Advice only: without THP the table still works, on small pages.
  madvise(p, size, MADV_HUGEPAGE);
  return TableMemory(p, TableMemoryDelete{bytes});
}

}  // namespace anylb
