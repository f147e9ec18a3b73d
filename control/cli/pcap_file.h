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

class PcapWriter {
 public:
  static Result<std::unique_ptr<PcapWriter>> create(const std::string& path);
  ~PcapWriter();
  void write(uint64_t time_us, std::span<const uint8_t> frame);

 private:
  PcapWriter(pcap* p, pcap_dumper* d) : p_(p), d_(d) {}
  pcap* p_;
  pcap_dumper* d_;
};

}  // namespace anylb
