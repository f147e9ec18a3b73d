#include "dataplane/replay/frame_decider.h"

#include <time.h>

#include "dataplane/core/decide.h"
#include "dataplane/core/ip_address.h"

namespace anylb {

Result<FrameResult> ModelDecider::decide(std::span<const uint8_t> frame, uint32_t now_ms) {
  constexpr uint32_t kHeadroom = 256;  // what XDP gives a frame
  std::vector<uint8_t> storage(kHeadroom + frame.size());
  std::copy(frame.begin(), frame.end(), storage.begin() + kHeadroom);
  PacketBuffer buf{storage.data() + kHeadroom, static_cast<uint32_t>(frame.size()), kHeadroom};
  const Decision d = anylb::decide(buf, state_, flows_, now_ms, *counters_);
  FrameResult r;
  r.verdict = d.verdict;
  r.reason = d.reason;
  if (d.verdict == ANYLB_VERDICT_TX || d.verdict == ANYLB_VERDICT_REPLY) {
    r.out.assign(buf.data, buf.data + buf.len);
  }
  return r;
}

uint32_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint32_t>((uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec)) /
                               1000000ull);
}

std::string outer_destination(std::span<const uint8_t> f) {
  size_t l3 = 14;
  if (f.size() < 14) return "";
  uint16_t type = static_cast<uint16_t>((f[12] << 8) | f[13]);
  if (type == 0x8100 && f.size() >= 18) {
    type = static_cast<uint16_t>((f[16] << 8) | f[17]);
    l3 = 18;
  }
  if (type == 0x0800 && f.size() >= l3 + 20) return IpAddress::from_v4_bytes(&f[l3 + 16]).to_string();
  if (type == 0x86dd && f.size() >= l3 + 40) return IpAddress::from_v6_bytes(&f[l3 + 24]).to_string();
  return "";
}

}  // namespace anylb
