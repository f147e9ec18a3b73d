#!/usr/bin/env bash
# The XDP fast path end to end: the PoP of pop_lib.sh in network namespaces,
# real traffic, lb running `anylbctl xdp apply` (native XDP on lb's veth; the
# program sends encapsulated frames back out with XDP_TX).
#
# Checks: (a) every request answered, spread over the backends; (b) sticky
# long-lived connections; (c) draining keeps open connections, takes no new
# ones; (d) a removed backend gets nothing new; (e) `xdp apply` twice (the
# control-process restart) under a paced UDP stream loses nothing and keeps
# the connections; (f) `xdp stats`; and what the backends decapsulated; (g) the
# interface recreated under the pinned link: apply attaches again, maps kept.
#
# Usage: xdp_pop_test.sh ANYLBCTL   (meson: suite integration; root; exit 77 = skip)
# Environment:
#   ANYLB_IT_XDP_PASS  a compiled XDP_PASS object for rtr's side of lb's veth
#                      (meson builds xdp_pass.bpf.c; compiled here with clang if unset)
#   ANYLB_IT_DECAP     user (default): tests/integration/itnet.py decapsulates
#                      through raw/UDP sockets into a TUN device (works without
#                      ipip/fou/ip6_tunnel in the kernel); kernel: tunl0/ip6tnl0
#                      and `ip fou` (needs those modules)
#   ANYLB_IT_NO_PIN=1  do not pin the test to one CPU (see below)
#   ANYLB_IT_KEEP=1    on failure, leave the namespaces for inspection
set -euo pipefail

ANYLBCTL=${1:?usage: xdp_pop_test.sh ANYLBCTL}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELPER=$HERE/itnet.py
PY=${PYTHON3:-python3}
DECAP=${ANYLB_IT_DECAP:-user}

# shellcheck source=pop_lib.sh
source "$HERE/pop_lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, XDP)"
for t in ip timeout "$PY"; do command -v "$t" >/dev/null || skip "needs $t"; done
[ -x "$ANYLBCTL" ] || { echo "FAIL: anylbctl not found at $ANYLBCTL"; exit 1; }

# veth has no RSS: XDP runs in the NAPI poll of whichever CPU sent the packet
# into the veth, so one connection's packets may hit the program on any CPU,
# and the flow table is per CPU. A draining backend's flow
# that shows up on a CPU with no entry for it goes wherever Maglev now points
# and is reset (documented in docs/architecture.md; moving the holder to the
# other CPU after the drain resets every be2 connection). A NIC's RSS keeps a
# flow on one queue and CPU; the test runs on one CPU to get the same effect,
# so that a failure here is anylb's and not the scheduler's.
if [ "${ANYLB_IT_NO_PIN:-0}" != 1 ] && [ -z "${ANYLB_IT_PINNED:-}" ] && command -v taskset >/dev/null \
  && [ "$(nproc)" -gt 1 ]; then
  export ANYLB_IT_PINNED=1
  exec taskset -c 0 bash "$0" "$@"
fi

P="albit$$"                       # namespace prefix: distinctive, per run
W="/run/anylb-it-$$"              # logs, configs, the bpffs
BPF="$W/bpf"
LB_IF=lb0
DATAPLANE=xdp

lb_cleanup() { pop_xdp_detach; }

pop_bpffs

pop_topology

pop_xdp_wire

pop_backends

apply() {  # apply CONFIG: prints anylbctl's line and the time it took
  local t0 t1 out
  t0=$(date +%s%N)
  if ! out=$(inns lb "$ANYLBCTL" xdp apply -c "$1" --pin-root "$BPF" 2>&1); then
    echo "$out"
    if grep -qiE "Operation not supported|EOPNOTSUPP" <<<"$out"; then
      skip "native XDP attach failed on veth: $out"
    fi
    echo "FAIL: anylbctl xdp apply -c $1"; exit 1
  fi
  t1=$(date +%s%N)
  log "apply $(basename "$1"): $out ($(((t1 - t0) / 1000000)) ms)"
}

write_config "$W/active.toml" active active active
write_config "$W/drain-be2.toml" active draining active
write_config "$W/remove-be3.toml" active active absent
inns lb "$ANYLBCTL" validate -c "$W/active.toml" >/dev/null
apply "$W/active.toml"
# prog_id: the id of the XDP program on lb0 in native mode ("" if none)
prog_id() { inns lb ip -d link show dev "$LB_IF" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -n1; }
PROG1=$(prog_id)
check "attached in native mode to $LB_IF (program id ${PROG1:-none})" [ -n "$PROG1" ]

pop_checks_abcd

# ---------------------------------------------------------------- (e)
log "(e) restart: xdp apply twice under a paced UDP stream"
restart_twice() {
  PROG_BEFORE=$(prog_id)
  apply "$W/remove-be3.toml"
  PROG_MID=$(prog_id)
  apply "$W/remove-be3.toml"
  PROG_AFTER=$(prog_id)
}
pop_check_stream "(e) restart: paced UDP stream across two applies" restart_twice
swapped() { [ -n "$3" ] && [ "$1" != "$2" ] && [ "$2" != "$3" ]; }
check "(e) restart: each apply swapped in a new program (ids $PROG_BEFORE -> $PROG_MID -> $PROG_AFTER)" \
  swapped "$PROG_BEFORE" "$PROG_MID" "$PROG_AFTER"
line=$(hold "round restarted 2 0.2")
check "(e) restart: TCP connections on be1/be2 still alive on their backend: $line" removed_ok "$line"

# ---------------------------------------------------------------- (f)
log "(f) counters"
st=$(inns lb "$ANYLBCTL" xdp stats -i "$LB_IF" --pin-root "$BPF")
echo "$st" | sed 's/^/    /'
first=$(head -n1 <<<"$st")
tx=$(awk '{ for (i = 1; i < NF; i++) if ($i == "transmitted") print $(i + 1) }' <<<"$first")
tx=${tx:-0}
check "(f) xdp stats: transmitted $tx > 0" [ "$tx" -gt 0 ]
# The same counter straight from the pinned map, summed over CPUs.
if command -v bpftool >/dev/null; then
  map_tx=$(bpftool -j map dump pinned "$BPF/$LB_IF/path_stats" |
    "$PY" -c '
import json, sys
total = 0
for e in json.load(sys.stdin):
    if "formatted" in e:  # BTF: fields by name
        total += sum(v["value"]["transmitted"] for v in e["formatted"]["values"])
    else:  # raw bytes: struct anylb_path_stats { u64 passed, transmitted, ... }
        total += sum(int.from_bytes(bytes(int(x, 16) for x in v["value"][8:16]), "little") for v in e["values"])
print(total)') || map_tx="?"
  check "(f) xdp stats agrees with the pinned path_stats map (bpftool): $tx vs $map_tx" [ "$tx" = "$map_tx" ]
fi
drops=$(grep '^drop ' <<<"$st" || true)
check "(f) xdp stats: no drops${drops:+: $drops}" [ -z "$drops" ]

# What the backends got, by encapsulation (userspace decap only).
if [ "$DECAP" = user ]; then
  echo "quit" >&"${HOLD[1]}" || true
  wait "$HOLDER" 2>/dev/null || true
  HOLDER=""
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  summary=$("$PY" - "$W" <<'EOF'
import json, sys
w = sys.argv[1]
want = {  # encapsulation -> the inner (family/protocol:port) it may carry
    "ipip4": {"v4/6:80"}, "gue4": {"v4/17:53"}, "ipip6-6": {"v6/6:80"}, "gue6": {"v4/17:53"},
}
bad, seen, wrong = {}, {}, []
for b in ("be1", "be2", "be3"):
    d = json.load(open(f"{w}/decap-{b}.json"))
    for k, n in d["bad"].items():
        bad[f"{b}:{k}"] = n
    for k, n in d["counts"].items():
        kind, inner, port = k.split(":")
        seen[kind] = seen.get(kind, 0) + n
        if f"{inner}:{port}" not in want.get(kind, set()):
            wrong.append(f"{b}:{k}={n}")
ok = not bad and not wrong and all(seen.get(k, 0) > 0 for k in want)
print(("ok" if ok else "bad"), " ".join(f"{k}={v}" for k, v in sorted(seen.items())),
      ("rejected=" + ",".join(f"{k}:{v}" for k, v in bad.items())) if bad else "",
      ("unexpected=" + ",".join(wrong)) if wrong else "")
EOF
)
  check "(f) backends: web via 4in4, dns via GUE/IPv4, web6 via 6in6, dns46 via GUE/IPv6, outer source = lb, nothing malformed: ${summary#* }" \
    [ "${summary%% *}" = ok ]
fi

# (g) The interface goes away under the pinned link (a NIC reset, a veth
# recreated): the next apply replaces the defunct link and keeps the maps.
inns lb ip link del "$LB_IF"
inns lb ip link add "$LB_IF" type veth peer name "${LB_IF}p"
inns lb ip link set "$LB_IF" up
inns lb ip link set "${LB_IF}p" up
apply "$W/remove-be3.toml"
PROG_RELINK=$(prog_id)
check "(g) interface recreated: apply attached again (program id ${PROG_RELINK:-none})" [ -n "$PROG_RELINK" ]
check "(g) interface recreated: the pinned maps were kept (nothing to write)" \
  grep -q "0 map writes" <<<"$(inns lb "$ANYLBCTL" xdp apply -c "$W/remove-be3.toml" --pin-root "$BPF" 2>&1)"

log "done: $FAILS failed"
if [ "$FAILS" -ne 0 ]; then
  echo "FAIL: $FAILS check(s) failed"
  exit 1
fi
echo "PASS: all checks"
