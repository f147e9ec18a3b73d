// The DPDK driver against the C++ model, on vdevs: one EAL for the binary
// (no hugepages, two worker lcores), a private network namespace for the
// TAP test. Packet tests drive in-process ports (net_pcap, net_ring) so that
// every frame in and out is known.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "control/cli/pcap_file.h"
#include "control/config/config.h"
#include "dataplane/dpdk/driver.h"
#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/options_from_config.h"
#include "dataplane/core/packet_view.h"
#include "dataplane/replay/frame_decider.h"
#include "tests/unit/frames.h"
#include "tests/unit/mixed_traffic.h"
#include "tests/unit/subprocess.h"

namespace anylb::test {
namespace {

using dpdk::Driver;
using dpdk::DriverOptions;
using namespace std::chrono_literals;

const dpdk::EalOptions kEal = [] {
  dpdk::EalOptions e;
  e.main_cpu = 0;
  e.worker_cpus = {0, 1};
  e.hugepages = false;
  e.memory_mb = 256;
  return e;
}();

rte_mempool* test_pool() {
  static rte_mempool* pool =
      rte_pktmbuf_pool_create("anylb_test", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  return pool;
}

rte_mbuf* to_mbuf(const Bytes& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
  if (m == nullptr) return nullptr;
  std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
              frame.size());
  return m;
}

Bytes from_mbuf(rte_mbuf* m) {
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  return Bytes(p, p + m->data_len);
}

// An ethdev over two rte_rings per queue: the test enqueues what the port
// receives and dequeues what it sends.
struct RingPort {
  std::string name;
  std::vector<rte_ring*> rx, tx;
  uint16_t port_id = 0;

  explicit RingPort(const std::string& n, uint16_t queues = 1) : name(n) {
    for (uint16_t q = 0; q < queues; ++q) {
      rx.push_back(rte_ring_create((n + "_rx" + std::to_string(q)).c_str(), 1024, 0, 0));
      tx.push_back(rte_ring_create((n + "_tx" + std::to_string(q)).c_str(), 1024, 0, 0));
    }
    const int id = rte_eth_from_rings(n.c_str(), rx.data(), queues, tx.data(), queues, 0);
    EXPECT_GE(id, 0) << "rte_eth_from_rings " << n;
    port_id = static_cast<uint16_t>(id);
    char ethdev_name[RTE_ETH_NAME_MAX_LEN] = "";
    rte_eth_dev_get_name_by_port(port_id, ethdev_name);
    name = ethdev_name;  // what the driver finds the port by
  }
  ~RingPort() {
    // The driver closed the port; what is left in the rings goes back to the pool.
    for (auto* r : rx) drain(r), rte_ring_free(r);
    for (auto* r : tx) drain(r), rte_ring_free(r);
  }
  static void drain(rte_ring* r) {
    void* m;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  }
  bool send(const Bytes& frame, uint16_t q = 0) {
    rte_mbuf* m = to_mbuf(frame);
    if (m == nullptr) return false;
    if (rte_ring_enqueue(rx[q], m) != 0) {
      rte_pktmbuf_free(m);
      return false;
    }
    return true;
  }
  // Frames the port sent, up to `max`.
  std::vector<Bytes> receive(size_t max = 64, uint16_t q = 0) {
    void* ms[64];
    const unsigned n = rte_ring_dequeue_burst(tx[q], ms, std::min<size_t>(max, 64), nullptr);
    std::vector<Bytes> out;
    for (unsigned i = 0; i < n; ++i) {
      out.push_back(from_mbuf(static_cast<rte_mbuf*>(ms[i])));
      rte_pktmbuf_free(static_cast<rte_mbuf*>(ms[i]));
    }
    return out;
  }
};

std::unique_ptr<Driver> start(const DriverOptions& o, ForwardingState st) {
  auto d = Driver::start(o, std::move(st));
  if (!d) {
    ADD_FAILURE() << d.error().message;
    return nullptr;
  }
  return std::move(*d);
}

DriverOptions options(std::vector<dpdk::DriverPort> ports) {
  DriverOptions o;
  o.ports = std::move(ports);
  o.mbufs = 8191;
  o.rx_descriptors = 256;
  o.tx_descriptors = 256;
  o.flow_entries = 65536;
  o.timeouts = long_timeouts();
  return o;
}

template <typename Pred>
bool wait_for(Pred done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// ---- EAL arguments (pure)

TEST(DpdkEal, ArgumentsMapLcoresAndMemoryMode) {
  dpdk::EalOptions e;
  e.main_cpu = 1;
  e.worker_cpus = {0, 1};
  e.hugepages = false;
  e.memory_mb = 128;
  e.extra = {"--log-level", "pmd:debug"};
  EXPECT_EQ(dpdk::eal_arguments(e),
            (std::vector<std::string>{"anylb", "--lcores", "0@1,1@0,2@1", "--main-lcore", "0",
                                      "--no-telemetry", "--no-huge", "-m", "128", "--no-shconf",
                                      "--no-pci", "--log-level", "pmd:debug"}));
  e.hugepages = true;
  e.pci = true;
  e.extra.clear();
  EXPECT_EQ(dpdk::eal_arguments(e),
            (std::vector<std::string>{"anylb", "--lcores", "0@1,1@0,2@1", "--main-lcore", "0",
                                      "--no-telemetry", "--in-memory"}));
}

TEST(DpdkEal, PciAddressesAreToldFromVdevs) {
  EXPECT_TRUE(dpdk::is_pci_address("0000:03:00.0"));
  EXPECT_TRUE(dpdk::is_pci_address("03:00.1"));
  EXPECT_FALSE(dpdk::is_pci_address("net_af_packet0,iface=eth0"));
  EXPECT_FALSE(dpdk::is_pci_address("net_ring0"));
  EXPECT_FALSE(dpdk::is_pci_address("0000:03:00."));
  EXPECT_FALSE(dpdk::is_pci_address(""));
  // Devargs after the first comma, as find_or_probe_port reads the name.
  EXPECT_TRUE(dpdk::is_pci_address("0000:03:00.0,txq_inline=128"));
  EXPECT_TRUE(dpdk::is_pci_address("03:00.1,a=b,c=d"));
  EXPECT_FALSE(dpdk::is_pci_address(",0000:03:00.0"));
  EXPECT_FALSE(dpdk::is_pci_address("0000:03:00.,x=1"));
}

TEST(DpdkEal, APciPortWithDevargsKeepsThePciBus) {
  Config c;
  c.dpdk.ports.push_back({"net_null0", "", 0});
  c.dpdk.ports.push_back({"0000:03:00.0,txq_inline=128", "", 0});
  const dpdk::EalOptions e = dpdk::eal_options_from_config(c);
  EXPECT_TRUE(e.pci);
  const auto args = dpdk::eal_arguments(e);
  EXPECT_EQ(std::find(args.begin(), args.end(), "--no-pci"), args.end());
}

// ---- Reload: what only a restart changes is said, one note per setting

TEST(DpdkReload, SettingsFixedAtStartEachGetANote) {
  Config running;
  running.node.interface = "eth0";
  EXPECT_TRUE(dpdk::settings_fixed_at_start(running, running).empty());

  Config next = running;
  next.vips.emplace_back();  // VIPs and backends are what a reload is for
  next.node.mtu = 9000;
  next.dpdk.mbufs += 1;
  next.dpdk.worker_cpus = {1, 2};
  next.dpdk.eal_args = {"--log-level", "8"};
  next.node.flow_table_entries *= 2;
  next.timeouts.tcp_syn += 1;
  next.timeouts.udp += 1;
  next.node.hash_seed += 1;
  next.node.interface = "eth1";  // the default port's interface: no [[dpdk.port]]
  EXPECT_EQ(dpdk::settings_fixed_at_start(running, next),
            (std::vector<std::string>{
                "dpdk.worker_cpus changed: takes effect on restart",
                "dpdk.mbufs changed: takes effect on restart",
                "dpdk.eal_args changed: takes effect on restart",
                "timeouts.tcp_syn changed: takes effect on restart",
                "timeouts.udp changed: takes effect on restart",
                "node.interface (the default port) changed: takes effect on restart",
                "node.flow_table_entries changed: takes effect on restart",
                "node.hash_seed changed: takes effect on restart"}));
  // anylbd's DPDK dataplane: the driver's own, the node settings are the
  // controller's to note.
  EXPECT_EQ(dpdk::driver_settings_fixed_at_start(running, next).size(), 5u);

  // With ports of its own, node.interface opens nothing; a port's place in
  // the file (its line) is no change.
  running.dpdk.ports = {{"net_null0", "", 30}};
  next = running;
  next.node.interface = "eth1";
  next.dpdk.ports[0].line = 31;
  EXPECT_TRUE(dpdk::settings_fixed_at_start(running, next).empty());
  next.dpdk.ports[0].exception_tap = "anylb0";
  EXPECT_EQ(dpdk::settings_fixed_at_start(running, next),
            (std::vector<std::string>{"[[dpdk.port]] changed: takes effect on restart"}));
}

// ---- Bad setup is an error, not a crash

TEST(DpdkDriver, UnknownDeviceIsAClearError) {
  auto d = Driver::start(options({{"net_nosuchdriver0,x=1", ""}}), build(spec()));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("device 'net_nosuchdriver0,x=1': probe failed"),
            std::string::npos)
      << d.error().message;
}

TEST(DpdkDriver, TooFewMbufsIsAClearError) {
  DriverOptions o = options({{"net_null_few0", ""}});
  o.mbufs = 1024;
  o.rx_descriptors = 1024;
  auto d = Driver::start(o, build(spec()));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("dpdk.mbufs: 1024 is too few"), std::string::npos)
      << d.error().message;
}

// ---- anylb-dpdk itself (the built binary, an EAL of its own, a net_null port)

#define NEED_ANYLB_DPDK() \
  if (tool_path("ANYLB_DPDK").empty()) GTEST_SKIP() << "ANYLB_DPDK not set (meson test sets it)"

TEST(DpdkMain, EmptyConfigAndNumbersThatAreNotDecimalAreRefused) {
  NEED_ANYLB_DPDK();
  Subprocess empty(tool_path("ANYLB_DPDK"), {"--config", "", "--dry-run"});
  EXPECT_NE(empty.wait(), 0);
  EXPECT_EQ(empty.out(), "") << "the embedded config was used";
  EXPECT_NE(empty.err().find("--config: an empty path"), std::string::npos) << empty.err();
  Subprocess hex(tool_path("ANYLB_DPDK"), {"--duration", "0x10", "--dry-run"});
  EXPECT_NE(hex.wait(), 0);
  EXPECT_NE(hex.err().find("--duration: '0x10' is not a decimal number"), std::string::npos)
      << hex.err();
  Subprocess absent(tool_path("ANYLB_DPDK"), {"--stats-interval", "010", "--dry-run"});
  EXPECT_EQ(absent.wait(), 0) << absent.err();
  EXPECT_NE(absent.out().find("eal: anylb "), std::string::npos) << absent.out();
}

std::string replace_first(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

TEST(DpdkMain, SignalsDuringStartAndReloadNotesWhatOnlyARestartChanges) {
  NEED_ANYLB_DPDK();
  struct Dir {  // removed however the test ends
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("anylb-dpdk-main-" + std::to_string(getpid()));
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } dir;
  const std::string path = dir.path / "anylb.toml";
  const std::string base =
      std::string(embedded_default_config()) + "\n[[dpdk.port]]\ndevice = \"net_null0\"\n";
  auto write = [&](const std::string& text) {
    const std::string tmp = path + ".new";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path);  // never half a file to a reload
  };
  write(base);

  Subprocess lb(tool_path("ANYLB_DPDK"),
                {"--config", path, "--stats-interval", "0", "--duration", "60"});
  // The EAL is starting: a SIGHUP now is a reload once running, not death.
  ASSERT_TRUE(lb.wait_for_output("EAL:", 10s, /*on_stderr=*/true)) << lb.err();
  lb.signal(SIGHUP);
  ASSERT_TRUE(lb.wait_for_output("reload: published 3 VIP(s)", 20s))
      << lb.out() << lb.err();
  EXPECT_NE(lb.out().find("running: 1 worker(s), 3 VIP(s)"), std::string::npos) << lb.out();

  std::string next = replace_first(base, "memory_mb = 256", "memory_mb = 256\nmbufs = 20000");
  next = replace_first(next, "tcp_syn = 5", "tcp_syn = 6");
  next = replace_first(next, "table_size = 65537", "table_size = 251");  // a warning
  write(next);
  lb.signal(SIGHUP);
  ASSERT_TRUE(lb.wait_for_output("reload: note: timeouts.tcp_syn changed", 10s))
      << lb.out() << lb.err();
  EXPECT_NE(lb.out().find("reload: note: dpdk.mbufs changed: takes effect on restart\n"),
            std::string::npos)
      << lb.out();
  EXPECT_NE(lb.err().find("anylb-dpdk: warning: " + path + ":"), std::string::npos) << lb.err();
  EXPECT_NE(lb.err().find("table_size 251 is below 100 x 3 backends"), std::string::npos)
      << lb.err();

  lb.signal(SIGTERM);
  EXPECT_EQ(lb.wait(), 0) << lb.out() << lb.err();
  EXPECT_NE(lb.out().find("mbufs not returned after stop: 0"), std::string::npos) << lb.out();
}

// ---- A pcap through the driver equals the model's output, frame for frame

TEST(DpdkDriver, PcapThroughTheDriverEqualsTheModel) {
  const auto dir = std::filesystem::temp_directory_path() / ("anylb-dpdk-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string in = dir / "in.pcap", out = dir / "out.pcap";

  constexpr size_t kFrames = 20'000;
  FrameSource source(0xd9d4);
  std::vector<Bytes> frames;
  {
    auto writer = PcapWriter::create(in);
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    for (size_t i = 0; i < kFrames; ++i) {
      frames.push_back(source.next());
      (*writer)->write(i, frames.back());
    }
  }
  ModelDecider model(build(spec()), 65536, long_timeouts());
  std::vector<Bytes> expected;
  size_t replies = 0;
  for (const Bytes& f : frames) {
    auto r = model.decide(f, monotonic_ms());
    ASSERT_TRUE(r.ok());
    if (r->verdict == ANYLB_VERDICT_TX || r->verdict == ANYLB_VERDICT_REPLY) {
      expected.push_back(r->out);
      replies += r->verdict == ANYLB_VERDICT_REPLY;
    }
  }
  ASSERT_GT(expected.size(), kFrames / 3);
  ASSERT_GT(replies, 100u);

  auto driver = start(options({{"net_pcap_cmp0,rx_pcap=" + in + ",tx_pcap=" + out, ""}}),
                      build(spec()));
  ASSERT_TRUE(driver);
  EXPECT_EQ(driver->workers(), 2u);
  ASSERT_TRUE(wait_for([&] { return driver->stats()->plumbing.rx == kFrames; }, 60s))
      << "received " << driver->stats()->plumbing.rx << " of " << kFrames;
  EXPECT_EQ(driver->stop(), 0u) << "mbufs leaked";

  const auto s = driver->stats();
  const Counters& mc = model.counters();
  EXPECT_EQ(s->counters.path.transmitted, mc.path.transmitted);
  EXPECT_EQ(s->counters.path.replied, mc.path.replied);
  EXPECT_EQ(s->counters.path.passed, mc.path.passed);
  EXPECT_EQ(s->plumbing.pass_unmirrored, mc.path.passed);
  EXPECT_EQ(s->counters.drops, mc.drops);
  EXPECT_EQ(s->plumbing.tx_refused, 0u);

  auto reader = PcapReader::open(out);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  CapturedFrame got;
  size_t i = 0;
  for (;; ++i) {
    auto more = (*reader)->next(got);
    ASSERT_TRUE(more.ok()) << more.error().message;
    if (!*more) break;
    ASSERT_LT(i, expected.size()) << "more output frames than the model's";
    ASSERT_EQ(got.bytes, expected[i]) << "output frame " << i << " differs";
  }
  EXPECT_EQ(i, expected.size());
  std::filesystem::remove_all(dir);
}

// ---- Several workers: each port's queue on one worker, each flow on one backend

Bytes udp_to_dns(uint32_t client, uint16_t sport) {
  IpAddress src = IpAddress::from_v4_bytes(reinterpret_cast<const uint8_t*>(&client));
  return eth_ipv4(ipv4(src, ip("192.0.2.53"), kIpProtoUdp, udp(sport, 53, Bytes(32, 1))));
}

Bytes tcp_to_web(uint32_t client, uint16_t sport) {
  IpAddress src = IpAddress::from_v4_bytes(reinterpret_cast<const uint8_t*>(&client));
  return eth_ipv4(ipv4(src, ip("192.0.2.10"), kIpProtoTcp, tcp(sport, 80, kTcpAck, Bytes(20, 2))));
}

// The client port of an encapsulated IPv4-in-IPv4 TCP frame (IPIP) or of an
// IPv4 UDP frame inside GUE (outer IPv4 + UDP, then the inner packet).
uint16_t inner_sport(const Bytes& f, bool gue) {
  const size_t inner = 14 + 20 + (gue ? 8 : 0);  // GUE variant 1: no GUE header
  return static_cast<uint16_t>((f[inner + 20] << 8) | f[inner + 21]);
}

TEST(DpdkDriver, TwoWorkersKeepEveryFlowOnOneBackend) {
  RingPort a("ring_w_a"), b("ring_w_b");
  auto driver = start(options({{a.name, ""}, {b.name, ""}}), build(spec()));
  ASSERT_TRUE(driver);
  ASSERT_EQ(driver->workers(), 2u);

  constexpr int kFlows = 400, kRounds = 10;
  std::map<uint16_t, std::set<std::string>> backends;  // sport -> outer destinations
  size_t sent = 0, received = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (uint16_t f = 0; f < kFlows; ++f) {
      // Half the flows arrive on each port, as RSS would split them.
      RingPort& port = f % 2 ? b : a;
      ASSERT_TRUE(port.send(udp_to_dns(htonl(0xc6336400u + f), uint16_t(10000 + f))));
      ++sent;
    }
    ASSERT_TRUE(wait_for([&] {
      for (RingPort* p : {&a, &b}) {
        for (const Bytes& out : p->receive()) {
          backends[inner_sport(out, true)].insert(outer_destination(out));
          ++received;
        }
      }
      return received == sent;
    }, 20s)) << received << " of " << sent;
  }
  ASSERT_EQ(backends.size(), size_t{kFlows});
  std::set<std::string> used;
  for (const auto& [sport, seen] : backends) {
    EXPECT_EQ(seen.size(), 1u) << "flow from port " << sport << " went to several backends";
    used.insert(*seen.begin());
  }
  EXPECT_EQ(used, (std::set<std::string>{"10.2.0.1", "10.2.0.2"}));
  const auto s = driver->stats();
  ASSERT_EQ(s->per_worker.size(), 2u);
  EXPECT_EQ(s->per_worker[0].rx, sent / 2);  // port a's only queue
  EXPECT_EQ(s->per_worker[1].rx, sent / 2);  // port b's
  EXPECT_EQ(driver->stop(), 0u);
}

// ---- A table swap in the middle of a long stream misroutes and loses nothing

TEST(DpdkDriver, TableSwapsUnderTrafficLoseAndMisrouteNothing) {
  RingPort port("ring_swap");
  const StateSpec base = spec();
  StateSpec grown = spec();
  // A fourth backend for "web" and new weights: most of its Maglev slots move.
  grown.vips[0].backends.push_back({ip("10.1.0.4"), 300, ANYLB_BACKEND_ACTIVE});
  grown.vips[0].backends[0].weight = 50;
  auto driver = start(options({{port.name, ""}}), build(base));
  ASSERT_TRUE(driver);

  constexpr uint16_t kFlows = 2000;
  std::map<uint16_t, std::string> backend_of;  // established before any swap
  size_t sent = 0, received = 0, misrouted = 0;
  auto collect = [&](bool first) {
    for (const Bytes& out : port.receive()) {
      ++received;
      const uint16_t sport = inner_sport(out, false);
      const std::string to = outer_destination(out);
      if (first) {
        backend_of[sport] = to;
      } else if (backend_of[sport] != to) {
        ++misrouted;
      }
    }
  };
  // The test is the wire on both sides: it drains the port's TX ring as it
  // feeds the RX ring, or the driver would (rightly) count refused frames.
  // At most half a TX ring is in flight: with a full RX ring (1,024) behind
  // it, a worker that ran while this thread was descheduled filled the TX
  // ring (1,023) and refused the last frame.
  constexpr size_t kInFlight = 512;
  for (uint16_t f = 0; f < kFlows; ++f) {
    while (sent - received >= kInFlight) collect(true);
    while (!port.send(tcp_to_web(htonl(0xcb007100u + f % 200), uint16_t(20000 + f)))) collect(true);
    ++sent;
    if (f % 32 == 0) collect(true);
  }
  ASSERT_TRUE(wait_for([&] { collect(true); return received == sent; }, 20s));
  ASSERT_EQ(backend_of.size(), size_t{kFlows});

  constexpr size_t kStream = 200'000, kSwaps = 40;
  std::mt19937 rng(7);
  ForwardingState previous = driver->state();
  for (size_t i = 0; i < kStream; ++i) {
    if (i % (kStream / kSwaps) == kStream / kSwaps / 2) {
      const bool grow = (i / (kStream / kSwaps)) % 2 == 0;
      ForwardingState next = build(grow ? grown : base, &driver->state());
      driver->publish(std::move(next));
    }
    const uint16_t f = static_cast<uint16_t>(rng() % kFlows);
    while (sent - received >= kInFlight) collect(false);
    while (!port.send(tcp_to_web(htonl(0xcb007100u + f % 200), uint16_t(20000 + f)))) {
      collect(false);
    }
    ++sent;
    if (i % 32 == 0) collect(false);
  }
  ASSERT_TRUE(wait_for([&] { collect(false); return received == sent; }, 30s))
      << "lost " << sent - received << " of " << sent;
  EXPECT_EQ(misrouted, 0u);
  const auto s = driver->stats();
  EXPECT_EQ(s->publications, kSwaps);
  EXPECT_EQ(s->counters.path.transmitted, sent);
  EXPECT_EQ(s->flows.hits, sent - kFlows);
  EXPECT_EQ(s->plumbing.tx_refused, 0u);
  EXPECT_EQ(driver->stop(), 0u);
}

// ---- The exception path: ARP to the kernel through the TAP, its reply out the port

Bytes arp_request(const MacAddress& from_mac, const char* from_ip, const char* for_ip) {
  Bytes arp = {0, 1, 8, 0, 6, 4, 0, 1};  // Ethernet, IPv4, request
  arp.insert(arp.end(), from_mac.begin(), from_mac.end());
  const IpAddress sender = ip(from_ip), target = ip(for_ip);
  arp.insert(arp.end(), sender.bytes.begin(), sender.bytes.begin() + 4);
  arp.insert(arp.end(), 6, 0);
  arp.insert(arp.end(), target.bytes.begin(), target.bytes.begin() + 4);
  return eth(arp, kEthertypeArp, std::nullopt, MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
             from_mac);
}

// A raw socket on one interface, for the frames a test sends and expects.
class RawSocket {
 public:
  RawSocket(const char* ifname, uint16_t protocol) {
    fd_ = socket(AF_PACKET, SOCK_RAW, htons(protocol));
    sockaddr_ll where{};
    where.sll_family = AF_PACKET;
    where.sll_protocol = htons(protocol);
    where.sll_ifindex = static_cast<int>(if_nametoindex(ifname));
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&where), sizeof where) == 0;
  }
  ~RawSocket() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return ok_; }
  bool send(const Bytes& frame) { return ::send(fd_, frame.data(), frame.size(), 0) == ssize_t(frame.size()); }
  // Waits up to `limit` for a frame `match` accepts.
  template <typename Match>
  bool expect(Match match, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    uint8_t buf[2048];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0 && match(Bytes(buf, buf + n))) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

// By ioctl: /sys still shows the namespace the process started in.
MacAddress mac_of(const char* ifname) {
  MacAddress mac{};
  ifreq req{};
  std::snprintf(req.ifr_name, sizeof req.ifr_name, "%s", ifname);
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &req) == 0) {
    std::memcpy(mac.data(), req.ifr_hwaddr.sa_data, 6);
  }
  if (fd >= 0) close(fd);
  return mac;
}

bool is_arp(const Bytes& f, uint8_t op) {
  return f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == op;
}

// The port is net_af_packet on one end of a veth (the "wire"), the test
// stands at the other end. The port's interface is told not to answer ARP
// for addresses it does not hold (arp_ignore=1), so the only answer can come
// from the kernel behind the TAP, which holds 10.99.0.1.
TEST(DpdkDriver, ExceptionPathCarriesArpBothWays) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (a TAP, a veth and a private network namespace)";
  if (access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/net/tun: no TAP devices";
  ASSERT_EQ(std::system("ip link add exc-port type veth peer name exc-wire && "
                        "ip link set exc-port up && ip link set exc-wire up && "
                        "sysctl -qw net.ipv4.conf.exc-port.arp_ignore=1"),
            0);
  auto driver = start(options({{"net_af_packet_exc,iface=exc-port", dpdk::tap_device("anylbt0")}}),
                      build(spec()));
  ASSERT_TRUE(driver);
  ASSERT_EQ(std::system("ip addr add 10.99.0.1/24 dev anylbt0 && ip link set anylbt0 up"), 0);
  const MacAddress port_mac = mac_of("exc-port");
  ASSERT_NE(port_mac, MacAddress{});
  EXPECT_EQ(mac_of("anylbt0"), port_mac) << "the TAP does not carry the port's MAC";

  RawSocket tap_side("anylbt0", ETH_P_ARP), wire("exc-wire", ETH_P_ARP);
  ASSERT_TRUE(tap_side.ok() && wire.ok());
  const Bytes request = arp_request(mac_of("exc-wire"), "10.99.0.2", "10.99.0.1");
  ASSERT_TRUE(wire.send(request));
  // The request reaches the kernel through the TAP...
  EXPECT_TRUE(tap_side.expect([&](const Bytes& f) { return is_arp(f, 1) && f == request; }, 2s))
      << "the ARP request did not reach the kernel through the TAP";
  // ... and its reply leaves by the port, from the port's MAC.
  EXPECT_TRUE(wire.expect([&](const Bytes& f) {
    return is_arp(f, 2) && std::equal(port_mac.begin(), port_mac.end(), f.begin() + 6) &&
           IpAddress::from_v4_bytes(&f[28]).to_string() == "10.99.0.1";
  }, 3s)) << "no ARP reply from the kernel came out of the port";

  const auto s = driver->stats();
  EXPECT_GE(s->plumbing.exception_out, 1u);
  EXPECT_GE(s->plumbing.exception_in, 1u);
  EXPECT_EQ(driver->stop(), 0u);
  EXPECT_EQ(std::system("ip link del exc-port"), 0);
}

}  // namespace
}  // namespace anylb::test

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  // A network namespace of our own: the TAP interfaces the tests make vanish
  // with the process, whatever happens to it.
  if (geteuid() == 0 && unshare(CLONE_NEWNET) != 0) {
    std::perror("unshare(CLONE_NEWNET)");
    return 1;
  }
  if (auto ok = anylb::dpdk::init_eal(anylb::test::kEal); !ok) {
    std::fprintf(stderr, "%s\n", ok.error().message.c_str());
    return 1;
  }
  return RUN_ALL_TESTS();
}
