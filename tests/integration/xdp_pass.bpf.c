/* A do-nothing XDP program for the router side of the LB's veth.
 *
 * The LB's program sends encapsulated frames back out of its veth with
 * XDP_TX. veth hands such frames straight to the peer's NAPI ring, and on
 * kernel 6.x only flushes (schedules) that ring when the peer has an XDP
 * program of its own: with NAPI from `gro on` alone the frames are queued but
 * sit there until some unrelated skb wakes the ring. So the router side gets
 * this program, which passes every frame to its stack. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
