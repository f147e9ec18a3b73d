/* The XDP fast path's maps and knobs: one definition, included by
 * anylb.bpf.c and by the C++ loader, so no struct crosses the boundary by
 * hand. Flow keys, verdicts, drop reasons and counters come from the core's
 * abi.h; this file adds what only the BPF program stores.
 *
 * The maps mirror dataplane/core/forwarding_state.h:
 *   addresses   HASH   anylb_addr_key -> anylb_addr_info   (VipAddressInfo)
 *   vip_index   HASH   anylb_vip_key  -> __u32 vip id      (for addresses with > 6 VIPs)
 *   vips        ARRAY  vip id         -> anylb_vip
 *   maglev      ARRAY_OF_MAPS  vip id * 2 + half -> ARRAY of __u32 backend ids
 *   backends    ARRAY  backend id     -> anylb_backend
 *   flow_buckets ARRAY  cpu * buckets + bucket -> anylb_flow_bucket  (FlowTable, one per CPU)
 *   flow_entries ARRAY  (cpu * buckets + bucket) * 8 + way -> anylb_flow_entry
 *   clock       PERCPU_ARRAY the ms clock, cached per tick
 *   vip_stats, backend_stats, drop_stats, path_stats: PERCPU_ARRAY counters
 */
#ifndef ANYLB_XDP_MAPS_H
#define ANYLB_XDP_MAPS_H

#include "dataplane/core/abi.h"

#define ANYLB_INLINE_VIPS 6       /* VipAddressInfo::kInlineVips */
#define ANYLB_FRAGMENT_AMBIGUOUS 0xfffffffeu

struct anylb_addr_key {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
};

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

#define ANYLB_SOURCE_NONE 0
#define ANYLB_SOURCE_ADDRESS 1
#define ANYLB_SOURCE_PREFIX 2

#endif /* ANYLB_XDP_MAPS_H */
