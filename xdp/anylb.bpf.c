// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* anylb's XDP fast path: the decision of dataplane/core/decide.cpp, in BPF.
 *
 * Every function here has a twin in dataplane/core/ and must stay in step with
 * it: same checks in the same order, same drop reason for the same condition,
 * same output bytes, same counters. A differential test runs frames through
 * both (BPF_PROG_TEST_RUN against decide()) and compares them byte for byte.
 *
 *   parse_frame()          parse.cpp            (PacketView -> struct view)
 *   parse_plain_ipv4()     parse.cpp, for the common frame only (no twin: the
 *                          same view, fewer tests; the differential test checks it)
 *   find_address/find_vip  forwarding_state.cpp (maps: addresses, vip_index, vips)
 *   flow_hash()            flow_hash.h
 *   maglev_pick()          decide.cpp pick()    (maps: maglev, backends)
 *   flow_find/insert/...   flow_table.cpp       (map: flow_groups, one table per CPU)
 *   echo_reply()           icmp_echo.cpp
 *   encap()                encap.cpp
 *   anylb_xdp()            decide.cpp prepare_packet() + finish_packet()
 *
 * Packet access: every read or write is preceded by a test against data_end
 * (pkt()), and, where the core tests against the end of the IP packet, by the
 * same logical test first (fits()). Offsets are bounded by ANYLB_MAX_PKT_OFF
 * for the verifier; no linear XDP frame comes near it. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
/* <linux/icmp.h> is left out: it pulls in <linux/if.h> and glibc headers that
 * do not build for -target bpf. ICMP needs only its type numbers here. */
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "dataplane/core/abi_hash.h"
#include "xdp/anylb_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- Knobs and maps ----------------------------------------------------- */

const volatile struct anylb_node_config node_config = {};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * ANYLB_ADDR_SLOTS);
	__type(key, __u32);
	__type(value, struct anylb_addr_slot);
} addr_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} addr_half SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ANYLB_MAX_VIPS);
	__type(key, struct anylb_vip_key);
	__type(value, __u32);
} vip_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ANYLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct anylb_vip);
} vips SEC(".maps");

/* Inner maps: ARRAY of __u32 backend ids, one per VIP and half. The template
 * has one entry; BPF_F_INNER_MAP lets the loader insert arrays of any size
 * (they must be created with the same flags, key and value sizes). */
struct maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, ANYLB_MAX_VIPS * 2);
	__type(key, __u32);
	__array(values, struct maglev_inner);
} maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ANYLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct anylb_backend);
} backends SEC(".maps");

/* The flow table, one per CPU side by side: CPU c owns groups
 * [c * B, (c + 1) * B), B = flow_bucket_mask + 1. The loader sizes the map.
 * ARRAY lookups are inlined by the verifier: a hit costs no call, no lock and
 * no hash of the key beyond the flow hash already taken. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct anylb_flow_group);
} flow_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct anylb_clock);
} clock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ANYLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct anylb_vip_stats);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ANYLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct anylb_backend_stats);
} backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ANYLB_DROP_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} drop_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct anylb_path_stats);
} path_stats SEC(".maps");

/* ---- Constants (parse.cpp, encap.h) ------------------------------------- */

#define ANYLB_MAX_PKT_OFF 0x3fff /* bound on offsets, for the verifier */
#define ANYLB_MAX_EXT 6          /* kMaxIpv6ExtHeaders */
#define ANYLB_CSUM_CHUNK 512     /* bpf_csum_diff's largest size */
/* 9 KiB: node.mtu's largest value (9216). Native XDP frames are smaller, but
 * generic XDP linearises a jumbo frame, and the core forwards what mtu allows. */
#define ANYLB_CSUM_CHUNKS 18

#define ETH_LEN 14
#define VLAN_TAG_LEN 4
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100

#define PROTO_HOPOPTS 0
#define PROTO_ICMP 1
#define PROTO_IPIP 4
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_IPV6 41
#define PROTO_ROUTING 43
#define PROTO_FRAGMENT 44
#define PROTO_AH 51
#define PROTO_ICMPV6 58
#define PROTO_DSTOPTS 60

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04

#define OUTER_TTL 64
#define GUE_SPORT_BASE 49152

enum frag_kind { FRAG_NONE = 0, FRAG_FIRST = 1, FRAG_LATER = 2 };
enum icmp_kind { ICMPK_NONE = 0, ICMPK_ECHO = 1, ICMPK_ERROR = 2, ICMPK_OTHER = 3 };

/* PacketView. Zeroed once per packet (parse_frame's clear_view). The flow keys
 * come first and the struct is 8-aligned: the hash and the map lookups read
 * them as words, and the verifier wants aligned stack accesses. */
struct view {
	struct anylb_flow_key key;
	struct anylb_flow_key inner; /* the quoted packet's flow (ICMP errors) */
	__u16 vlan_tci;
	__u16 l3_off;
	__u16 l3_len;
	__u16 l4_off;
	__u8 has_vlan;
	__u8 l3_ok;
	__u8 family;
	__u8 l4_proto;
	__u8 tos;
	__u8 df;
	__u8 frag;
	__u8 tcp_flags;
	__u8 icmp;
	__u8 icmp_type;
} __attribute__((aligned(8)));

/* ---- Packet access ------------------------------------------------------ */

/* fits() of parse.cpp: [off, off + len) inside [0, end), without wrapping. */
static __always_inline int fits(__u32 off, __u32 len, __u32 end)
{
	return len <= end && off <= end - len;
}

/* A pointer to len bytes at off, or NULL when they are not in the frame. */
static __always_inline __u8 *pkt(void *data, void *data_end, __u32 off, __u32 len)
{
	__u8 *p;

	if (off > ANYLB_MAX_PKT_OFF)
		return NULL;
	/* The mask changes nothing, but it bounds the very register added to
	 * the pointer (clang tends to test one copy of off and add another);
	 * the empty asm keeps clang from dropping it as redundant. */
	asm volatile("" : "+r"(off));
	off &= ANYLB_MAX_PKT_OFF;
	p = (__u8 *)data + off;
	if ((void *)(p + len) > data_end)
		return NULL;
	return p;
}

/* Words of the packet (and of stack and map bytes), read and written whole.
 * __builtin_memcpy and byte arithmetic on a __u8 pointer make clang assume
 * 1-byte alignment and emit a load or store per byte: in the first version
 * that was a good part of an established packet's instructions. x86 (like
 * arm64) accesses unaligned words at full speed and the verifier checks
 * packet alignment only under BPF_F_STRICT_ALIGNMENT, which the loader does
 * not set. may_alias: the same bytes are also read as __u8. */
typedef __u16 __attribute__((may_alias)) word16;
typedef __u32 __attribute__((may_alias)) word32;
typedef __u64 __attribute__((may_alias)) word64;

static __always_inline __u32 get32(const void *p)
{
	return *(const word32 *)p;
}

static __always_inline void put32(void *p, __u32 v)
{
	*(word32 *)p = v;
}

static __always_inline void copy6(void *to, const void *from)
{
	__u32 lo = *(const word32 *)from;
	__u16 hi = *(const word16 *)((const __u8 *)from + 4);

	*(word32 *)to = lo;
	*(word16 *)((__u8 *)to + 4) = hi;
}

static __always_inline void copy16(void *to, const void *from)
{
	__u64 lo = *(const word64 *)from;
	__u64 hi = *(const word64 *)((const __u8 *)from + 8);

	*(word64 *)to = lo;
	*(word64 *)((__u8 *)to + 8) = hi;
}

static __always_inline __u16 load_be16(const __u8 *p)
{
	return bpf_ntohs(*(const word16 *)p);
}

static __always_inline void store_be16(__u8 *p, __u16 v)
{
	*(word16 *)p = bpf_htons(v);
}

/* ---- Checksums (checksum.h) --------------------------------------------- */

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* A sum of up to 2^32 32-bit words folded to 16 bits. */
static __always_inline __u16 csum_fold64(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

static __always_inline __u16 csum_finish(__u32 sum)
{
	return (__u16)~csum_fold(sum);
}

/* checksum.h csum_replace16(): RFC 1624 eqn. 3, with 0xffff for 0x0000 (only
 * 0xffff verifies over all-zero data, and it verifies wherever 0x0000 does). */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old_word, __u16 new_word)
{
	__u32 sum = (__u16)~check;
	__u16 updated;

	sum += (__u16)~old_word;
	sum += new_word;
	updated = (__u16)~csum_fold(sum);
	return updated == 0 ? 0xffff : updated;
}

/* Big-endian 16-bit words of n bytes (n even) at p, summed. */
static __always_inline __u32 csum_words(const __u8 *p, int n)
{
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < n; i += 2)
		sum += ((__u32)p[i] << 8) | p[i + 1];
	return sum;
}

/* ---- Parse (parse.cpp) -------------------------------------------------- */

static __always_inline int frag_kind_v4(__u16 flags_and_offset)
{
	if (flags_and_offset & 0x1fff)
		return FRAG_LATER;
	if (flags_and_offset & 0x2000)
		return FRAG_FIRST;
	return FRAG_NONE;
}

static __always_inline int is_ipv6_ext(__u8 nh)
{
	return nh == PROTO_HOPOPTS || nh == PROTO_ROUTING || nh == PROTO_FRAGMENT ||
	       nh == PROTO_AH || nh == PROTO_DSTOPTS;
}

struct chain {
	__u32 l4;
	__u8 proto;
	__u8 frag;
};

/* walk_ipv6_extensions(): at most ANYLB_MAX_EXT headers, each inside end.
 * A global function: the verifier checks it once, not once per path that
 * reaches it (the outer packet's walk and the quoted packet's). */
__noinline int anylb_walk_ipv6_ext(struct xdp_md *ctx, __u32 off, __u32 end, __u32 next_header,
				   struct chain *c)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 nh = (__u8)next_header;

	if (!c)
		return ANYLB_DROP_IPV6_EXT_TRUNCATED;
	c->frag = FRAG_NONE;
#pragma unroll
	for (int walked = 0; walked <= ANYLB_MAX_EXT; walked++) {
		__u32 len;
		__u8 *p;

		if (!is_ipv6_ext(nh))
			break;
		if (walked == ANYLB_MAX_EXT)
			return ANYLB_DROP_IPV6_EXT_LIMIT;
		if (nh == PROTO_FRAGMENT) {
			__u16 offset_and_flags;

			if (!fits(off, 8, end))
				return ANYLB_DROP_IPV6_EXT_TRUNCATED;
			p = pkt(data, data_end, off, 8);
			if (!p)
				return ANYLB_DROP_IPV6_EXT_TRUNCATED;
			offset_and_flags = load_be16(p + 2);
			if ((offset_and_flags >> 3) != 0) {
				c->proto = p[0];
				c->l4 = off + 8;
				c->frag = FRAG_LATER;
				return ANYLB_DROP_NONE;
			}
			/* Offset 0 without M is an atomic fragment: a whole packet. */
			if (offset_and_flags & 1)
				c->frag = FRAG_FIRST;
			len = 8;
		} else {
			if (!fits(off, 2, end))
				return ANYLB_DROP_IPV6_EXT_TRUNCATED;
			p = pkt(data, data_end, off, 2);
			if (!p)
				return ANYLB_DROP_IPV6_EXT_TRUNCATED;
			len = nh == PROTO_AH ? ((__u32)p[1] + 2) * 4 : ((__u32)p[1] + 1) * 8;
			if (!fits(off, len, end))
				return ANYLB_DROP_IPV6_EXT_TRUNCATED;
		}
		nh = p[0];
		off += len;
	}
	c->proto = nh;
	c->l4 = off;
	return ANYLB_DROP_NONE;
}

static __always_inline void copy_v4_addrs(const __u8 *h, struct anylb_flow_key *k)
{
	put32(k->src, get32(h + 12));
	put32(k->dst, get32(h + 16));
	k->family = 4;
}

static __always_inline void copy_v6_addrs(const __u8 *h, struct anylb_flow_key *k)
{
	copy16(k->src, h + 8);
	copy16(k->dst, h + 24);
	k->family = 6;
}

static __always_inline int parse_ipv4(void *data, void *data_end, __u32 flen, __u32 l3,
				      struct view *v)
{
	__u32 avail, header_len, total_len;
	__u16 flags_and_offset;
	__u8 *h;

	v->family = 4;
	v->l3_off = l3;
	avail = flen - l3;
	if (avail < 20)
		return ANYLB_DROP_IPV4_TRUNCATED;
	h = pkt(data, data_end, l3, 20);
	if (!h)
		return ANYLB_DROP_IPV4_TRUNCATED;
	if ((h[0] >> 4) != 4)
		return ANYLB_DROP_IPV4_BAD_VERSION;
	header_len = (__u32)(h[0] & 0x0f) * 4;
	if (header_len < 20)
		return ANYLB_DROP_IPV4_BAD_IHL;

	v->l3_ok = 1;
	copy_v4_addrs(h, &v->key);
	v->l4_proto = v->key.proto = h[9];
	v->tos = h[1];
	flags_and_offset = load_be16(h + 6);
	v->df = (flags_and_offset & 0x4000) != 0;
	v->frag = frag_kind_v4(flags_and_offset);

	if (header_len > avail)
		return ANYLB_DROP_IPV4_TRUNCATED;
	total_len = load_be16(h + 2);
	if (total_len < header_len || total_len > avail)
		return ANYLB_DROP_IPV4_BAD_LENGTH;
	v->l3_len = total_len;
	v->l4_off = l3 + header_len;
	return ANYLB_DROP_NONE;
}

static __always_inline int parse_ipv6(struct xdp_md *ctx, void *data, void *data_end, __u32 flen,
				      __u32 l3, struct view *v)
{
	struct chain c = {};
	__u32 avail, packet_len;
	int reason;
	__u8 *h;

	v->family = 6;
	v->l3_off = l3;
	avail = flen - l3;
	if (avail < 40)
		return ANYLB_DROP_IPV6_TRUNCATED;
	h = pkt(data, data_end, l3, 40);
	if (!h)
		return ANYLB_DROP_IPV6_TRUNCATED;
	if ((h[0] >> 4) != 6)
		return ANYLB_DROP_IPV6_BAD_VERSION;

	v->l3_ok = 1;
	copy_v6_addrs(h, &v->key);
	v->tos = (__u8)((h[0] << 4) | (h[1] >> 4));

	packet_len = 40 + (__u32)load_be16(h + 4);
	if (packet_len == 40 || packet_len > avail || packet_len > 0xffff)
		return ANYLB_DROP_IPV6_BAD_LENGTH;
	v->l3_len = packet_len;

	reason = anylb_walk_ipv6_ext(ctx, l3 + 40, l3 + packet_len, h[6], &c);
	if (reason != ANYLB_DROP_NONE)
		return reason;
	v->l4_proto = v->key.proto = c.proto;
	v->l4_off = c.l4;
	v->frag = c.frag;
	return ANYLB_DROP_NONE;
}

/* parse_icmp_error_inner(): the quoted packet, of the outer family. */
static __always_inline int parse_icmp_inner(struct xdp_md *ctx, void *data, void *data_end,
					    __u32 off, __u32 end, __u8 family,
					    struct anylb_flow_key *inner)
{
	__u32 l4;
	__u8 proto;
	int later;
	__u8 *h;

	if (family == 4) {
		__u32 header_len;

		if (!fits(off, 20, end))
			return ANYLB_DROP_ICMP_INNER_MALFORMED;
		h = pkt(data, data_end, off, 20);
		if (!h)
			return ANYLB_DROP_ICMP_INNER_MALFORMED;
		header_len = (__u32)(h[0] & 0x0f) * 4;
		if ((h[0] >> 4) != 4 || header_len < 20 || !fits(off, header_len, end))
			return ANYLB_DROP_ICMP_INNER_MALFORMED;
		copy_v4_addrs(h, inner);
		proto = h[9];
		l4 = off + header_len;
		later = frag_kind_v4(load_be16(h + 6)) == FRAG_LATER;
	} else {
		struct chain c = {};

		if (!fits(off, 40, end))
			return ANYLB_DROP_ICMP_INNER_MALFORMED;
		h = pkt(data, data_end, off, 40);
		if (!h)
			return ANYLB_DROP_ICMP_INNER_MALFORMED;
		if ((h[0] >> 4) != 6)
			return ANYLB_DROP_ICMP_INNER_MALFORMED;
		copy_v6_addrs(h, inner);
		if (anylb_walk_ipv6_ext(ctx, off + 40, end, h[6], &c) != ANYLB_DROP_NONE)
			return ANYLB_DROP_ICMP_INNER_MALFORMED;
		proto = c.proto;
		l4 = c.l4;
		later = c.frag == FRAG_LATER;
	}
	inner->proto = proto;
	if ((proto == PROTO_TCP || proto == PROTO_UDP) && !later) {
		__u8 *p;

		if (!fits(l4, 4, end))
			return ANYLB_DROP_ICMP_INNER_MALFORMED;
		p = pkt(data, data_end, l4, 4);
		if (!p)
			return ANYLB_DROP_ICMP_INNER_MALFORMED;
		put32(&inner->sport, get32(p)); /* sport, dport */
	}
	return ANYLB_DROP_NONE;
}

static __always_inline int classify_icmp(__u8 family, __u8 type)
{
	if (family == 4) {
		if (type == 8)
			return ICMPK_ECHO;
		if (type == 3 || type == 11 || type == 12)
			return ICMPK_ERROR;
	} else {
		if (type == 128)
			return ICMPK_ECHO;
		if (type >= 1 && type <= 4)
			return ICMPK_ERROR;
	}
	return ICMPK_OTHER;
}

static __always_inline int parse_icmp(struct xdp_md *ctx, void *data, void *data_end, __u32 off,
				      __u32 end, struct view *v)
{
	__u8 *p;

	if (!fits(off, 8, end))
		return ANYLB_DROP_ICMP_TRUNCATED;
	p = pkt(data, data_end, off, 8);
	if (!p)
		return ANYLB_DROP_ICMP_TRUNCATED;
	v->icmp_type = p[0];
	v->icmp = classify_icmp(v->family, p[0]);
	if (v->icmp != ICMPK_ERROR)
		return ANYLB_DROP_NONE;
	return parse_icmp_inner(ctx, data, data_end, off + 8, end, v->family, &v->inner);
}

static __always_inline int parse_l4(struct xdp_md *ctx, void *data, void *data_end,
				    struct view *v)
{
	__u32 off = v->l4_off;
	__u32 end = (__u32)v->l3_off + v->l3_len;
	__u8 *p;

	switch (v->l4_proto) {
	case PROTO_TCP: {
		__u32 header_len;

		if (!fits(off, 20, end))
			return ANYLB_DROP_L4_TRUNCATED;
		p = pkt(data, data_end, off, 20);
		if (!p)
			return ANYLB_DROP_L4_TRUNCATED;
		put32(&v->key.sport, get32(p)); /* sport, dport */
		v->tcp_flags = p[13];
		header_len = ((__u32)p[12] >> 4) * 4;
		if (header_len < 20 || !fits(off, header_len, end))
			return ANYLB_DROP_TCP_BAD_OFFSET;
		return ANYLB_DROP_NONE;
	}
	case PROTO_UDP:
		if (!fits(off, 8, end))
			return ANYLB_DROP_L4_TRUNCATED;
		p = pkt(data, data_end, off, 8);
		if (!p)
			return ANYLB_DROP_L4_TRUNCATED;
		put32(&v->key.sport, get32(p)); /* sport, dport */
		return ANYLB_DROP_NONE;
	case PROTO_ICMP:
		return v->family == 4 ? parse_icmp(ctx, data, data_end, off, end, v) : ANYLB_DROP_NONE;
	case PROTO_ICMPV6:
		return v->family == 6 ? parse_icmp(ctx, data, data_end, off, end, v) : ANYLB_DROP_NONE;
	default:
		return ANYLB_DROP_NONE;
	}
}

/* parse_frame(). v must be zeroed. Inlined: a call to a global function
 * costs a register save, a stack hand-off of the view and a return through
 * the return thunk, which was ~10% of an established packet. */
static __always_inline int parse_frame(struct xdp_md *ctx, struct view *v)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 flen = (__u32)((long)data_end - (long)data);
	__u32 l3 = ETH_LEN;
	__u16 ethertype;
	int reason;
	__u8 *p;

	if (!v)
		return ANYLB_DROP_ETH_TRUNCATED;
	if (flen < ETH_LEN)
		return ANYLB_DROP_ETH_TRUNCATED;
	p = pkt(data, data_end, 0, ETH_LEN);
	if (!p)
		return ANYLB_DROP_ETH_TRUNCATED;
	ethertype = load_be16(p + 12);
	if (ethertype == ETHERTYPE_VLAN) {
		if (!fits(l3, VLAN_TAG_LEN, flen))
			return ANYLB_DROP_VLAN_TRUNCATED;
		p = pkt(data, data_end, l3, VLAN_TAG_LEN);
		if (!p)
			return ANYLB_DROP_VLAN_TRUNCATED;
		v->has_vlan = 1;
		v->vlan_tci = load_be16(p);
		ethertype = load_be16(p + 2);
		l3 += VLAN_TAG_LEN;
	}

	if (ethertype == ETHERTYPE_IPV4)
		reason = parse_ipv4(data, data_end, flen, l3, v);
	else if (ethertype == ETHERTYPE_IPV6)
		reason = parse_ipv6(ctx, data, data_end, flen, l3, v);
	else
		return ANYLB_DROP_NONE; /* not IP: the kernel's */
	if (reason != ANYLB_DROP_NONE || v->frag == FRAG_LATER)
		return reason;
	return parse_l4(ctx, data, data_end, v);
}

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "parse_plain_ipv4 writes the key in words");
_Static_assert(__builtin_offsetof(struct anylb_flow_key, sport) == 32 &&
		       __builtin_offsetof(struct anylb_flow_key, proto) == 36 &&
		       __builtin_offsetof(struct anylb_flow_key, family) == 37 &&
		       sizeof(struct anylb_flow_key) == 40,
	       "the key's last word: ports, protocol, family, pad");

/* The frame nearly all traffic is: Ethernet without a tag, IPv4 without
 * options, not a fragment, TCP or UDP with its whole header inside the
 * packet. parse_frame() finds nothing wrong with such a frame; this fills the
 * view exactly as parse_frame() on a zeroed view would, without the general
 * walk and without clearing the view first. 0 for any other frame (the view
 * is then garbage: the caller clears it and runs parse_frame()). */
static __always_inline int parse_plain_ipv4(struct xdp_md *ctx, struct view *v)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	__u32 total_len, header_len;
	__u8 proto, flags = 0;

	if ((void *)(p + ETH_LEN + 40) > data_end) /* IPv4 + TCP; 60 on the wire */
		return 0;
	if (*(word16 *)(p + 12) != bpf_htons(ETHERTYPE_IPV4) || p[14] != 0x45)
		return 0;
	if (*(word16 *)(p + 20) & bpf_htons(0x3fff)) /* MF or an offset */
		return 0;
	total_len = load_be16(p + 16);
	if (total_len > (__u32)((long)data_end - (long)data) - ETH_LEN)
		return 0;
	proto = p[23];
	if (proto == PROTO_TCP) {
		header_len = ((__u32)p[46] >> 4) * 4;
		if (total_len < 40 || header_len < 20 || header_len > total_len - 20)
			return 0;
		flags = p[47];
	} else if (proto != PROTO_UDP || total_len < 28) {
		return 0;
	}
	/* The key and the quoted key in whole words (clang splits a memset of
	 * them into halfwords): addresses zero-extended, then ports, protocol
	 * and family in one word, as the key lays them out on a little-endian
	 * machine. */
	*(word64 *)v->key.src = get32(p + 26);
	*(word64 *)(v->key.src + 8) = 0;
	*(word64 *)v->key.dst = get32(p + 30);
	*(word64 *)(v->key.dst + 8) = 0;
	*(word64 *)&v->key.sport = get32(p + 34) | (__u64)proto << 32 | (__u64)4 << 40;
#pragma unroll
	for (int i = 0; i < 5; i++)
		((word64 *)&v->inner)[i] = 0;
	v->vlan_tci = 0;
	v->l3_off = ETH_LEN;
	v->l3_len = total_len;
	v->l4_off = ETH_LEN + 20;
	v->has_vlan = 0;
	v->l3_ok = 1;
	v->family = 4;
	v->l4_proto = proto;
	v->tos = p[15];
	v->df = (p[20] & 0x40) != 0;
	v->frag = FRAG_NONE;
	v->tcp_flags = flags;
	v->icmp = ICMPK_NONE;
	v->icmp_type = 0;
	return 1;
}

/* ---- Flow hash (flow_hash.h) -------------------------------------------- */

/* The key's words read little-endian: on BPF (little-endian) plain loads. */
static __always_inline __u32 flow_hash(const struct anylb_flow_key *key, __u32 seed)
{
	const __u32 *w = (const __u32 *)key;
	__u32 h = seed;

	if (key->family == 4) {
		h = anylb_murmur3_round(h, w[0]); /* src[0..3] */
		h = anylb_murmur3_round(h, w[4]); /* dst[0..3] */
		h = anylb_murmur3_round(h, w[8]); /* sport | dport */
		h = anylb_murmur3_round(h, w[9]); /* proto | family | pad */
		return anylb_murmur3_finish(h, 16);
	}
#pragma unroll
	for (int i = 0; i < 10; i++)
		h = anylb_murmur3_round(h, w[i]);
	return anylb_murmur3_finish(h, 40);
}

/* ---- Counters (decide.cpp pass/drop/forward) ---------------------------- */

static __always_inline struct anylb_path_stats *path(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&path_stats, &zero);
}

static __always_inline int do_pass(void)
{
	struct anylb_path_stats *ps = path();

	if (ps)
		ps->passed++;
	return XDP_PASS;
}

/* drop(): counted under its reason, and against the VIP once it is known. */
static __always_inline int do_drop(__u32 reason, __u32 vip_id)
{
	__u64 *cnt = bpf_map_lookup_elem(&drop_stats, &reason);

	if (cnt)
		(*cnt)++;
	if (vip_id < ANYLB_MAX_VIPS) {
		struct anylb_vip_stats *vs = bpf_map_lookup_elem(&vip_stats, &vip_id);

		if (vs)
			vs->drops++;
	}
	return XDP_DROP;
}

/* ---- Forwarding state (forwarding_state.cpp) ---------------------------- */

/* ForwardingState::vip(id): present, or NULL. */
static __always_inline struct anylb_vip *vip_get(__u32 id)
{
	struct anylb_vip *vip = bpf_map_lookup_elem(&vips, &id);

	return vip && vip->present ? vip : NULL;
}

/* ForwardingState::backend(id): present, or NULL. */
static __always_inline struct anylb_backend *backend_get(__u32 id)
{
	struct anylb_backend *b = bpf_map_lookup_elem(&backends, &id);

	return b && b->present ? b : NULL;
}

/* ForwardingState::find_address(): the address's slot in the active half of
 * addr_slots (address_table.cpp builds it), probed from its home slot up to
 * an empty one. Every lookup here is an inlined array access: this runs for
 * every IP packet, ours or not. dst16 is 4-aligned (a flow key in the view). */
static __always_inline struct anylb_addr_info *find_address_words(__u32 w0, __u32 w1, __u32 w2,
								  __u32 w3, __u8 family)
{
	__u32 zero = 0, home, base;
	__u32 *half = bpf_map_lookup_elem(&addr_half, &zero);

	if (!half)
		return NULL;
	base = (*half & 1) * ANYLB_ADDR_SLOTS;
	home = anylb_addr_slot_of(w0, w1, w2, w3, family);
	for (__u32 i = 0; i < ANYLB_ADDR_PROBES; i++) { /* a bounded loop */
		__u32 at = base + ((home + i) & (ANYLB_ADDR_SLOTS - 1));
		struct anylb_addr_slot *s = bpf_map_lookup_elem(&addr_slots, &at);
		const __u32 *a;

		if (!s || s->family == 0)
			return NULL;
		a = (const __u32 *)s->addr;
		if (s->family == family && a[0] == w0 && a[1] == w1 && a[2] == w2 && a[3] == w3)
			return &s->info;
	}
	return NULL;
}

static __always_inline struct anylb_addr_info *find_address(const __u8 *dst16, __u8 family)
{
	const __u32 *w = (const __u32 *)dst16;

	return find_address_words(w[0], w[1], w[2], w[3], family);
}

/* The index lookup: find_vip(dst16, family, port, protocol). */
static __always_inline struct anylb_vip *find_vip_index(const __u8 *dst16, __u8 family,
							__u16 port_host, __u8 protocol,
							__u32 *vip_id)
{
	struct anylb_vip_key k __attribute__((aligned(8))) = {};
	__u32 *id;

	copy16(k.addr, dst16);
	k.port = port_host;
	k.protocol = protocol;
	k.family = family;
	id = bpf_map_lookup_elem(&vip_index, &k);
	if (!id && port_host != 0) {
		k.port = 0;
		id = bpf_map_lookup_elem(&vip_index, &k);
	}
	if (!id)
		return NULL;
	*vip_id = *id;
	return vip_get(*id);
}

/* find_vip(addr, ...): the address's inline VIPs, exact port first, then the
 * port-less one; the index when the address has more than fit inline. */
static __always_inline struct anylb_vip *find_vip(const struct anylb_addr_info *addr,
						  const __u8 *dst16, __u8 family, __u16 port_host,
						  __u8 protocol, __u32 *vip_id)
{
	__u32 portless = ANYLB_INVALID_ID;
	__u32 count = addr->inline_count;

	if (addr->overflow)
		return find_vip_index(dst16, family, port_host, protocol, vip_id);
	for (int i = 0; i < ANYLB_INLINE_VIPS; i++) { /* a bounded loop */
		if ((__u32)i >= count)
			break;
		if (addr->vips[i].protocol != protocol)
			continue;
		if (addr->vips[i].port == port_host) {
			*vip_id = addr->vips[i].vip_id;
			return vip_get(addr->vips[i].vip_id);
		}
		if (addr->vips[i].port == 0)
			portless = addr->vips[i].vip_id;
	}
	if (portless == ANYLB_INVALID_ID)
		return NULL;
	*vip_id = portless;
	return vip_get(portless);
}

/* decide.cpp usable_for(). */
static __always_inline int usable_for(const struct anylb_backend *b, __u32 vip_id)
{
	return b && b->vip_id == vip_id && b->state != ANYLB_BACKEND_DOWN;
}

/* decide.cpp pick(): the backend owning slot hash % M of the VIP's active
 * table, or NULL with *reason set. */
static __always_inline struct anylb_backend *maglev_pick(const struct anylb_vip *vip, __u32 vip_id,
							 __u32 hash, __u32 *backend_id,
							 __u32 *reason)
{
	struct anylb_backend *b;
	__u32 size = vip->table_size;
	__u32 outer, slot, id;
	__u32 *slot_id;
	void *table;

	if (size == 0) {
		*reason = ANYLB_DROP_NO_BACKEND;
		return NULL;
	}
	slot = hash % size;
	outer = vip_id * 2 + (vip->active ? 1 : 0);
	table = bpf_map_lookup_elem(&maglev, &outer);
	if (!table) {
		*reason = ANYLB_DROP_NO_BACKEND;
		return NULL;
	}
	slot_id = bpf_map_lookup_elem(table, &slot);
	if (!slot_id) {
		*reason = ANYLB_DROP_NO_BACKEND;
		return NULL;
	}
	id = *slot_id;
	if (id == ANYLB_INVALID_ID) {
		*reason = ANYLB_DROP_NO_BACKEND;
		return NULL;
	}
	b = backend_get(id);
	if (!b) {
		*reason = ANYLB_DROP_BACKEND_MISSING;
		return NULL;
	}
	*backend_id = id;
	return b;
}

/* ---- Flow table (flow_table.cpp) ---------------------------------------- */

static __always_inline __u32 flow_timeout(__u8 state)
{
	/* One indexed load, not a switch: the state is in range except in a
	 * corrupted entry, which gets the port-less timeout as in the core. */
	__u32 at = state <= ANYLB_FLOW_OTHER ? state : ANYLB_FLOW_OTHER;

	return ((const volatile __u32 *)node_config.timeout_ms)[at];
}

/* A flow's two candidate groups on this CPU (first bucket, second bucket):
 * looked up once per packet, read by the find and, on a miss, the insert. */
struct flow_groups_of {
	struct anylb_flow_group *g[2];
};

/* A found way: its entry and its deadline in the bucket line. */
struct flow_ref {
	struct anylb_flow_entry *entry;
	__u32 *sig;
	__u32 *deadline;
};

/* FlowTable::expired(). */
static __always_inline int flow_expired(__u32 deadline, __u32 now_ms)
{
	return anylb_flow_expired(deadline, now_ms);
}

/* Both groups of `hash` in this CPU's table. A NULL group (the map smaller
 * than the knobs say; not seen, the loader sizes both) reads as empty and
 * takes no insert. */
static __always_inline void flow_groups_for(__u32 hash, struct flow_groups_of *out)
{
	__u32 mask = node_config.flow_bucket_mask;
	__u32 base = bpf_get_smp_processor_id() * (mask + 1);
	__u32 first = base + anylb_flow_first_bucket(hash, mask);
	__u32 second = base + anylb_flow_second_bucket(hash, mask);

	out->g[0] = bpf_map_lookup_elem(&flow_groups, &first);
	out->g[1] = bpf_map_lookup_elem(&flow_groups, &second);
}

static __always_inline int flow_key_equal(const struct anylb_flow_key *a,
					  const struct anylb_flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		(x[4] ^ y[4])) == 0;
}

/* FlowTable::find_in() over the first group, then the second: 1 with *ref
 * set when the key is there (live or not). */
static __always_inline int flow_find(const struct flow_groups_of *groups,
				     const struct anylb_flow_key *key, __u32 hash,
				     struct flow_ref *ref)
{
	__u32 sig = anylb_flow_signature(hash);

#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct anylb_flow_group *g = groups->g[i];

		if (!g)
			return 0;
#pragma unroll
		for (int w = 0; w < ANYLB_FLOW_WAYS; w++) {
			if (g->bucket.sig[w] != sig || !flow_key_equal(&g->entry[w].key, key))
				continue;
			ref->entry = &g->entry[w];
			ref->sig = &g->bucket.sig[w];
			ref->deadline = &g->bucket.deadline[w];
			return 1;
		}
	}
	return 0;
}

/* FlowTable::insert(): a free or expired way of the first group, then of the
 * second; else the entry of both closest to its deadline. Returns 1 when a
 * live entry was pushed out. */
static __always_inline int flow_insert(const struct flow_groups_of *groups,
					const struct anylb_flow_key *key, __u32 hash,
					__u32 now_ms, __u32 backend_id, __u32 vip_id, __u8 state)
{
	struct anylb_flow_group *victim = NULL, *oldest = NULL;
	struct anylb_flow_entry *e;
	__u32 victim_way = 0, oldest_way = 0;
	__s32 oldest_left = 0;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct anylb_flow_group *g = groups->g[i];

		if (victim || !g)
			break;
#pragma unroll
		for (int w = 0; w < ANYLB_FLOW_WAYS; w++) {
			__s32 left = (__s32)(g->bucket.deadline[w] - now_ms);

			if (victim)
				break;
			if (g->bucket.sig[w] == 0 || flow_expired(g->bucket.deadline[w], now_ms)) {
				g->bucket.sig[w] = 0;
				victim = g;
				victim_way = w;
			} else if (!oldest || left < oldest_left) {
				oldest = g;
				oldest_way = w;
				oldest_left = left;
			}
		}
	}
	int evicted = 0;

	if (!victim) {
		victim = oldest;
		victim_way = oldest_way;
		evicted = 1;
	}
	if (!victim)
		return 0;
	victim_way &= ANYLB_FLOW_WAYS - 1;
	e = &victim->entry[victim_way];
	victim->bucket.sig[victim_way] = anylb_flow_signature(hash);
	victim->bucket.deadline[victim_way] = now_ms + flow_timeout(state);
	__builtin_memcpy(&e->key, key, sizeof(e->key));
	e->backend_id = backend_id;
	e->vip_id = vip_id;
	e->state = state;
	return evicted;
}

/* The ms clock of the core's monotonic_ms(): CLOCK_MONOTONIC_COARSE, which
 * moves only on a tick. The tick counter is one inlined load, the clock a
 * helper call; so the clock is read once per tick per CPU and cached. (A read
 * that races the tick can keep the previous tick's value for one tick.) */
static __always_inline __u32 clock_ms(void)
{
	__u32 zero = 0;
	struct anylb_clock *c = bpf_map_lookup_elem(&clock, &zero);
	__u64 j = bpf_jiffies64();

	if (!c)
		return (__u32)(bpf_ktime_get_coarse_ns() / 1000000);
	if (c->jiffies != j) { /* jiffies never read 0: they start at INITIAL_JIFFIES */
		c->ms = (__u32)(bpf_ktime_get_coarse_ns() / 1000000);
		c->jiffies = j;
	}
	return c->ms;
}

static __always_inline __u8 initial_flow_state(__u8 protocol, __u8 flags)
{
	if (protocol == PROTO_UDP)
		return ANYLB_FLOW_UDP;
	if (protocol != PROTO_TCP)
		return ANYLB_FLOW_OTHER;
	if (flags & (TCP_FIN | TCP_RST))
		return ANYLB_FLOW_TCP_CLOSING;
	if (flags & TCP_SYN)
		return ANYLB_FLOW_TCP_SYN;
	return ANYLB_FLOW_TCP_ESTABLISHED;
}

static __always_inline __u8 next_tcp_flow_state(__u8 current, __u8 flags)
{
	if (flags & (TCP_FIN | TCP_RST))
		return ANYLB_FLOW_TCP_CLOSING;
	if (flags & TCP_SYN)
		return current == ANYLB_FLOW_TCP_CLOSING ? ANYLB_FLOW_TCP_SYN : current;
	return current == ANYLB_FLOW_TCP_CLOSING ? current : ANYLB_FLOW_TCP_ESTABLISHED;
}

/* ---- Echo reply (icmp_echo.cpp) ----------------------------------------- */

/* reply_icmp_echo(). A global function. */
__noinline int anylb_echo_reply(struct xdp_md *ctx, const struct view *v)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 ip_header_len, l3, l4, flen, trailing;
	__u16 old_word, new_word, check;
	__u8 tmp[16] __attribute__((aligned(8))); /* stack words must be aligned */
	__u8 *eth, *ip, *icmp;

	if (!v)
		return ANYLB_DROP_ICMP_UNHANDLED;
	ip_header_len = v->family == 4 ? 20 : 40;
	l3 = v->l3_off;
	l4 = v->l4_off;
	if (l4 != l3 + ip_header_len)
		return ANYLB_DROP_ICMP_UNHANDLED;

	/* Trim the Ethernet padding first (the reply is the IP packet's length),
	 * so a failure (never seen: the frame only shrinks, to >= 42 bytes)
	 * leaves the frame as it was. */
	flen = (__u32)((long)data_end - (long)data);
	trailing = flen - (l3 + v->l3_len);
	if (trailing != 0) {
		if (bpf_xdp_adjust_tail(ctx, -(int)trailing))
			return ANYLB_DROP_ICMP_UNHANDLED;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
	}

	eth = pkt(data, data_end, 0, 12);
	if (!eth)
		return ANYLB_DROP_ICMP_UNHANDLED;
	copy6(tmp, eth);
	copy6(eth, eth + 6);
	copy6(eth + 6, tmp);

	icmp = pkt(data, data_end, l4, 4);
	if (!icmp)
		return ANYLB_DROP_ICMP_UNHANDLED;
	if (v->family == 4) {
		ip = pkt(data, data_end, l3, 20);
		if (!ip)
			return ANYLB_DROP_ICMP_UNHANDLED;
		__u32 src = get32(ip + 12);

		put32(ip + 12, get32(ip + 16));
		put32(ip + 16, src);
		ip[8] = 64;
		ip[10] = 0;
		ip[11] = 0;
		store_be16(ip + 10, csum_finish(csum_words(ip, 20)));
		/* Type 8 -> 0, code unchanged; no pseudo-header in ICMPv4. */
		old_word = load_be16(icmp);
		icmp[0] = 0;
	} else {
		ip = pkt(data, data_end, l3, 40);
		if (!ip)
			return ANYLB_DROP_ICMP_UNHANDLED;
		copy16(tmp, ip + 8);
		copy16(ip + 8, ip + 24);
		copy16(ip + 24, tmp);
		ip[7] = 64;
		/* Type 128 -> 129; swapping the addresses leaves the pseudo-header sum. */
		old_word = load_be16(icmp);
		icmp[0] = 129;
	}
	new_word = load_be16(icmp);
	check = load_be16(icmp + 2);
	store_be16(icmp + 2, csum_replace16(check, old_word, new_word));
	return ANYLB_DROP_NONE;
}

/* ---- Encapsulation (encap.cpp) ------------------------------------------ */

/* IpPrefix::at() on an IPv6 address: the index (< 2^32) added to it as a
 * big-endian 128-bit number, carries included (they never leave the host bits
 * of a prefix built with its host bits clear, but the core carries). */
static __always_inline void prefix_add_v6(__u8 *a, __u64 index)
{
	__u64 carry = index;

#pragma unroll
	for (int i = 3; i >= 0; i--) {
		__u64 sum = (__u64)bpf_ntohl(get32(a + 4 * i)) + carry;

		put32(a + 4 * i, bpf_htonl((__u32)sum));
		carry = sum >> 32;
	}
}

/* Copies of node_config's byte arrays, in words. The reads stay volatile:
 * with the volatile cast away, clang folds them to the initializer's zeros.
 * The arrays are 8-aligned in the struct (anylb_maps.h). */
static __always_inline void config_copy6(void *out, const volatile __u8 *in)
{
	__u32 lo = *(const volatile __u32 *)in;
	__u16 hi = *(const volatile __u16 *)(in + 4);

	*(word32 *)out = lo;
	*(word16 *)((__u8 *)out + 4) = hi;
}

static __always_inline void config_copy16(void *out, const volatile __u8 *in)
{
	__u64 lo = *(const volatile __u64 *)in;
	__u64 hi = *(const volatile __u64 *)(in + 8);

	*(word64 *)out = lo;
	*(word64 *)((__u8 *)out + 8) = hi;
}

/* encap_source() for an IPv4 backend: 1 and the address (as it goes on the
 * wire) in *out, or 0 when none is configured. A word, not bytes on the
 * stack: the outer header is written in words. */
static __always_inline int encap_source_v4(__u32 hash, __u32 *out)
{
	__u8 kind = node_config.has_source_v4;
	__u32 base = *(const volatile __u32 *)node_config.source_v4;
	__u64 size;

	if (kind == ANYLB_SOURCE_ADDRESS) {
		*out = base;
		return 1;
	}
	if (kind != ANYLB_SOURCE_PREFIX)
		return 0;
	size = node_config.source_v4_size; /* never 0: the core would divide by it */
	/* IpPrefix::at(): the carry out of the first byte is dropped there too. */
	*out = bpf_htonl(bpf_ntohl(base) + (__u32)(size ? (__u64)hash % size : hash));
	return 1;
}

/* encap_source() for an IPv6 backend: 1 and the address in out. */
static __always_inline int encap_source_v6(__u32 hash, __u8 *out)
{
	__u8 kind = node_config.has_source_v6;
	__u64 size;

	if (kind != ANYLB_SOURCE_PREFIX && kind != ANYLB_SOURCE_ADDRESS)
		return 0;
	config_copy16(out, node_config.source_v6);
	if (kind != ANYLB_SOURCE_PREFIX)
		return 1;
	size = node_config.source_v6_size;
	prefix_add_v6(out, size ? (__u64)hash % size : hash);
	return 1;
}

/* The sum of an address's big-endian 16-bit words. */
static __always_inline __u32 csum_addr16(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 x = bpf_ntohl(w[i]);

		sum += (x >> 16) + (x & 0xffff);
	}
	return sum;
}

/* Adds the n bytes at data + off to a checksum as big-endian words, n < 4096:
 * bpf_csum_diff over 512-byte chunks, then 256 .. 4 bytes, then 1-3 bytes
 * zero-padded like csum_add_bytes(). off must be even. bpf_csum_diff sums
 * little-endian words; byte-swapping a folded sum turns one order into the
 * other (mod 0xffff, which is all a one's-complement sum keeps). Returns -1
 * when the bytes are not in the frame (not seen: the caller trimmed it). */
__noinline int anylb_csum_packet(struct xdp_md *ctx, __u32 off, __u32 n)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 le = 0, be = 0;
	__s64 r;
	__u8 *p;

	for (int i = 0; i < ANYLB_CSUM_CHUNKS; i++) { /* a bounded loop */
		if (n < ANYLB_CSUM_CHUNK)
			break;
		p = pkt(data, data_end, off, ANYLB_CSUM_CHUNK);
		if (!p)
			return -1;
		r = bpf_csum_diff(NULL, 0, (void *)p, ANYLB_CSUM_CHUNK, le);
		if (r < 0)
			return -1;
		le = (__u32)r;
		off += ANYLB_CSUM_CHUNK;
		n -= ANYLB_CSUM_CHUNK;
	}
	if (n >= ANYLB_CSUM_CHUNK)
		return -1;
#define CSUM_STEP(size)                                                                  \
	if (n & (size)) {                                                                \
		p = pkt(data, data_end, off, (size));                                    \
		if (!p)                                                                  \
			return -1;                                                       \
		r = bpf_csum_diff(NULL, 0, (void *)p, (size), le);                       \
		if (r < 0)                                                               \
			return -1;                                                       \
		le = (__u32)r;                                                           \
		off += (size);                                                           \
	}
	CSUM_STEP(256)
	CSUM_STEP(128)
	CSUM_STEP(64)
	CSUM_STEP(32)
	CSUM_STEP(16)
	CSUM_STEP(8)
	CSUM_STEP(4)
#undef CSUM_STEP
	if (n & 2) {
		p = pkt(data, data_end, off, 2);
		if (!p)
			return -1;
		be += ((__u32)p[0] << 8) | p[1];
		off += 2;
	}
	if (n & 1) {
		p = pkt(data, data_end, off, 1);
		if (!p)
			return -1;
		be += (__u32)p[0] << 8;
	}
	le = csum_fold(le);
	return (int)(be + (((le & 0xff) << 8) | (le >> 8)));
}

/* encap_ipip() / encap_gue(): same checks in the same order (source, MTU,
 * headroom), the same outer bytes, the frame trimmed to l2 + outer + inner.
 * Inlined, like parse_frame(). */
static __always_inline int encap(struct xdp_md *ctx, const struct view *v,
				 const struct anylb_backend *b, __u32 hash, __u32 kind)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 src[16] __attribute__((aligned(8))); /* IPv6 */
	__u32 src4 = 0;
	__u8 arrived_on[6] __attribute__((aligned(4)));
	__u32 ip_len, outer_len, l2_len, inner_len, flen, trailing;
	__u16 outer_ethertype, udp_len, sport, outer_id = 0;
	__u8 proto;
	int is_v4, gue, outer_df;
	__u8 *e, *h, *udp;

	if (!v || !b)
		return ANYLB_DROP_NO_HEADROOM;
	is_v4 = b->family == 4;
	gue = kind == ANYLB_ENCAP_GUE;
	ip_len = is_v4 ? 20 : 40;
	outer_len = ip_len + (gue ? 8 : 0);
	l2_len = v->has_vlan ? 18 : 14;
	inner_len = v->l3_len;
	outer_ethertype = is_v4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
	udp_len = (__u16)(8 + inner_len);
	sport = (__u16)(GUE_SPORT_BASE + (hash & 0x3fff));
	proto = gue ? PROTO_UDP : v->family == 4 ? PROTO_IPIP : PROTO_IPV6;

	if (is_v4 ? !encap_source_v4(hash, &src4) : !encap_source_v6(hash, src))
		return ANYLB_DROP_NO_TUNNEL_SOURCE;
	if (outer_len + inner_len > node_config.mtu)
		return ANYLB_DROP_TOO_BIG;

	e = pkt(data, data_end, 0, 6);
	if (!e)
		return ANYLB_DROP_NO_HEADROOM;
	copy6(arrived_on, e); /* the old destination MAC: ours */
	/* outer_id(): the inner IPv4 header's ID, as it lies in memory, when the
	 * outer header may be fragmented (no DF); read before the head moves. */
	outer_df = v->family == 6 || v->df;
	if (is_v4 && !outer_df) {
		h = pkt(data, data_end, v->l3_off, 20);
		if (!h)
			return ANYLB_DROP_NO_HEADROOM; /* not seen: parse checked the length */
		outer_id = *(const word16 *)(h + 4);
	}
	flen = (__u32)((long)data_end - (long)data);
	trailing = flen - ((__u32)v->l3_off + inner_len); /* Ethernet padding */
	if (trailing > flen)
		return ANYLB_DROP_NO_HEADROOM; /* not seen: parse checked the length */

	if (bpf_xdp_adjust_head(ctx, -(int)outer_len))
		return ANYLB_DROP_NO_HEADROOM;
	/* Shrinking never fails on a frame this long (>= 54 bytes). */
	if (trailing != 0 && bpf_xdp_adjust_tail(ctx, -(int)trailing))
		return ANYLB_DROP_NO_HEADROOM;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;

	e = pkt(data, data_end, 0, ETH_LEN);
	if (!e)
		return ANYLB_DROP_NO_HEADROOM;
	config_copy6(e, node_config.gateway_mac);
	copy6(e + 6, arrived_on);
	if (v->has_vlan) {
		e = pkt(data, data_end, 0, 18);
		if (!e)
			return ANYLB_DROP_NO_HEADROOM;
		store_be16(e + 12, ETHERTYPE_VLAN);
		store_be16(e + 14, v->vlan_tci);
		store_be16(e + 16, outer_ethertype);
	} else {
		store_be16(e + 12, outer_ethertype);
	}

	if (is_v4) {
		/* write_ipv4(), as five words in memory order. The checksum is
		 * summed over the words as they lie in memory: a one's-complement
		 * sum comes out byte-swapped exactly when its input was, so it is
		 * stored as it comes out (RFC 1071, section 2(B)). */
		__u16 total_len = (__u16)(outer_len + inner_len);
		__u16 flags = outer_df ? 0x4000 : 0;
		__u32 w0 = 0x45u | ((__u32)v->tos << 8) | ((__u32)bpf_htons(total_len) << 16);
		__u32 w1 = ((__u32)bpf_htons(flags) << 16) | outer_id;
		__u32 w2 = OUTER_TTL | ((__u32)proto << 8); /* checksum 0 */
		__u32 w3 = src4, w4 = get32(b->addr);

		h = pkt(data, data_end, l2_len, 20);
		if (!h)
			return ANYLB_DROP_NO_HEADROOM;
		w2 |= (__u32)(__u16)~csum_fold64((__u64)w0 + w1 + w2 + w3 + w4) << 16;
		put32(h, w0);
		put32(h + 4, w1);
		put32(h + 8, w2);
		put32(h + 12, w3);
		put32(h + 16, w4);
	} else {
		/* write_ipv6() */
		__u32 first = (6u << 28) | ((__u32)v->tos << 20) | (hash & 0xfffff);
		__u16 payload_len = gue ? udp_len : (__u16)inner_len;

		h = pkt(data, data_end, l2_len, 40);
		if (!h)
			return ANYLB_DROP_NO_HEADROOM;
		put32(h, bpf_htonl(first));
		put32(h + 4, bpf_htons(payload_len) | ((__u32)proto << 16) |
				     ((__u32)OUTER_TTL << 24));
		copy16(h + 8, src);
		copy16(h + 24, b->addr);
	}
	if (!gue)
		return ANYLB_DROP_NONE;

	udp = pkt(data, data_end, l2_len + ip_len, 8);
	if (!udp)
		return ANYLB_DROP_NO_HEADROOM;
	put32(udp, bpf_htons(sport) | ((__u32)bpf_htons(node_config.gue_port) << 16));
	put32(udp + 4, bpf_htons(udp_len)); /* checksum 0 */
	if (!is_v4) {
		/* csum_pseudo_v6() + the UDP header + the whole inner packet. */
		__u32 sum = csum_addr16(src) + csum_addr16(b->addr);
		__u16 check;
		int body;

		sum += udp_len + PROTO_UDP;
		sum += (__u32)sport + node_config.gue_port + udp_len;
		body = anylb_csum_packet(ctx, l2_len + outer_len, inner_len);
		if (body < 0)
			return ANYLB_DROP_TOO_BIG; /* not seen: see anylb_csum_packet() */
		sum = csum_fold(sum) + (__u32)body;
		check = csum_finish(sum);
		/* Reload: the verifier forgets packet bounds across the call. */
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		udp = pkt(data, data_end, l2_len + ip_len, 8);
		if (!udp)
			return ANYLB_DROP_NO_HEADROOM;
		store_be16(udp + 6, check == 0 ? 0xffff : check);
	}
	return ANYLB_DROP_NONE;
}

/* decide.cpp forward(): encapsulate, then count. */
static __always_inline int forward(struct xdp_md *ctx, const struct view *v,
				   const struct anylb_vip *vip, __u32 vip_id,
				   const struct anylb_backend *b, __u32 backend_id, __u32 hash,
				   struct anylb_path_stats *ps)
{
	struct anylb_vip_stats *vs;
	struct anylb_backend_stats *bs;
	__u32 reason;

	reason = encap(ctx, v, b, hash, vip->encap);
	if (reason != ANYLB_DROP_NONE)
		return do_drop(reason, vip_id);
	if (ps)
		ps->transmitted++;
	vs = bpf_map_lookup_elem(&vip_stats, &vip_id);
	if (vs) {
		vs->packets++;
		vs->bytes += v->l3_len;
	}
	bs = bpf_map_lookup_elem(&backend_stats, &backend_id);
	if (bs) {
		bs->packets++;
		bs->bytes += v->l3_len;
	}
	return XDP_TX;
}

/* ---- The decision (decide.cpp) ------------------------------------------ */

/* Where a packet goes once its backend is chosen: the route_* functions fill
 * it and return ROUTED, or return the verdict of a drop. */
#define ROUTED (-1)

struct route {
	struct anylb_vip *vip;
	struct anylb_backend *b;
	__u32 vip_id;
	__u32 backend_id;
	__u32 hash;
};

/* Every routing path ends the same way: the chosen VIP and backend. */
static __always_inline int routed(struct route *rt, struct anylb_vip *vip, struct anylb_backend *b,
				  __u32 vip_id, __u32 backend_id, __u32 hash)
{
	rt->vip = vip;
	rt->b = b;
	rt->vip_id = vip_id;
	rt->backend_id = backend_id;
	rt->hash = hash;
	return ROUTED;
}

/* route_icmp_error(): to the backend of the flow the error quotes. No flow
 * entry is made or refreshed. */
static __always_inline int route_icmp_error(struct view *v, __u32 now_ms,
					    struct anylb_path_stats *ps, struct route *rt)
{
	struct anylb_flow_key *flow = &v->key;
	struct anylb_addr_info *addr;
	struct flow_groups_of groups = {};
	struct flow_ref ref = {};
	struct anylb_backend *b = NULL;
	struct anylb_vip *vip = NULL;
	__u32 vip_id = ANYLB_INVALID_ID;
	__u32 backend_id = ANYLB_INVALID_ID;
	__u32 hash, reason = ANYLB_DROP_NONE;

	/* reverse_flow_key(), into v->key: the outer packet's own flow is not
	 * needed any more (encap() reads only the view's IP fields). */
	copy16(flow->src, v->inner.dst);
	copy16(flow->dst, v->inner.src);
	flow->sport = v->inner.dport;
	flow->dport = v->inner.sport;
	flow->proto = v->inner.proto;
	flow->family = v->inner.family;
	flow->pad[0] = flow->pad[1] = 0;

	/* ForwardingState::find_vip(dst, family, port, proto): the index holds
	 * every VIP; here the address's inline VIPs, or the index beyond them. */
	addr = find_address(flow->dst, flow->family);
	if (addr)
		vip = find_vip(addr, flow->dst, flow->family, bpf_ntohs(flow->dport), flow->proto,
			       &vip_id);
	if (!vip)
		return do_drop(ANYLB_DROP_ICMP_UNHANDLED, ANYLB_INVALID_ID);
	hash = flow_hash(flow, node_config.hash_seed);
	/* FlowTable::peek(): no refresh, not counted. */
	flow_groups_for(hash, &groups);
	if (flow_find(&groups, flow, hash, &ref) && !flow_expired(*ref.deadline, now_ms)) {
		backend_id = ref.entry->backend_id;
		b = backend_get(backend_id);
	}
	if (!usable_for(b, vip_id)) {
		b = maglev_pick(vip, vip_id, hash, &backend_id, &reason);
		if (!b)
			return do_drop(reason, vip_id);
	}
	if (ps)
		ps->icmp_errors_routed++;
	return routed(rt, vip, b, vip_id, backend_id, hash);
}

/* route_fragment(): Maglev on addresses and protocol, no flow entry. */
static __always_inline int route_fragment(struct view *v, const struct anylb_addr_info *addr,
					  struct anylb_path_stats *ps, struct route *rt)
{
	struct anylb_backend *b;
	struct anylb_vip *vip;
	__u32 vip_id, backend_id = ANYLB_INVALID_ID;
	__u32 hash, reason = ANYLB_DROP_NONE;

	if (v->l4_proto == PROTO_TCP)
		vip_id = addr->fragment_vip[0];
	else if (v->l4_proto == PROTO_UDP)
		vip_id = addr->fragment_vip[1];
	else
		return do_drop(ANYLB_DROP_FRAGMENT_UNROUTABLE, ANYLB_INVALID_ID);
	vip = vip_get(vip_id); /* ANYLB_FRAGMENT_AMBIGUOUS and INVALID_ID miss */
	if (!vip)
		return do_drop(ANYLB_DROP_FRAGMENT_UNROUTABLE, ANYLB_INVALID_ID);
	v->key.sport = 0;
	v->key.dport = 0;
	hash = flow_hash(&v->key, node_config.hash_seed);
	b = maglev_pick(vip, vip_id, hash, &backend_id, &reason);
	if (!b)
		return do_drop(reason, vip_id);
	if (ps)
		ps->fragments_routed++;
	return routed(rt, vip, b, vip_id, backend_id, hash);
}

/* A flow's hash and its two candidate groups in this CPU's table, taken
 * before the VIP lookup: the hash and the group addresses hang on the flow
 * key, the VIP on the destination, and on an established packet these two
 * chains of dependent work are the critical path. In sequence they took
 * about 4 ns more in the hot loop. (Finding the way here as well would
 * overlap more, but the verifier then carries every way found through the
 * VIP lookup's branches and gives up.) */
struct flow_probe {
	struct flow_groups_of groups;
	__u32 hash;
};

static __always_inline void probe_flow(const struct view *v, struct flow_probe *p)
{
	p->hash = flow_hash(&v->key, node_config.hash_seed);
	flow_groups_for(p->hash, &p->groups);
}

/* The flow-table path: VIP by port, flow table, Maglev on a miss. */
static __always_inline int route_flow(struct view *v, const struct anylb_addr_info *addr,
				      __u32 now_ms, struct anylb_path_stats *ps,
				      const struct flow_probe *p, struct route *rt)
{
	const struct flow_groups_of *groups = &p->groups;
	struct anylb_flow_entry *e = NULL;
	struct flow_ref ref = {};
	struct anylb_backend *b = NULL;
	struct anylb_vip *vip;
	__u32 vip_id = ANYLB_INVALID_ID, backend_id = ANYLB_INVALID_ID;
	__u32 hash = p->hash, reason = ANYLB_DROP_NONE;

	vip = find_vip(addr, v->key.dst, v->family, bpf_ntohs(v->key.dport), v->l4_proto,
		       &vip_id);
	if (!vip)
		return do_drop(ANYLB_DROP_VIP_PORT_UNKNOWN, ANYLB_INVALID_ID);

	/* FlowTable::lookup(): an expired entry is freed and reads as a miss. */
	if (flow_find(groups, &v->key, hash, &ref)) {
		if (flow_expired(*ref.deadline, now_ms))
			*ref.sig = 0;
		else
			e = ref.entry;
	}
	if (e) {
		__u8 state = e->state;

		/* lookup() renews the deadline before the backend is looked at: a
		 * flow that finds no backend left keeps its entry while it sends. */
		*ref.deadline = now_ms + flow_timeout(state);
		if (ps)
			ps->flow_hits++;
		backend_id = e->backend_id;
		b = backend_get(backend_id);
		if (!usable_for(b, vip_id)) {
			b = maglev_pick(vip, vip_id, hash, &backend_id, &reason);
			if (!b)
				return do_drop(reason, vip_id);
			e->backend_id = backend_id;
			e->vip_id = vip_id;
			if (ps)
				ps->rescheduled++;
		}
		/* set_state() moves the deadline with the state. */
		if (v->l4_proto == PROTO_TCP) {
			__u8 next = next_tcp_flow_state(state, v->tcp_flags);

			e->state = next;
			if (next != state)
				*ref.deadline = now_ms + flow_timeout(next);
		}
	} else {
		struct anylb_vip_stats *vs;

		if (ps)
			ps->flow_misses++;
		b = maglev_pick(vip, vip_id, hash, &backend_id, &reason);
		if (!b)
			return do_drop(reason, vip_id);
		if (flow_insert(groups, &v->key, hash, now_ms, backend_id, vip_id,
				initial_flow_state(v->l4_proto, v->tcp_flags)) && ps)
			ps->flow_evictions++;
		vs = bpf_map_lookup_elem(&vip_stats, &vip_id);
		if (vs)
			vs->new_flows++;
	}
	return routed(rt, vip, b, vip_id, backend_id, hash);
}

/* prepare_packet() + finish_packet(). */
SEC("xdp")
int anylb_xdp(struct xdp_md *ctx)
{
	struct anylb_addr_info *addr = NULL;
	struct anylb_path_stats *ps;
	struct flow_probe probe = {};
	struct route rt = {};
	struct view v;
	int flow_path, r;
	__u32 now_ms;

	if (parse_plain_ipv4(ctx, &v)) {
		/* The address's last three words are zero: the probe folds them. */
		addr = find_address_words(get32(v.key.dst), 0, 0, 0, 4);
		if (!addr)
			return do_pass();
		flow_path = 1; /* TCP or UDP, not a fragment */
	} else {
		__builtin_memset(&v, 0, sizeof(v));
		r = parse_frame(ctx, &v);
		if (v.l3_ok)
			addr = find_address(v.key.dst, v.family);
		if (r != ANYLB_DROP_NONE) {
			/* Malformed traffic for the node itself is the kernel's business. */
			if (v.l3_ok && !addr)
				return do_pass();
			return do_drop(r, ANYLB_INVALID_ID);
		}
		if (!addr)
			return do_pass(); /* not IP, or not to a VIP address */
		flow_path = v.icmp == ICMPK_NONE && v.frag == FRAG_NONE;
	}
	if (flow_path)
		probe_flow(&v, &probe);

	/* The coarse clock (CLOCK_MONOTONIC_COARSE, tick resolution) is plenty
	 * for idle timeouts in seconds, and reading the precise one was 13% of
	 * the program's time on a KVM guest. monotonic_ms() reads the same. */
	now_ms = clock_ms();
	ps = path(); /* once per packet: the route_* functions and forward() share it */
	if (flow_path) {
		r = route_flow(&v, addr, now_ms, ps, &probe, &rt);
	} else {
		switch (v.icmp) {
		case ICMPK_ECHO:
			if (v.frag != FRAG_NONE)
				return do_drop(ANYLB_DROP_FRAGMENT_UNROUTABLE, ANYLB_INVALID_ID);
			r = anylb_echo_reply(ctx, &v);
			if (r != ANYLB_DROP_NONE)
				return do_drop(r, ANYLB_INVALID_ID);
			if (ps)
				ps->replied++;
			return XDP_TX;
		case ICMPK_ERROR:
			r = route_icmp_error(&v, now_ms, ps, &rt);
			break;
		case ICMPK_OTHER:
			return do_drop(ANYLB_DROP_ICMP_UNHANDLED, ANYLB_INVALID_ID);
		default: /* a fragment */
			r = route_fragment(&v, addr, ps, &rt);
			break;
		}
	}
	if (r != ROUTED)
		return r;
	if (!rt.vip || !rt.b)
		return do_drop(ANYLB_DROP_BACKEND_MISSING, rt.vip_id); /* not reached */
	return forward(ctx, &v, rt.vip, rt.vip_id, rt.b, rt.backend_id, rt.hash, ps);
}
