// anylbctl replay's output pcap: never the input or stdout, write errors
// reported with the file's name, and frames longer than 65535 bytes kept
// whole (the header's snaplen covers them).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "control/cli/pcap_file.h"
#include "control/cli/replay.h"
#include "control/config/config.h"
#include "control/tables/state_spec.h"
#include "dataplane/core/packet_view.h"
#include "tests/unit/frames.h"
#include "tests/unit/subprocess.h"

namespace anylb::test {
namespace {

// A directory of this test's own, removed with everything in it.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& name)
      : path((std::filesystem::temp_directory_path() /
              ("anylb-replay-" + std::to_string(getpid()) + "-" + name))
                 .string()) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

ModelDecider model() {
  auto cfg = parse_config(embedded_default_config(), "<embedded>");
  EXPECT_TRUE(cfg.ok());
  auto state = build_state_from_config(*cfg, nullptr);
  EXPECT_TRUE(state.ok());
  return ModelDecider(std::move(*state), 1024, flow_timeouts_from_config(cfg->timeouts));
}

Bytes web_syn(uint16_t sport) {
  return eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp, tcp(sport, 80, kTcpSyn)));
}

void write_capture(const std::string& path, const std::vector<Bytes>& frames) {
  auto w = PcapWriter::create(path);
  ASSERT_TRUE(w.ok()) << w.error().message;
  uint64_t t = 1'700'000'000'000'000;
  for (const Bytes& f : frames) (*w)->write(t++, f);
  auto closed = (*w)->close();
  ASSERT_TRUE(closed.ok()) << closed.error().message;
}

std::vector<Bytes> read_capture(const std::string& path) {
  std::vector<Bytes> frames;
  auto r = PcapReader::open(path);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r) return frames;
  CapturedFrame f;
  while (true) {
    auto more = (*r)->next(f);
    EXPECT_TRUE(more.ok()) << more.error().message;
    if (!more || !*more) break;
    frames.push_back(f.bytes);
  }
  return frames;
}

TEST(Replay, OutputThatIsTheInputIsRefusedAndTheInputKept) {
  TempDir dir("same");
  const std::string in = dir.path + "/in.pcap", link = dir.path + "/link.pcap";
  write_capture(in, {web_syn(1000), web_syn(1001)});
  ASSERT_EQ(::link(in.c_str(), link.c_str()), 0);
  const auto size = std::filesystem::file_size(in);
  for (const std::string& out : {in, link, dir.path + "/./in.pcap"}) {
    ModelDecider m = model();
    auto r = replay_pcap(m, in, out, true, nullptr);
    ASSERT_FALSE(r.ok()) << out;
    EXPECT_EQ(r.error().message, "--out " + out + ": is the input capture " + in +
                                     "; writing it would truncate the input");
    EXPECT_EQ(std::filesystem::file_size(in), size);
  }
  EXPECT_EQ(read_capture(in).size(), 2u);
}

TEST(Replay, StdoutIsRefusedForTheCapture) {
  TempDir dir("stdout");
  const std::string in = dir.path + "/in.pcap";
  write_capture(in, {web_syn(1000)});
  ModelDecider m = model();
  auto r = replay_pcap(m, in, "-", true, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "--out -: the per-frame lines go to stdout; name a file for the pcap");

  // The file the lines go to, by another name.
  const std::string lines_path = dir.path + "/lines.txt";
  std::FILE* lines = std::fopen(lines_path.c_str(), "w");
  ASSERT_NE(lines, nullptr);
  const std::string alias = dir.path + "/alias.txt";
  ASSERT_EQ(::link(lines_path.c_str(), alias.c_str()), 0);
  ModelDecider m2 = model();
  r = replay_pcap(m2, in, alias, true, lines);
  std::fclose(lines);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "--out " + alias + ": is where the per-frame lines go (stdout); name another file");
}

TEST(Replay, AFailedWriteIsAnErrorNamingTheOutput) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  TempDir dir("full");
  const std::string in = dir.path + "/in.pcap";
  write_capture(in, {web_syn(1000), web_syn(1001)});
  ModelDecider m = model();
  auto r = replay_pcap(m, in, "/dev/full", true, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "pcap /dev/full: write failed: No space left on device");
}

TEST(Replay, AnEchoReplyLongerThan65535BytesIsWrittenWhole) {
  TempDir dir("long");
  const std::string in = dir.path + "/in.pcap", out = dir.path + "/out.pcap";
  // The largest IPv4 echo request: a 65535-byte packet, 65549 with Ethernet.
  const Bytes echo = eth_ipv4(ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoIcmp,
                                   icmp_echo(false, 7, 1, Bytes(65535 - 20 - 8, 0xab))));
  ASSERT_EQ(echo.size(), 65549u);
  write_capture(in, {echo});
  ASSERT_EQ(read_capture(in), std::vector<Bytes>{echo});

  ModelDecider m = model();
  auto r = replay_pcap(m, in, out, true, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->reply, 1u);
  const std::vector<Bytes> sent = read_capture(out);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].size(), 65549u);
  // The file header's snaplen (bytes 16..19, little-endian here) covers it.
  const std::string raw = slurp(out);
  ASSERT_GE(raw.size(), 24u);
  uint32_t snaplen = 0;
  std::memcpy(&snaplen, raw.data() + 16, 4);
  EXPECT_GE(snaplen, 65549u);
}

}  // namespace
}  // namespace anylb::test
