// Encapsulation, byte for byte: the expected frames are assembled here field
// by field (with this file's own checksum code) and compared to encap output.
#include "dataplane/core/encap.h"

#include <gtest/gtest.h>

#include "dataplane/core/packet_view.h"
#include "tests/unit/frames.h"

namespace anylb::test {
namespace {

const MacAddress kGw{0x02, 0, 0, 0, 0, 0x01};

uint16_t ones_sum(const Bytes& b, uint32_t extra = 0) {
  uint64_t s = extra;
  for (size_t i = 0; i + 1 < b.size(); i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.size() % 2) s += b.back() << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put_addr(Bytes& b, const IpAddress& a) {
  b.insert(b.end(), a.bytes.begin(), a.bytes.begin() + (a.is_v4() ? 4 : 16));
}

Bytes l2(uint16_t ethertype, std::optional<uint16_t> vlan = std::nullopt) {
  Bytes b;
  for (uint8_t x : kGw) b.push_back(x);
  for (uint8_t x : kNodeMac) b.push_back(x);
  if (vlan) {
    put16(b, 0x8100);
    put16(b, *vlan);
  }
  put16(b, ethertype);
  return b;
}

Bytes outer4(const IpAddress& src, const IpAddress& dst, uint8_t proto, uint16_t total, uint8_t tos,
             bool df, uint16_t id = 0) {
  Bytes h{0x45, tos};
  put16(h, total);
  put16(h, id);
  put16(h, df ? 0x4000 : 0);
  h.push_back(64);
  h.push_back(proto);
  put16(h, 0);
  put_addr(h, src);
  put_addr(h, dst);
  const uint16_t c = static_cast<uint16_t>(~ones_sum(h));
  h[10] = static_cast<uint8_t>(c >> 8);
  h[11] = static_cast<uint8_t>(c);
  return h;
}

Bytes outer6(const IpAddress& src, const IpAddress& dst, uint8_t next, uint16_t payload,
             uint8_t tclass, uint32_t label) {
  const uint32_t w = (6u << 28) | (uint32_t{tclass} << 20) | (label & 0xfffff);
  Bytes h{static_cast<uint8_t>(w >> 24), static_cast<uint8_t>(w >> 16), static_cast<uint8_t>(w >> 8),
          static_cast<uint8_t>(w)};
  put16(h, payload);
  h.push_back(next);
  h.push_back(64);
  put_addr(h, src);
  put_addr(h, dst);
  return h;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

EncapParams params() {
  EncapParams p;
  p.gateway_mac = kGw;
  p.source_v4 = ip("10.100.0.1");
  p.source_v6 = ip("fd00:100::1");
  p.gue_port = 6080;
  p.mtu = 1500;
  return p;
}

struct Encapped {
  anylb_drop_reason reason;
  Bytes frame;
  uint32_t headroom_left;
};

Encapped run(anylb_encap kind, const Bytes& in, const IpAddress& backend, uint32_t hash,
             const EncapParams& p = params(), uint32_t headroom = 64) {
  Bytes storage(headroom + in.size());
  std::copy(in.begin(), in.end(), storage.begin() + headroom);
  PacketBuffer buf{storage.data() + headroom, static_cast<uint32_t>(in.size()), headroom};
  PacketView v;
  EXPECT_EQ(parse_frame(buf.frame(), v), ANYLB_DROP_NONE);
  const auto r = encap_packet(kind, buf, v, backend, hash, p);
  Bytes out(buf.data, buf.data + buf.len);
  EXPECT_EQ(buf.data - storage.data(), static_cast<ptrdiff_t>(buf.headroom));
  return {r, out, buf.headroom};
}

TEST(Encap, Ipv4InIpv4) {
  const Bytes inner = ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp,
                           tcp(40000, 80, 0x02, Bytes(10, 0xab)), Ipv4Opts{.tos = 0xb8});
  const auto r = run(ANYLB_ENCAP_IPIP, eth_ipv4(inner), ip("10.1.0.2"), 0x1234);
  ASSERT_EQ(r.reason, ANYLB_DROP_NONE);
  const Bytes expected =
      concat({l2(0x0800),
              outer4(ip("10.100.0.1"), ip("10.1.0.2"), 4, static_cast<uint16_t>(20 + inner.size()),
                     0xb8, true),
              inner});
  EXPECT_EQ(r.frame, expected);
  EXPECT_TRUE(ipv4_header_checksum_ok(Bytes(r.frame.begin() + 14, r.frame.end())));
}

// Without DF a router may fragment the outer packet, and fragments of two
// packets between the same addresses must not share an ID: the outer header
// carries the inner one's, which its sender numbers per packet.
TEST(Encap, Ipv4InIpv4KeepsVlanAndClearsDfAndCarriesTheIdWhenInnerAllowsFragments) {
  for (uint16_t id : {0x1234, 0xbeef}) {
    const Bytes inner = ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoUdp, udp(5000, 53),
                             Ipv4Opts{.df = false, .id = id});
    const auto r = run(ANYLB_ENCAP_IPIP, eth(inner, kEthertypeIpv4, 0x0123), ip("10.1.0.2"), 1);
    ASSERT_EQ(r.reason, ANYLB_DROP_NONE);
    const Bytes expected = concat(
        {l2(0x0800, 0x0123),
         outer4(ip("10.100.0.1"), ip("10.1.0.2"), 4, static_cast<uint16_t>(20 + inner.size()), 0,
                false, id),
         inner});
    EXPECT_EQ(r.frame, expected);
    EXPECT_TRUE(ipv4_header_checksum_ok(Bytes(r.frame.begin() + 18, r.frame.end())));
  }
}

TEST(Encap, Ipv4InIpv6) {
  const Bytes inner = ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp, tcp(40000, 80, 0x10));
  const uint32_t hash = 0xabcdef12;
  const auto r = run(ANYLB_ENCAP_IPIP, eth_ipv4(inner), ip("fd00:1::1"), hash);
  ASSERT_EQ(r.reason, ANYLB_DROP_NONE);
  const Bytes expected = concat({l2(0x86dd),
                                 outer6(ip("fd00:100::1"), ip("fd00:1::1"), 4,
                                        static_cast<uint16_t>(inner.size()), 0, hash & 0xfffff),
                                 inner});
  EXPECT_EQ(r.frame, expected);
}

TEST(Encap, Ipv6InIpv6) {
  const Bytes inner = ipv6(ip("2001:db8:ffff::7"), ip("2001:db8::10"), kIpProtoTcp,
                           tcp(40000, 443, 0x02), Ipv6Opts{.tclass = 0x28});
  const auto r = run(ANYLB_ENCAP_IPIP, eth_ipv6(inner), ip("fd00:1::2"), 0x55);
  ASSERT_EQ(r.reason, ANYLB_DROP_NONE);
  const Bytes expected = concat({l2(0x86dd),
                                 outer6(ip("fd00:100::1"), ip("fd00:1::2"), 41,
                                        static_cast<uint16_t>(inner.size()), 0x28, 0x55),
                                 inner});
  EXPECT_EQ(r.frame, expected);
}

TEST(Encap, GueOverIpv4HasZeroUdpChecksumAndHashedSourcePort) {
  const Bytes inner = ipv4(ip("198.51.100.7"), ip("192.0.2.53"), kIpProtoUdp,
                           udp(5353, 53, Bytes(30, 1)));
  const uint32_t hash = 0x00047777;
  const auto r = run(ANYLB_ENCAP_GUE, eth_ipv4(inner), ip("10.2.0.1"), hash);
  ASSERT_EQ(r.reason, ANYLB_DROP_NONE);
  Bytes udph;
  put16(udph, static_cast<uint16_t>(49152 + (hash & 0x3fff)));
  put16(udph, 6080);
  put16(udph, static_cast<uint16_t>(8 + inner.size()));
  put16(udph, 0);
  const Bytes expected = concat(
      {l2(0x0800),
       outer4(ip("10.100.0.1"), ip("10.2.0.1"), 17, static_cast<uint16_t>(28 + inner.size()), 0,
              true),
       udph, inner});
  EXPECT_EQ(r.frame, expected);
}

TEST(Encap, GueOverIpv6HasValidUdpChecksum) {
  for (size_t payload : {0u, 1u, 31u, 1000u}) {  // odd and even inner lengths
    const Bytes inner = ipv4(ip("198.51.100.7"), ip("192.0.2.20"), kIpProtoUdp,
                             udp(5353, 9999, Bytes(payload, 0x5a)));
    const auto r = run(ANYLB_ENCAP_GUE, eth_ipv4(inner), ip("fd00:2::1"), 0x1111);
    ASSERT_EQ(r.reason, ANYLB_DROP_NONE);
    const Bytes outer_ip(r.frame.begin() + 14, r.frame.end());
    EXPECT_TRUE(l4_checksum_ok(outer_ip)) << "payload " << payload;
    EXPECT_EQ(outer_ip[6], 17);
    EXPECT_EQ(Bytes(outer_ip.begin() + 48, outer_ip.end()), inner);
  }
}

TEST(Encap, SourcePickedFromPrefixByHash) {
  EncapParams p = params();
  p.source_v4.reset();
  p.source_v4_prefix = *parse_ip_prefix("10.99.0.0/24");
  EXPECT_EQ(encap_source(p, 4, 0), ip("10.99.0.0"));
  EXPECT_EQ(encap_source(p, 4, 257), ip("10.99.0.1"));
  EXPECT_EQ(encap_source(p, 4, 0xffffffff), ip("10.99.0.255"));
  const Bytes inner = ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp, tcp(1, 80, 2));
  const auto r = run(ANYLB_ENCAP_IPIP, eth_ipv4(inner), ip("10.1.0.2"), 0x42, p);
  ASSERT_EQ(r.reason, ANYLB_DROP_NONE);
  EXPECT_EQ(Bytes(r.frame.begin() + 26, r.frame.begin() + 30), (Bytes{10, 99, 0, 0x42}));
}

TEST(Encap, NoSourceForFamily) {
  EncapParams p = params();
  p.source_v6.reset();
  const Bytes inner = ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp, tcp(1, 80, 2));
  EXPECT_EQ(run(ANYLB_ENCAP_IPIP, eth_ipv4(inner), ip("fd00::1"), 1, p).reason,
            ANYLB_DROP_NO_TUNNEL_SOURCE);
}

TEST(Encap, TrailingEthernetPaddingIsDropped) {
  const Bytes inner = ipv4(ip("198.51.100.7"), ip("192.0.2.53"), kIpProtoUdp, udp(1, 53));
  Bytes frame = eth_ipv4(inner);
  frame.resize(60, 0);  // minimum Ethernet frame
  const auto r = run(ANYLB_ENCAP_IPIP, frame, ip("10.2.0.1"), 1);
  ASSERT_EQ(r.reason, ANYLB_DROP_NONE);
  EXPECT_EQ(r.frame.size(), 14 + 20 + inner.size());
}

TEST(Encap, MtuIsTheLimitForTheOuterPacket) {
  // 1480-byte inner + 20 outer = 1500: fits. One more byte does not.
  const Bytes fits = ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp,
                          tcp(1, 80, 0x10, Bytes(1480 - 40, 0)));
  ASSERT_EQ(fits.size(), 1480u);
  EXPECT_EQ(run(ANYLB_ENCAP_IPIP, eth_ipv4(fits), ip("10.1.0.2"), 1).reason, ANYLB_DROP_NONE);
  const Bytes too_big = ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp,
                             tcp(1, 80, 0x10, Bytes(1481 - 40, 0)));
  EXPECT_EQ(run(ANYLB_ENCAP_IPIP, eth_ipv4(too_big), ip("10.1.0.2"), 1).reason, ANYLB_DROP_TOO_BIG);
  // GUE over IPv6 adds 48.
  EXPECT_EQ(run(ANYLB_ENCAP_GUE, eth_ipv4(fits), ip("fd00:2::1"), 1).reason, ANYLB_DROP_TOO_BIG);
}

TEST(Encap, NeedsHeadroom) {
  const Bytes inner = ipv4(ip("198.51.100.7"), ip("192.0.2.10"), kIpProtoTcp, tcp(1, 80, 2));
  // Frame starts 14 bytes before the IP header; IPIP needs 14 + 20: 20 more.
  EXPECT_EQ(run(ANYLB_ENCAP_IPIP, eth_ipv4(inner), ip("10.1.0.2"), 1, params(), 19).reason,
            ANYLB_DROP_NO_HEADROOM);
  const auto ok = run(ANYLB_ENCAP_IPIP, eth_ipv4(inner), ip("10.1.0.2"), 1, params(), 20);
  EXPECT_EQ(ok.reason, ANYLB_DROP_NONE);
  EXPECT_EQ(ok.headroom_left, 0u);
}

}  // namespace
}  // namespace anylb::test
