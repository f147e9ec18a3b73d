#include "control/cli/replay.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "control/cli/pcap_file.h"
#include "dataplane/core/counters.h"
#include "dataplane/core/decide.h"

namespace anylb {

namespace {

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool is_dev_null(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
}

// Opening the output truncates it, and libpcap takes "-" for stdout: refuse
// an output that is the input, or the stream the per-frame lines go to.
Result<bool> check_output(const std::string& in_path, const std::string& out_path,
                          std::FILE* lines) {
  if (out_path == "-") {
    return make_error("--out -: the per-frame lines go to stdout; name a file for the pcap");
  }
  struct stat out{};
  if (stat(out_path.c_str(), &out) != 0) return true;  // a new file: nothing to overwrite
  struct stat in{};
  if (stat(in_path.c_str(), &in) == 0 && same_file(in, out)) {
    return make_error("--out " + out_path + ": is the input capture " + in_path +
                      "; writing it would truncate the input");
  }
  struct stat text{};
  if (lines != nullptr && fstat(fileno(lines), &text) == 0 && same_file(text, out) &&
      !is_dev_null(out)) {
    return make_error("--out " + out_path +
                      ": is where the per-frame lines go (stdout); name another file");
  }
  return true;
}

}  // namespace

Result<ReplaySummary> replay_pcap(FrameDecider& decider, const std::string& in_path,
                                  const std::string& out_path, bool capture_clock,
                                  std::FILE* lines) {
  if (auto ok = check_output(in_path, out_path, lines); !ok) return ok.error();
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
  if (auto closed = (*out)->close(); !closed) return closed.error();
  return sum;
}

}  // namespace anylb
