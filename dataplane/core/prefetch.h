// A cache-line prefetch the optimizer cannot drop. g++ 12 deletes a loop
// whose only effect is __builtin_prefetch (seen in decide_burst's second
// pass: the loop vanished from the binary), so on x86-64 the instruction is
// emitted as volatile asm.
#pragma once

namespace anylb {

inline void prefetch_line(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

}  // namespace anylb
