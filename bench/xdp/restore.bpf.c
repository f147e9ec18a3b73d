// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The hot-loop harness of anylb-bench-xdp. With BPF_PROG_TEST_RUN's repeat,
 * the kernel runs the program again on the frame it left behind, so from the
 * second iteration an encapsulating program would see its own output. This
 * program goes first on every iteration: it puts the frame back as the
 * benchmark handed it in (the length and the first RESTORE_BYTES bytes, which
 * user space writes into .bss before each frame) and tail-calls the program
 * under test. It does the same work whether or not the last iteration grew
 * the frame (bpf_xdp_adjust_head by 0 on an untouched frame), so its cost is
 * the same under every program and the `drop` control's time removes it. */
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

__u32 frame_len;
__u8 frame_head[RESTORE_BYTES];

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
	bpf_tail_call(ctx, &under_test, 0);
	return XDP_ABORTED; /* no program in the slot */
}
