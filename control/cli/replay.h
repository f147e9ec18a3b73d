// `anylbctl replay`: every frame of a capture through the model or the BPF
// program, the frames sent written to a pcap, and one line per frame.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "dataplane/core/result.h"
#include "dataplane/replay/frame_decider.h"

namespace anylb {

struct ReplaySummary {
  uint64_t frames = 0;
  uint64_t tx = 0;
  uint64_t reply = 0;
  uint64_t pass = 0;
  uint64_t drop = 0;
};

// capture_clock: decide with the capture's timestamps (the model can; the BPF
// program always reads the kernel clock) rather than the monotonic clock.
// The output may not be "-", the input, or the file `lines` goes to; a
// failed write of it (disk full) is an error naming it.
Result<ReplaySummary> replay_pcap(FrameDecider& decider, const std::string& in_path,
                                  const std::string& out_path, bool capture_clock,
                                  std::FILE* lines);

}  // namespace anylb
