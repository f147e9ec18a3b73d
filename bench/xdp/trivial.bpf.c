// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The call-overhead control of anylb-bench-xdp: a program that does nothing.
 * Its BPF_PROG_TEST_RUN time, on the same frames, is subtracted from every
 * other program's. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}
