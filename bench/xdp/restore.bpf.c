// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The hot-loop harness of anylb-bench-xdp. With BPF_PROG_TEST_RUN's repeat,
 * the kernel runs the program again on the frame it left behind, so from the
 * second iteration an encapsulating program would see its own output. This
 * program goes first on every iteration: it puts the frame back as the
 * benchmark handed it in (the length and the first RESTORE_BYTES bytes, which
 * user space writes into .bss before each frame) and tail-calls the program
 * under test. It does the same work whether or not the last iteration grew
 * the frame (bpf_xdp_adjust_head by 0 on an untouched frame), so its cost is
 * the same under every program and the `drop` control's time removes it.
 *
 * For new flows, user space sets new_source: every iteration then gives the
 * frame (TCP over IPv4) that source address and advances it, so each
 * iteration is a flow the program under test has never seen. Both checksums
 * stay valid: user space leaves each one's sum over everything but the source
 * address, and the source's two halfwords are added here. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define RESTORE_BYTES 42 /* the shortest benchmark frame: Ethernet, IPv4, UDP */

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} under_test SEC(".maps");

#define IP_CHECK 24  /* offsets in an untagged Ethernet + IPv4 + TCP frame */
#define IP_SOURCE 26
#define TCP_CHECK 50

__u32 frame_len;
__u8 frame_head[RESTORE_BYTES];
__u32 new_source;   /* host order; 0: the frame's own source, every iteration */
__u32 ip_sum_rest;  /* ones' complement sums without the source and the checksum */
__u32 tcp_sum_rest;

static __always_inline void put_be16(__u8 *p, __u32 v)
{
	p[0] = (__u8)(v >> 8);
	p[1] = (__u8)v;
}

static __always_inline __u32 checksum_with(__u32 rest, __u32 addr)
{
	__u32 sum = rest + (addr >> 16) + (addr & 0xffff);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

SEC("xdp")
int bench_restore(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__s64 len = (__s64)(data_end - data);

	/* Keeps the difference 64-bit: with -mcpu=v3 clang would fold the
	 * subtraction below into 32-bit pointer arithmetic, which the verifier
	 * refuses. */
	asm volatile("" : "+r"(len));
	if (bpf_xdp_adjust_head(ctx, (int)(len - (__s64)frame_len)))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + RESTORE_BYTES > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, frame_head, RESTORE_BYTES);
	if (new_source) {
		__u8 *f = data;
		__u32 src = new_source++;

		if (data + TCP_CHECK + 2 > data_end)
			return XDP_ABORTED;
		f[IP_SOURCE] = (__u8)(src >> 24);
		f[IP_SOURCE + 1] = (__u8)(src >> 16);
		f[IP_SOURCE + 2] = (__u8)(src >> 8);
		f[IP_SOURCE + 3] = (__u8)src;
		put_be16(f + IP_CHECK, checksum_with(ip_sum_rest, src));
		put_be16(f + TCP_CHECK, checksum_with(tcp_sum_rest, src));
	}
	bpf_tail_call(ctx, &under_test, 0);
	return XDP_ABORTED; /* no program in the slot */
}
