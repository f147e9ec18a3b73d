// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The live run of anylb-bench-xdp (veth pair, program under test native on
 * one end):
 *   bench_inject  run by BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on
 *                 the other end; gives each frame a fresh Ethernet header (the
 *                 program under test encapsulates in place, and the page comes
 *                 back to the test run's pool with its first bytes overwritten)
 *                 and a client address from a rolling set of `flows`, XDP_TX.
 *   bench_count   attached to that other end: counts what comes back, drops it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 flows = 65536;
const volatile __u8 eth_header[14] = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps"); /* [0] injected, [1] received */

SEC("xdp")
int bench_inject(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *e = data;
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&counters, &zero);
	__u32 client;

	if (!n || (void *)(e + 34) > data_end)
		return XDP_DROP;
	for (int i = 0; i < 14; i++)
		e[i] = eth_header[i];
	client = (__u32)(*n % flows);
	(*n)++;
	/* 198.18.0.0/15 plus the flow number: the client address. */
	e[26] = 198;
	e[27] = (__u8)(18 + ((client >> 16) & 1));
	e[28] = (__u8)(client >> 8);
	e[29] = (__u8)client;
	return XDP_TX;
}

SEC("xdp")
int bench_count(struct xdp_md *ctx)
{
	__u32 one = 1;
	__u64 *n = bpf_map_lookup_elem(&counters, &one);

	if (n)
		(*n)++;
	return XDP_DROP;
}
