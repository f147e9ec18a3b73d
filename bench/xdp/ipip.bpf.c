// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Control of anylb-bench-xdp: the floor of an encapsulating balancer. IPIP
 * to one fixed backend, no parsing beyond what the outer header needs and no
 * map lookup: bpf_xdp_adjust_head, a new Ethernet header (gateway MAC, the
 * old destination MAC as source), an outer IPv4 header with its checksum
 * summed from registers, XDP_TX. Non-IPv4 frames get the same treatment with
 * the inner length taken from the frame; nothing is dropped but runts. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SRC_ADDR 0x0a640001u /* 10.100.0.1 */
#define DST_ADDR 0x0a010001u /* 10.1.0.1 */

SEC("xdp")
int bench_ipip(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *e = data, *h;
	__u8 mac[6];
	__u32 inner_len, total, sum;
	__u8 tos;

	if ((void *)(e + 14 + 20) > data_end)
		return XDP_DROP;
	__builtin_memcpy(mac, e, 6);
	inner_len = ((__u32)e[16] << 8) | e[17]; /* IPv4 total length */
	tos = e[15];
	if (bpf_xdp_adjust_head(ctx, -20))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	e = data;
	if ((void *)(e + 14 + 20) > data_end)
		return XDP_DROP;
	e[0] = 0x02; e[1] = 0; e[2] = 0; e[3] = 0; e[4] = 0; e[5] = 0x01;
	__builtin_memcpy(e + 6, mac, 6);
	e[12] = 0x08;
	e[13] = 0x00;
	h = e + 14;
	total = (inner_len + 20) & 0xffff;
	h[0] = 0x45;
	h[1] = tos;
	h[2] = (__u8)(total >> 8);
	h[3] = (__u8)total;
	h[4] = 0; h[5] = 0;
	h[6] = 0x40; h[7] = 0; /* DF */
	h[8] = 64;
	h[9] = 4; /* IPIP */
	*(__u32 *)(h + 12) = bpf_htonl(SRC_ADDR);
	*(__u32 *)(h + 16) = bpf_htonl(DST_ADDR);
	sum = ((0x45u << 8) | tos) + total + 0x4000 + ((64u << 8) | 4) +
	      (SRC_ADDR >> 16) + (SRC_ADDR & 0xffff) + (DST_ADDR >> 16) + (DST_ADDR & 0xffff);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	h[10] = (__u8)(sum >> 8);
	h[11] = (__u8)sum;
	return XDP_TX;
}
