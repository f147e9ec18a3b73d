// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Control of anylb-bench-xdp: the least an XDP_TX program does, swapping the
 * Ethernet addresses. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_macswap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *e = data;
	__u8 tmp[6];

	if ((void *)(e + 14) > data_end)
		return XDP_DROP;
	__builtin_memcpy(tmp, e, 6);
	__builtin_memcpy(e, e + 6, 6);
	__builtin_memcpy(e + 6, tmp, 6);
	return XDP_TX;
}
