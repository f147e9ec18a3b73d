/* The arithmetic both fast paths must do bit for bit alike, written once in C
 * so that the BPF program includes it as the core does: the MurmurHash3 x86_32
 * round and finish of the flow hash (flow_hash.h says which words go in), and
 * the flow table's choice of buckets and expiry rule (abi.h describes the
 * table). */
#ifndef ANYLB_ABI_HASH_H
#define ANYLB_ABI_HASH_H

#include <linux/types.h>

/* Always inlined: in BPF a call would be a bpf-to-bpf call. */
#define ANYLB_HASH_INLINE static inline __attribute__((always_inline))

ANYLB_HASH_INLINE __u32 anylb_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* One 32-bit block of MurmurHash3 x86_32. */
ANYLB_HASH_INLINE __u32 anylb_murmur3_round(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = anylb_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = anylb_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

/* MurmurHash3's final mix over `len` input bytes. */
ANYLB_HASH_INLINE __u32 anylb_murmur3_finish(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* A flow's signature in its bucket: the hash, with 0 (an empty way) read as 1. */
ANYLB_HASH_INLINE __u32 anylb_flow_signature(__u32 hash)
{
	return hash ? hash : 1;
}

/* The flow's first and second bucket among mask + 1. The second mixes the high
 * bits, so flows sharing a first bucket spread over different second ones. */
ANYLB_HASH_INLINE __u32 anylb_flow_first_bucket(__u32 hash, __u32 mask)
{
	return hash & mask;
}

ANYLB_HASH_INLINE __u32 anylb_flow_second_bucket(__u32 hash, __u32 mask)
{
	return ((hash >> 16 | hash << 16) * 0x9e3779b1u) & mask;
}

/* Flow timeouts are at most a day (config.md, [timeouts]), so a live entry's
 * deadline is never more than that ahead of the clock. */
#define ANYLB_FLOW_MAX_TIMEOUT_MS 86400000u

/* Whether a way whose deadline is `deadline` has expired at `now_ms`: live
 * only while the deadline is 0 to ANYLB_FLOW_MAX_TIMEOUT_MS ahead. Nothing
 * sweeps the table, so an expired entry in a way no insert reuses can sit
 * for weeks. A signed difference would read it as live again once it is
 * 2^31 ms (24.9 days) old, and for 24.9 days; this rule does so only 48.7
 * days after its deadline, for at most a day, as the 32-bit ms clock wraps. */
ANYLB_HASH_INLINE int anylb_flow_expired(__u32 deadline, __u32 now_ms)
{
	return deadline - now_ms > ANYLB_FLOW_MAX_TIMEOUT_MS;
}

#endif /* ANYLB_ABI_HASH_H */
