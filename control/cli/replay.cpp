#include "control/cli/replay.h"

#include <fmt/format.h>

#include "control/cli/pcap_file.h"
#include "dataplane/core/counters.h"
#include "dataplane/core/decide.h"

namespace anylb {

Result<ReplaySummary> replay_pcap(FrameDecider& decider, const std::string& in_path,
                                  const std::string& out_path, bool capture_clock,
                                  std::FILE* lines) {
  auto in = PcapReader::open(in_path);
  if (!in) return in.error();
  auto out = PcapWriter::create(out_path);
  if (!out) return out.error();
  ReplaySummary sum;
  CapturedFrame frame;
  while (true) {
    auto more = (*in)->next(frame);
    if (!more) return more.error();
    if (!*more) break;
    ++sum.frames;
    const uint32_t now_ms =
        capture_clock ? static_cast<uint32_t>(frame.time_us / 1000) : monotonic_ms();
    auto r = decider.decide(frame.bytes, now_ms);
    if (!r) return make_error(fmt::format("frame {}: {}", sum.frames, r.error().message));
    std::string line = fmt::format("frame {}: {}", sum.frames, verdict_name(r->verdict));
    switch (r->verdict) {
      case ANYLB_VERDICT_TX:
        ++sum.tx;
        line += fmt::format(" to {} ({} bytes)", outer_destination(r->out), r->out.size());
        (*out)->write(frame.time_us, r->out);
        break;
      case ANYLB_VERDICT_REPLY:
        ++sum.reply;
        line += fmt::format(" ({} bytes)", r->out.size());
        (*out)->write(frame.time_us, r->out);
        break;
      case ANYLB_VERDICT_DROP:
        ++sum.drop;
        line += fmt::format(" {}", drop_reason_name(r->reason));
        break;
      case ANYLB_VERDICT_PASS:
        ++sum.pass;
        break;
    }
    if (lines) std::fprintf(lines, "%s\n", line.c_str());
  }
  return sum;
}

}  // namespace anylb
