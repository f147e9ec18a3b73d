#!/usr/bin/env bash
# The DPDK fast path end to end: the PoP of pop_lib.sh in network namespaces,
# real traffic, lb running anylb-dpdk on its veth through net_af_packet (a
# veth is what DPDK can own here; a NIC would be a PCI address in
# [[dpdk.port]]). Config changes reach the running driver by SIGHUP and are
# published to its worker by RCU.
#
# Checks: (a) every request answered, spread over the backends; (b) sticky
# long-lived connections; (c) draining keeps open connections, takes no new
# ones; (d) a removed backend gets nothing new; (e) two reloads under a paced
# UDP stream lose nothing and move no flow; (f) a bad config on reload is
# refused and the running tables keep forwarding; (g) SIGTERM: a clean stop,
# every mbuf back in its pool, no drops counted.
#
# Usage: dpdk_pop_test.sh ANYLB_DPDK   (meson: suite integration; root; exit 77 = skip)
# Environment: ANYLB_IT_DECAP and ANYLB_IT_KEEP as for xdp_pop_test.sh.
set -euo pipefail

ANYLB_DPDK=${1:?usage: dpdk_pop_test.sh ANYLB_DPDK}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELPER=$HERE/itnet.py
PY=${PYTHON3:-python3}
DECAP=${ANYLB_IT_DECAP:-user}

# shellcheck source=pop_lib.sh
source "$HERE/pop_lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, raw sockets)"
for t in ip timeout "$PY"; do command -v "$t" >/dev/null || skip "needs $t"; done
[ -x "$ANYLB_DPDK" ] || { echo "FAIL: anylb-dpdk not found at $ANYLB_DPDK"; exit 1; }

P="albdp$$"                       # namespace prefix: distinctive, per run
W="/run/anylb-itd-$$"             # logs and configs
LB_IF=lb0
DATAPLANE=dpdk
DPDK_PID=""
LB_CONFIG="$W/lb.toml"            # the file anylb-dpdk reads (again on SIGHUP)
LB_LOG="$W/dpdk.log"

# The worker polls on the second CPU when there is one; the main lcore (a
# sleeper) shares the first with everything else.
WORKER_CPU=$(( $(nproc) > 1 ? 1 : 0 ))
CONFIG_EXTRA="
[dpdk]
main_cpu = 0
worker_cpus = [$WORKER_CPU]
hugepages = false
memory_mb = 256
mbufs = 8191
rx_descriptors = 512
tx_descriptors = 512

[[dpdk.port]]
device = \"net_af_packet0,iface=$LB_IF\""

lb_cleanup() {
  [ -n "$DPDK_PID" ] || return 0
  kill -TERM "$DPDK_PID" 2>/dev/null
  local i
  for ((i = 0; i < 50; i++)); do kill -0 "$DPDK_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$DPDK_PID" 2>/dev/null
  wait "$DPDK_PID" 2>/dev/null
}

mkdir -p "$W"
pop_topology
# Checksums completed on the way to lb, as a real wire delivers them: an
# af_packet socket gets a forwarded packet as the kernel holds it, with the
# checksum the sender left to offload still unwritten.
inns rtr "$PY" "$HELPER" ethtool l0 --tx-csum off
pop_backends

reloads() { grep -c "^reload: published" "$LB_LOG" || true; }
apply() {  # apply CONFIG: the first call starts anylb-dpdk, later ones reload it
  cp "$1" "$LB_CONFIG"
  local i
  if [ -z "$DPDK_PID" ]; then
    # Not under timeout(1): it would take the SIGHUPs meant for anylb-dpdk.
    # cleanup stops it whatever happens.
    ip netns exec "$(ns lb)" "$ANYLB_DPDK" --config "$LB_CONFIG" --stats-interval 1 \
      >"$LB_LOG" 2>&1 &
    DPDK_PID=$!
    for ((i = 0; i < 200; i++)); do
      grep -q "^running:" "$LB_LOG" && break
      kill -0 "$DPDK_PID" 2>/dev/null || { echo "FAIL: anylb-dpdk exited"; cat "$LB_LOG"; exit 1; }
      sleep 0.05
    done
    grep -q "^running:" "$LB_LOG" || { echo "FAIL: anylb-dpdk did not start"; exit 1; }
    log "started: $(grep -E '^(port|running)' "$LB_LOG" | tr '\n' ' ')"
    return
  fi
  local before; before=$(reloads)
  kill -HUP "$DPDK_PID"
  for ((i = 0; i < 200; i++)); do [ "$(reloads)" -gt "$before" ] && break; sleep 0.05; done
  [ "$(reloads)" -gt "$before" ] || { echo "FAIL: reload of $(basename "$1") not published"; exit 1; }
  log "apply $(basename "$1"): $(grep "^reload: published" "$LB_LOG" | tail -n1)"
}

write_config "$W/active.toml" active active active
write_config "$W/drain-be2.toml" active draining active
write_config "$W/remove-be3.toml" active active absent
apply "$W/active.toml"

pop_checks_abcd

# ---------------------------------------------------------------- (e)
log "(e) two reloads under a paced UDP stream"
reload_twice() {
  apply "$W/remove-be3.toml"
  apply "$W/remove-be3.toml"
}
pop_check_stream "(e) reload: paced UDP stream across two RCU publications" reload_twice
line=$(hold "round reloaded 2 0.2")
check "(e) reload: TCP connections on be1/be2 still alive on their backend: $line" removed_ok "$line"

# ---------------------------------------------------------------- (f)
log "(f) a bad config on reload"
sed 's/^table_size = 1009$/table_size = 1000/' "$W/active.toml" >"$W/bad.toml"
cp "$W/bad.toml" "$LB_CONFIG"
failed_before=$(grep -c "reload failed" "$LB_LOG" || true)
kill -HUP "$DPDK_PID"
for ((i = 0; i < 100; i++)); do
  [ "$(grep -c "reload failed" "$LB_LOG" || true)" -gt "$failed_before" ] && break
  sleep 0.05
done
refusal=$(grep "reload failed" "$LB_LOG" | tail -n1)
check "(f) bad reload refused, naming the file, line and field: ${refusal#anylb-dpdk: }" \
  grep -q "reload failed, keeping the running state: $LB_CONFIG:[0-9]*: vip 'web': table_size" <<<"$refusal"
line=$(client udp-burst --vip 192.0.2.53 --port 53 --count 100 --sport-base 22000)
check "(f) after the refused reload the running tables still forward (be3 still removed): $line" \
  none_from "$line" 100 be3 be1 be2

# ---------------------------------------------------------------- (g)
log "(g) stop"
echo "quit" >&"${HOLD[1]}" || true
wait "$HOLDER" 2>/dev/null || true
HOLDER=""
kill -TERM "$DPDK_PID"
rc=0
wait "$DPDK_PID" || rc=$?
DPDK_PID=""
final=$(grep "^stats " "$LB_LOG" | tail -n1)
echo "    $final"
grep "^  drop " "$LB_LOG" | tail -n 5 | sed 's/^/    /' || true
check "(g) SIGTERM: exit 0, every mbuf back in the pool" \
  grep -q "^mbufs not returned after stop: 0$" "$LB_LOG"
check "(g) SIGTERM: exit status $rc" [ "$rc" -eq 0 ]
check "(g) transmitted $(field "$final" tx) > 0, drops $(field "$final" drops), TX refused $(field "$final" tx_refused)" \
  [ "$(field "$final" tx)" -gt 0 ] && [ "$(field "$final" drops)" -eq 0 ] && [ "$(field "$final" tx_refused)" -eq 0 ]

log "done: $FAILS failed"
if [ "$FAILS" -ne 0 ]; then
  echo "FAIL: $FAILS check(s) failed"
  exit 1
fi
echo "PASS: all checks"
