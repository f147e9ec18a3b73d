/* The XDP fast path's maps and knobs: one definition, included by
 * anylb.bpf.c and by the C++ loader, so no struct crosses the boundary by
 * hand. Flow keys, verdicts, drop reasons and counters come from the core's
 * abi.h; this file adds what only the BPF program stores.
 *
 * The maps mirror dataplane/core/forwarding_state.h:
 *   addr_slots  ARRAY  half * ANYLB_ADDR_SLOTS + slot -> anylb_addr_slot (VipAddressInfo by address)
 *   addr_half   ARRAY  0 -> the half of addr_slots packets read
 *   vip_index   HASH   anylb_vip_key  -> __u32 vip id      (for addresses with > 6 VIPs)
 *   vips        ARRAY  vip id         -> anylb_vip
 *   maglev      ARRAY_OF_MAPS  vip id * 2 + half -> ARRAY of __u32 backend ids
 *   backends    ARRAY  backend id     -> anylb_backend
 *   flow_groups ARRAY  cpu * buckets + bucket -> anylb_flow_group  (FlowTable, one per CPU)
 *   clock       PERCPU_ARRAY the ms clock, cached per tick
 *   vip_stats, backend_stats, drop_stats, path_stats: PERCPU_ARRAY counters
 */
#ifndef ANYLB_XDP_MAPS_H
#define ANYLB_XDP_MAPS_H

#include "dataplane/core/abi.h"

#define ANYLB_INLINE_VIPS 6       /* VipAddressInfo::kInlineVips */
#define ANYLB_FRAGMENT_AMBIGUOUS 0xfffffffeu

struct anylb_port_vip {
	__u16 port; /* host order; 0 = port-less */
	__u8 protocol;
	__u8 pad;
	__u32 vip_id;
};

struct anylb_addr_info {
	__u32 fragment_vip[2]; /* [0] TCP, [1] UDP: vip id, ANYLB_FRAGMENT_AMBIGUOUS or ANYLB_INVALID_ID */
	__u8 inline_count;
	__u8 overflow;         /* more VIPs than fit inline: look in vip_index */
	__u8 pad[2];
	struct anylb_port_vip vips[ANYLB_INLINE_VIPS];
};

/* The VIP addresses, as an open-addressed table the program probes inline
 * (no helper call, no lock): the slot of an address is
 * anylb_addr_slot_of(), then the next ones, at most ANYLB_ADDR_PROBES, up to
 * an empty slot (family 0). Two halves: the loader writes the whole inactive
 * half, then flips addr_half, so a packet never sees an address move. At most
 * ANYLB_MAX_VIPS addresses in ANYLB_ADDR_SLOTS slots: a quarter full. */
#define ANYLB_ADDR_SLOTS 16384 /* per half, a power of two */
#define ANYLB_ADDR_PROBES 16

struct anylb_addr_slot {
	__u8 addr[16];
	__u8 family; /* 4 or 6; 0 = empty */
	__u8 pad[3];
	struct anylb_addr_info info;
};

/* The address's home slot, from its four 32-bit words as they lie in memory
 * (one byte order on both sides: BPF runs on the host's). */
static inline __u32 anylb_addr_slot_of(__u32 w0, __u32 w1, __u32 w2, __u32 w3, __u8 family)
{
	__u32 h = (w0 * 0x9e3779b1u) ^ (w1 * 0x85ebca6bu) ^ (w2 * 0xc2b2ae35u) ^
		  (w3 * 0x27d4eb2fu) ^ family;

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return h & (ANYLB_ADDR_SLOTS - 1);
}

struct anylb_vip_key {
	__u8 addr[16];
	__u16 port; /* host order; 0 = port-less */
	__u8 protocol;
	__u8 family;
};

/* Per VIP. `active` names the half of the double-buffered Maglev table that
 * packets read (maglev[id * 2 + active]); the loader fills the other half
 * and then flips this one word. */
struct anylb_vip {
	__u32 present;
	__u32 table_size; /* M; 0 = no table (no backend takes new flows) */
	__u32 active;     /* 0 or 1 */
	__u8 encap;       /* enum anylb_encap */
	__u8 pad[3];
};

struct anylb_backend {
	__u8 addr[16];
	__u8 family;
	__u8 state;   /* enum anylb_backend_state */
	__u8 present;
	__u8 pad;
	__u32 vip_id;
};

/* The ms clock, per CPU: CLOCK_MONOTONIC_COARSE in ms as of the tick counter
 * `jiffies`; read again only when a tick has passed. */
struct anylb_clock {
	__u64 jiffies;
	__u32 ms;
	__u32 pad;
};

/* Set through the skeleton's rodata before load (const volatile in BPF). */
struct anylb_node_config {
	__u32 hash_seed;
	__u16 gue_port;
	__u16 mtu;
	__u8 gateway_mac[6];
	__u8 has_source_v4;  /* 1: single address, 2: prefix, 0: none */
	__u8 has_source_v6;
	__u8 source_v4[16];  /* the address, or the prefix base */
	__u8 source_v6[16];
	__u64 source_v4_size; /* prefix: number of addresses (<= 2^32) */
	__u64 source_v6_size;
	__u32 timeout_ms[5]; /* indexed by enum anylb_flow_state */
	__u32 flow_bucket_mask; /* flow-table buckets per CPU - 1 (a power of two - 1) */
};

/* The program reads these arrays in aligned words (config_copy6/16). */
#ifdef __cplusplus
#define ANYLB_STATIC_ASSERT static_assert
#else
#define ANYLB_STATIC_ASSERT _Static_assert
#endif
ANYLB_STATIC_ASSERT(__builtin_offsetof(struct anylb_node_config, gateway_mac) % 4 == 0,
		    "gateway_mac is read as a 32-bit and a 16-bit word");
ANYLB_STATIC_ASSERT(__builtin_offsetof(struct anylb_node_config, source_v4) % 8 == 0,
		    "source_v4 is read as two 64-bit words");
ANYLB_STATIC_ASSERT(__builtin_offsetof(struct anylb_node_config, source_v6) % 8 == 0,
		    "source_v6 is read as two 64-bit words");

#define ANYLB_SOURCE_NONE 0
#define ANYLB_SOURCE_ADDRESS 1
#define ANYLB_SOURCE_PREFIX 2

#endif /* ANYLB_XDP_MAPS_H */
