#include "control/cli/pcap_file.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace anylb {

Result<std::unique_ptr<PcapReader>> PcapReader::open(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap* p = pcap_open_offline(path.c_str(), err);
  if (p == nullptr) return make_error("pcap " + path + ": " + err);
  if (pcap_datalink(p) != DLT_EN10MB) {
    pcap_close(p);
    return make_error("pcap " + path + ": link type is not Ethernet");
  }
  return std::unique_ptr<PcapReader>(new PcapReader(p, path));
}

PcapReader::~PcapReader() { pcap_close(p_); }

Result<bool> PcapReader::next(CapturedFrame& frame) {
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(p_, &hdr, &data);
  if (rc == PCAP_ERROR_BREAK) return false;
  if (rc != 1) {
    return make_error("pcap " + path_ + ": frame " + std::to_string(index_ + 1) + ": " +
                      pcap_geterr(p_));
  }
  ++index_;
  frame.time_us = uint64_t(hdr->ts.tv_sec) * 1000000 + uint64_t(hdr->ts.tv_usec);
  frame.bytes.assign(data, data + hdr->caplen);
  return true;
}

Result<std::unique_ptr<PcapWriter>> PcapWriter::create(const std::string& path) {
  pcap* p = pcap_open_dead(DLT_EN10MB, static_cast<int>(kPcapSnaplen));
  if (p == nullptr) return make_error("pcap " + path + ": cannot create");
  pcap_dumper* d = pcap_dump_open(p, path.c_str());
  if (d == nullptr) {
    const std::string why = pcap_geterr(p);
    pcap_close(p);
    return make_error("pcap " + path + ": " + why);
  }
  return std::unique_ptr<PcapWriter>(new PcapWriter(p, d, path));
}

PcapWriter::~PcapWriter() {
  if (d_ != nullptr) pcap_dump_close(d_);
  pcap_close(p_);
}

void PcapWriter::write(uint64_t time_us, std::span<const uint8_t> frame) {
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = static_cast<time_t>(time_us / 1000000);
  hdr.ts.tv_usec = static_cast<suseconds_t>(time_us % 1000000);
  hdr.len = static_cast<bpf_u_int32>(frame.size());
  // Never more than the header promises: readers would cut or reject it.
  hdr.caplen = std::min<bpf_u_int32>(hdr.len, kPcapSnaplen);
  pcap_dump(reinterpret_cast<u_char*>(d_), &hdr, frame.data());
}

Result<bool> PcapWriter::close() {
  if (d_ == nullptr) return true;
  // pcap_dump() writes through stdio and reports nothing: a failed write
  // shows as the stream's error flag, or when the buffer is flushed.
  errno = 0;
  const bool flushed = pcap_dump_flush(d_) == 0;
  const int flush_errno = errno;
  const bool failed = !flushed || std::ferror(pcap_dump_file(d_)) != 0;
  pcap_dump_close(d_);
  d_ = nullptr;
  if (failed) {
    return make_error("pcap " + path_ + ": write failed" +
                      (flush_errno != 0 ? std::string(": ") + std::strerror(flush_errno) : ""));
  }
  return true;
}

}  // namespace anylb
