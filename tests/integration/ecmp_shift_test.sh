#!/usr/bin/env bash
# Scenario ecmp-shift on the whole PoP (scripts/pop.sh: 3 LB nodes behind an
# ECMP router, 4 backends): long-lived TCP connections and a paced UDP
# stream run while lb1 drains (its routes withdrawn: the router re-hashes
# every flow over lb2 and lb3, moving lb1's flows and, Linux ECMP not being
# resilient, some of the others) and later returns. Every flow must keep its
# backend throughout: the nodes share the Maglev tables, so a node that
# never saw a flow sends it where the old node did.
#
# Usage: ecmp_shift_test.sh    (meson: suite integration; root; exit 77 = skip)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ -z "${POP_NS:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
  command -v bird >/dev/null || { echo "SKIP: needs bird"; exit 77; }
  # One CPU: the per-CPU XDP flow tables on veths (see xdp_pop_test.sh).
  exec taskset -c 0 bash "$ROOT/scripts/pop.sh" --lbs 3 --backends 4 -- bash "$0"
fi

FAILS=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
field() { local v; v=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n1); echo "${v:-0}"; }
inns() { local n=$1; shift; ip netns exec "$POP_NS-$n" "$@"; }
paths() { inns rtr ip route show 192.0.2.10/32 proto bird | grep -c "nexthop via" || true; }
wait_paths() {  # wait_paths N: until rtr has N ECMP paths; prints the seconds
  local t0; t0=$(date +%s%N)
  for ((k = 0; k < 200; k++)); do [ "$(paths)" -eq "$1" ] && break; sleep 0.05; done
  awk -v ms=$((($(date +%s%N) - t0) / 1000000)) 'BEGIN { printf "%.2f", ms / 1000 }'
}
node_packets() {  # packets each LB node forwarded for web, as "lb1=N lb2=N lb3=N"
  local out="" i
  for ((i = 1; i <= POP_LBS; i++)); do
    out+="lb$i=$("$POP_ANYLBCTL" vips -s "$POP_DIR/lb$i.sock" | awk '$1 == "web" { print $5 }') "
  done
  echo "$out"
}

HOLD_N=60
coproc HOLD { exec ip netns exec "$POP_NS-cli" timeout 300 "$POP_PY" "$POP_HELPER" hold --vip 192.0.2.10 --port 80 --count "$HOLD_N" 2>&1; }
hold() {
  local reply
  echo "$1" >&"${HOLD[1]}"
  read -r -t 60 reply <&"${HOLD[0]}" || reply="holder: no answer"
  echo "$reply"
}
read -r -t 60 ready <&"${HOLD[0]}" || ready="holder: no answer"
echo "holder: $ready"
all_kept() { [ "$(field "$1" alive)" -eq "$HOLD_N" ] && [ "$(field "$1" changed)" -eq 0 ]; }

check "rtr spreads the VIP over 3 LB nodes" [ "$(paths)" -eq 3 ]
line=$(hold "round start 3 0.2")
check "$HOLD_N TCP connections, all answered: $line" all_kept "$line"
echo "per node before: $(node_packets)"

rm -f "$POP_DIR/stream.started" "$POP_DIR/stream.stop"
ip netns exec "$POP_NS-cli" timeout 120 "$POP_PY" "$POP_HELPER" udp-stream --vip 192.0.2.53 --port 53 \
  --min-count 3000 --interval-ms 1 --flows 64 --timeout 2 --started "$POP_DIR/stream.started" \
  --stop-file "$POP_DIR/stream.stop" >"$POP_DIR/stream.out" 2>"$POP_DIR/stream.log" &
STREAM=$!
for ((k = 0; k < 200; k++)); do [ -s "$POP_DIR/stream.started" ] && break; sleep 0.05; done

"$POP_ANYLBCTL" drain -s "$POP_DIR/lb1.sock" >/dev/null
took=$(wait_paths 2)
check "lb1 drained: rtr down to 2 paths in ${took}s" [ "$(paths)" -eq 2 ]
line=$(hold "round shifted 5 0.2")
check "after the shift: every connection alive, none changed backend: $line" all_kept "$line"
echo "per node while lb1 is drained: $(node_packets)"

"$POP_ANYLBCTL" undrain -s "$POP_DIR/lb1.sock" >/dev/null
took=$(wait_paths 3)
check "lb1 back: rtr at 3 paths again in ${took}s" [ "$(paths)" -eq 3 ]
line=$(hold "round returned 5 0.2")
check "after the return: every connection alive, none changed backend: $line" all_kept "$line"
echo "per node after: $(node_packets)"

sleep 0.5
touch "$POP_DIR/stream.stop"
wait "$STREAM" || true
line=$(cat "$POP_DIR/stream.out")
stream_ok() {
  [ "$(field "$1" lost)" -eq 0 ] && [ "$(field "$1" bad)" -eq 0 ] && [ "$(field "$1" flows_changed)" -eq 0 ] &&
    [ "$(field "$1" sent)" -ge 1000 ]
}
check "UDP: 64 flows through the shift and back, nothing lost, no flow changed backend: $line" \
  stream_ok "$line"

echo "quit" >&"${HOLD[1]}" || true
if [ "$FAILS" -ne 0 ]; then echo "FAIL: $FAILS check(s) failed"; exit 1; fi
echo "PASS: all checks"
