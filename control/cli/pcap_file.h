// Ethernet pcap files in and out, through libpcap.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/core/result.h"

struct pcap;
struct pcap_dumper;

namespace anylb {

struct CapturedFrame {
  uint64_t time_us = 0;  // capture timestamp
  std::vector<uint8_t> bytes;
};

class PcapReader {
 public:
  static Result<std::unique_ptr<PcapReader>> open(const std::string& path);
  ~PcapReader();
  // The next frame, or false at the end. Errors name the file and frame.
  Result<bool> next(CapturedFrame& frame);

 private:
  PcapReader(pcap* p, std::string path) : p_(p), path_(std::move(path)) {}
  pcap* p_;
  std::string path_;
  uint64_t index_ = 0;
};

// The file's snapshot length: libpcap's largest. Frames the balancer sends
// can be longer than 65535 bytes (an echo reply to a 65535-byte echo is 65549
// with its Ethernet header), and readers cut frames to the header's snaplen.
inline constexpr uint32_t kPcapSnaplen = 262144;

class PcapWriter {
 public:
  static Result<std::unique_ptr<PcapWriter>> create(const std::string& path);
  ~PcapWriter();  // closes, if close() was not called; errors then go unseen
  // Buffered: a write error shows in close().
  void write(uint64_t time_us, std::span<const uint8_t> frame);
  // Flushes and closes the file; an error (disk full, say) names the file.
  Result<bool> close();

 private:
  PcapWriter(pcap* p, pcap_dumper* d, std::string path) : p_(p), d_(d), path_(std::move(path)) {}
  pcap* p_;
  pcap_dumper* d_;  // null once closed
  std::string path_;
};

}  // namespace anylb
