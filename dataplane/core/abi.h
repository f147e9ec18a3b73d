/* The one definition of everything both fast paths agree on: flow key layout,
 * verdicts, drop reasons and encapsulation kinds. It is C so that the BPF
 * program (xdp/) can include it unchanged; nothing here may depend on C++.
 * Changing a value here changes the wire/map ABI: bump ANYLB_ABI_VERSION. */
#ifndef ANYLB_ABI_H
#define ANYLB_ABI_H

#include <linux/types.h>

#define ANYLB_ABI_VERSION 3

/* A flow as the balancer sees it: client -> VIP. Addresses are stored as the
 * raw network-order bytes of the packet; an IPv4 address takes the first four
 * bytes and the other twelve are zero. Ports are network order as on the wire.
 * 40 bytes, no implicit padding: the flow hash reads it as ten 32-bit words. */
struct anylb_flow_key {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport; /* network byte order */
	__u16 dport; /* network byte order */
	__u8 proto;  /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u8 family; /* 4 or 6 */
	__u8 pad[2]; /* always zero */
};

enum anylb_verdict {
	ANYLB_VERDICT_PASS = 0,  /* not ours: hand to the kernel */
	ANYLB_VERDICT_DROP = 1,  /* counted under a drop reason */
	ANYLB_VERDICT_TX = 2,    /* encapsulated towards a backend */
	ANYLB_VERDICT_REPLY = 3, /* answered by the balancer (ICMP echo) */
};

/* Why a packet was dropped. Every drop in either fast path is counted under
 * exactly one of these; keep anylb_drop_reason_name() (C++) in step. */
enum anylb_drop_reason {
	ANYLB_DROP_NONE = 0,
	ANYLB_DROP_ETH_TRUNCATED,        /* shorter than an Ethernet header */
	ANYLB_DROP_VLAN_TRUNCATED,       /* 802.1Q tag cut short */
	ANYLB_DROP_IPV4_TRUNCATED,       /* less than 20 bytes, or less than IHL*4 */
	ANYLB_DROP_IPV4_BAD_VERSION,     /* ethertype IPv4, version nibble not 4 */
	ANYLB_DROP_IPV4_BAD_IHL,         /* IHL < 5 */
	ANYLB_DROP_IPV4_BAD_LENGTH,      /* total length < IHL*4 or beyond the frame */
	ANYLB_DROP_IPV6_TRUNCATED,       /* less than 40 bytes */
	ANYLB_DROP_IPV6_BAD_VERSION,     /* ethertype IPv6, version nibble not 6 */
	ANYLB_DROP_IPV6_BAD_LENGTH,      /* payload length beyond the frame */
	ANYLB_DROP_IPV6_EXT_TRUNCATED,   /* extension header cut short */
	ANYLB_DROP_IPV6_EXT_LIMIT,       /* more extension headers than we walk */
	ANYLB_DROP_L4_TRUNCATED,         /* TCP/UDP header cut short */
	ANYLB_DROP_TCP_BAD_OFFSET,       /* TCP data offset < 5 or beyond the packet */
	ANYLB_DROP_ICMP_TRUNCATED,       /* ICMP/ICMPv6 header cut short */
	ANYLB_DROP_ICMP_INNER_MALFORMED, /* ICMP error whose quoted packet is unusable */
	ANYLB_DROP_ICMP_UNHANDLED,       /* ICMP to a VIP we neither answer nor route */
	ANYLB_DROP_VIP_PORT_UNKNOWN,     /* VIP address, but no VIP on that port/protocol */
	ANYLB_DROP_FRAGMENT_UNROUTABLE,  /* fragment whose VIP is ambiguous without ports */
	ANYLB_DROP_NO_BACKEND,           /* VIP has no backend able to take new flows */
	ANYLB_DROP_BACKEND_MISSING,      /* table names a backend id not in the state */
	ANYLB_DROP_NO_HEADROOM,          /* buffer cannot take the encapsulation */
	ANYLB_DROP_TOO_BIG,              /* encapsulated packet would exceed the MTU */
	ANYLB_DROP_NO_TUNNEL_SOURCE,     /* no outer source address for the backend's family */
	ANYLB_DROP_REASON_COUNT
};

enum anylb_encap {
	ANYLB_ENCAP_IPIP = 0, /* IP-in-IP: outer header of the backend's family (4in4, 4in6, 6in6) */
	ANYLB_ENCAP_GUE = 1,  /* outer IP + UDP to the GUE port, GUE variant 1 (inner IP directly) */
};

enum anylb_backend_state {
	ANYLB_BACKEND_ACTIVE = 0,   /* in the Maglev table, takes new flows */
	ANYLB_BACKEND_DRAINING = 1, /* out of the table, keeps its existing flows */
	ANYLB_BACKEND_DOWN = 2,     /* gone: its flows are rescheduled */
};

/* Tracked per flow-table entry; selects the idle timeout. */
enum anylb_flow_state {
	ANYLB_FLOW_UDP = 0,
	ANYLB_FLOW_TCP_SYN = 1,         /* only SYNs seen so far */
	ANYLB_FLOW_TCP_ESTABLISHED = 2, /* a segment without SYN/FIN/RST seen */
	ANYLB_FLOW_TCP_CLOSING = 3,     /* FIN or RST seen */
	ANYLB_FLOW_OTHER = 4,           /* port-less protocols */
};

#define ANYLB_INVALID_ID 0xffffffffu

/* The per-core flow table (flow_table.h), laid out once for both fast paths:
 * the BPF program keeps one table per CPU in an ARRAY map of groups, the core
 * one per worker in plain memory, and both walk it the same way. A flow lives
 * in one of two buckets of ANYLB_FLOW_WAYS ways:
 *   first  = hash & mask
 *   second = (rotl(hash, 16) * 0x9e3779b1) & mask
 * A way is empty when its signature (the flow hash, 0 read as 1) is 0, and
 * expired when the ms clock has passed its deadline (anylb_flow_expired()). */
#define ANYLB_FLOW_WAYS 8

struct anylb_flow_bucket {
	__u32 sig[ANYLB_FLOW_WAYS];      /* 0 = empty */
	__u32 deadline[ANYLB_FLOW_WAYS]; /* ms clock at which the entry expires */
};

struct anylb_flow_entry {
	struct anylb_flow_key key;
	__u32 backend_id;
	__u32 vip_id;
	__u8 state; /* enum anylb_flow_state */
	__u8 pad[15];
};

/* A bucket line and its ways' entries side by side: a hit reads two lines
 * 64..576 bytes apart, mostly in one 4 KiB page (the XDP path's map memory is
 * in 4 KiB pages, and a TLB miss costs as much as a cache miss in a VM). */
struct anylb_flow_group {
	struct anylb_flow_bucket bucket;
	struct anylb_flow_entry entry[ANYLB_FLOW_WAYS];
};

/* Capacities both fast paths size their tables for (ids are indexes). */
#define ANYLB_MAX_VIPS 4096
#define ANYLB_MAX_BACKENDS 65536

/* Counters, per core (per CPU in BPF), summed by whoever reads them. */
struct anylb_vip_stats {
	__u64 packets;   /* forwarded to a backend */
	__u64 bytes;     /* inner IP bytes forwarded */
	__u64 new_flows;
	__u64 drops;     /* dropped after the VIP was found */
};

struct anylb_backend_stats {
	__u64 packets;
	__u64 bytes;
};

struct anylb_path_stats {
	__u64 passed;
	__u64 transmitted;
	__u64 replied;
	__u64 rescheduled;        /* flow-table hit whose backend had gone: picked again */
	__u64 icmp_errors_routed;
	__u64 fragments_routed;
	__u64 flow_hits;
	__u64 flow_misses;
	__u64 flow_evictions;     /* a new flow pushed out a live one (table full there) */
};

#endif /* ANYLB_ABI_H */
