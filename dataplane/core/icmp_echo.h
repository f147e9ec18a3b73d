// Answers an ICMP/ICMPv6 echo request to a VIP in place, so that operators can
// ping an anycast address and reach the nearest PoP's balancer.
#pragma once

#include "abi.h"
#include "packet_buffer.h"
#include "packet_view.h"

namespace anylb {

// Turns the request in `buf` into the reply: addresses and MACs swapped, type
// changed, checksums updated, TTL/hop limit reset to 64, padding trimmed.
// Requests carrying IPv4 options or IPv6 extension headers are not answered
// (a reply would have to reverse source routes): ANYLB_DROP_ICMP_UNHANDLED.
anylb_drop_reason reply_icmp_echo(PacketBuffer& buf, const PacketView& view);

}  // namespace anylb
