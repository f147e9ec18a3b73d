#!/usr/bin/env bash
# anylbd end to end with a real BGP speaker: the PoP of pop_lib.sh, rtr
# running BIRD (ECMP: `merge paths on`), lb running anylbd (XDP fast path) and
# its own BIRD, whose static protocol per VIP anylbd enables and disables
# through BIRD's control socket. Backends answer HTTP health checks on :8080.
#
# rtr also has a static route to lb for each VIP with metric 1000, standing
# for the PoP's other LB nodes: when anylbd withdraws a route, traffic that
# still arrives (as it does at a drained node) must still be forwarded.
#
# Checks: (a) the VIP routes appear at rtr once anylbd is ready, and traffic
# flows over them; (b) a backend whose server dies leaves the table within
# fall x interval (+ timeout) and the other backends' connections stay;
# (c) web is withdrawn at rtr when its healthy backends fall under
# min_healthy, and announced again once they are back; (d) `anylbctl drain`
# removes every route at rtr (time measured) while established connections
# keep working, `undrain` brings them back; (e) a bad reload is refused and
# changes nothing; (f) anylbd restarted under a paced UDP stream loses no
# packet, and neither does a reload of [timeouts], which swaps in a new XDP
# program; (g) the admin API's metrics.
#
# Usage: bgp_pop_test.sh ANYLBD ANYLBCTL   (meson: suite integration; root; exit 77 = skip)
set -euo pipefail

ANYLBD=${1:?usage: bgp_pop_test.sh ANYLBD ANYLBCTL}
ANYLBCTL=${2:?usage: bgp_pop_test.sh ANYLBD ANYLBCTL}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELPER=$HERE/itnet.py
PY=${PYTHON3:-python3}
DECAP=${ANYLB_IT_DECAP:-user}

# shellcheck source=pop_lib.sh
source "$HERE/pop_lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, XDP)"
for t in ip timeout bird birdc "$PY"; do command -v "$t" >/dev/null || skip "needs $t"; done

# One CPU, for the reason given in xdp_pop_test.sh (per-CPU flow tables on a veth).
if [ "${ANYLB_IT_NO_PIN:-0}" != 1 ] && [ -z "${ANYLB_IT_PINNED:-}" ] && command -v taskset >/dev/null \
  && [ "$(nproc)" -gt 1 ]; then
  export ANYLB_IT_PINNED=1
  exec taskset -c 0 bash "$0" "$@"
fi

P="albbg$$"
W="/run/anylb-itb-$$"
BPF="$W/bpf"
LB_IF=lb0
DATAPLANE=xdp
ANYLBD_PID=""
SOCK="$W/anylbd.sock"
HEALTH_PORT=8080
MIN_HEALTHY=2
VIP_EXTRA='
[vip.health]
kind = "http"
port = 8080
path = "/healthz"
interval = "300ms"
timeout = "200ms"
rise = 2
fall = 2'
CONFIG_EXTRA="
[bgp]
speaker = \"bird\"
bird_socket = \"$W/lb-bird.ctl\"
announce_hold = \"1s\"
retry = \"500ms\"
shutdown_grace = \"500ms\"

[api]
socket = \"$SOCK\""

lb_cleanup() {
  if [ -n "$ANYLBD_PID" ]; then kill -TERM "$ANYLBD_PID" 2>/dev/null; wait "$ANYLBD_PID" 2>/dev/null; fi
  for n in rtr lb; do [ -s "$W/$n-bird.pid" ] && kill "$(cat "$W/$n-bird.pid")" 2>/dev/null; done
  pop_xdp_detach
}

pop_bpffs
pop_topology
pop_xdp_wire
# The VIP routes come from BGP now; the static ones stay as the fallback.
for v in 192.0.2.10 192.0.2.53 192.0.2.54; do
  inns rtr ip route replace "$v/32" via 10.77.2.2 metric 1000
done
pop_backends

# ---------------------------------------------------------------- BIRD
TIMERS="hold time 3; keepalive time 1; connect delay time 1; connect retry time 2; error wait time 1, 5;"
cat >"$W/rtr-bird.conf" <<EOF
router id 10.77.2.1;
protocol device { scan time 10; }
protocol kernel kern4 { ipv4 { import none; export where source = RTS_BGP; }; merge paths on; }
protocol bgp lb1 {
  local 10.77.2.1 as 65000; neighbor 10.77.2.2 as 65001; $TIMERS
  ipv4 { import where net ~ [ 192.0.2.0/24{32,32} ]; export none; };
}
EOF
cat >"$W/lb-bird.conf" <<EOF
# What an operator adds for anylbd (docs/operations.md): one static protocol
# per VIP, named anylb_<vip>, disabled until anylbd enables it.
router id 10.77.2.2;
protocol device { scan time 10; }
protocol static anylb_web { disabled; ipv4; route 192.0.2.10/32 blackhole; }
protocol static anylb_dns { disabled; ipv4; route 192.0.2.53/32 blackhole; }
protocol static anylb_dns46 { disabled; ipv4; route 192.0.2.54/32 blackhole; }
protocol static anylb_web6 { disabled; ipv6; route 2001:db8::10/128 blackhole; }
protocol bgp up {
  local 10.77.2.2 as 65001; neighbor 10.77.2.1 as 65000; $TIMERS
  ipv4 { import none; export where source = RTS_STATIC; };
}
EOF
for n in rtr lb; do
  inns "$n" bird -c "$W/$n-bird.conf" -s "$W/$n-bird.ctl" -P "$W/$n-bird.pid" \
    || { echo "FAIL: bird in $n did not start"; exit 1; }
done

bgp_route() { inns rtr ip route show "$1/32" proto bird; }
# wait_for SECONDS CONDITION...: polls every 20 ms; prints the seconds it took.
wait_for() {
  local limit=$1; shift
  local t0 t1; t0=$(date +%s%N)
  while ! "$@" >/dev/null 2>&1; do
    t1=$(date +%s%N)
    if [ $(((t1 - t0) / 1000000)) -gt $((limit * 1000)) ]; then echo "timeout"; return 1; fi
    sleep 0.02
  done
  t1=$(date +%s%N)
  awk -v ms=$(((t1 - t0) / 1000000)) 'BEGIN { printf "%.2f", ms / 1000 }'
}
has_route() { [ -n "$(bgp_route "$1")" ]; }
no_route() { [ -z "$(bgp_route "$1")" ]; }
ctl() { inns lb "$ANYLBCTL" "$@" -s "$SOCK"; }
backend_state() {  # backend_state VIP ADDRESS: its state column
  ctl backends | awk -v v="$1" -v a="$2" '$1 == v && $2 == a { print $4 }'
}
backend_is() { [ "$(backend_state "$1" "$2")" = "$3" ]; }

start_anylbd() {
  ip netns exec "$(ns lb)" "$ANYLBD" --config "$W/lb.toml" --pin-root "$BPF" >>"$W/anylbd.log" 2>&1 &
  ANYLBD_PID=$!
  wait_for 10 test -S "$SOCK" >/dev/null || { echo "FAIL: anylbd did not start"; exit 1; }
}

write_config "$W/lb.toml" active active active
start_anylbd

# ---------------------------------------------------------------- (a)
log "(a) routes at rtr once anylbd is ready"
took=$(wait_for 30 has_route 192.0.2.10) || true
check "(a) web's route learnt by rtr over BGP ${took}s after anylbd started: $(bgp_route 192.0.2.10 | head -n1)" \
  has_route 192.0.2.10
check "(a) dns's route too" has_route 192.0.2.53
line=$(client tcp-burst --vip 192.0.2.10 --port 80 --count 100)
check "(a) 100 TCP connections over the BGP route, all answered on all three backends: $line" \
  spread_ok "$line" 100 be1 be2 be3

# ---------------------------------------------------------------- (b)
HOLD_N=30
start_holder() {
  coproc HOLD { exec ip netns exec "$(ns cli)" timeout 300 "$PY" "$HELPER" hold --vip 192.0.2.10 --port 80 --count "$HOLD_N" 2>&1; }
  HOLDER=$HOLD_PID
  read -r -t 60 ready <&"${HOLD[0]}" || ready="holder: no answer"
  log "holder: $ready"
}
start_holder
line=$(hold "round first 2 0.2")
INIT_BE1=$(field "$line" init_be1)
INIT_BE2=$(field "$line" init_be2)
INIT_BE3=$(field "$line" init_be3)
log "(b) kill be3's server"
kill "${SERVE_PID[be3]}"
took=$(wait_for 10 backend_is web 10.77.13.2 down) || true
check "(b) be3 out of web's table ${took}s after its server died (fall 2 x 300 ms + 200 ms timeout)" \
  backend_is web 10.77.13.2 down
line=$(hold "round after-kill 2 0.2")
kept_ok() {
  [ "$(field "$1" changed)" -eq 0 ] && [ "$(field "$1" same_be1)" -eq "$INIT_BE1" ] &&
    [ "$(field "$1" same_be2)" -eq "$INIT_BE2" ]
}
check "(b) connections on be1/be2 kept ($INIT_BE1 + $INIT_BE2), be3's $INIT_BE3 gone with it: $line" kept_ok "$line"

# ---------------------------------------------------------------- (c)
log "(c) be2 dies too: web under min_healthy = 2"
kill "${SERVE_PID[be2]}"
took=$(wait_for 10 no_route 192.0.2.10) || true
check "(c) web withdrawn at rtr ${took}s after be2's server died" no_route 192.0.2.10
check "(c) dns (the same backends, the same min_healthy) withdrawn too" no_route 192.0.2.53
pop_serve be2
pop_serve be3
took=$(wait_for 20 has_route 192.0.2.10) || true
check "(c) web announced again ${took}s after the servers came back (rise 2 x 300 ms, hold 1 s)" \
  has_route 192.0.2.10

# ---------------------------------------------------------------- (d)
echo "quit" >&"${HOLD[1]}" || true
wait "$HOLDER" 2>/dev/null || true
start_holder
line=$(hold "round before-drain 2 0.2")
log "(d) drain"
ctl drain >/dev/null
took=$(wait_for 10 no_route 192.0.2.10) || true
check "(d) anylbctl drain: web's route gone at rtr in ${took}s" no_route 192.0.2.10
check "(d) ... and dns's" no_route 192.0.2.53
line=$(hold "round drained 3 0.2")
sticky_all() {
  [ "$(field "$1" alive)" -eq "$HOLD_N" ] && [ "$(field "$1" changed)" -eq 0 ]
}
check "(d) drained: all $HOLD_N established connections still answered by their backend: $line" \
  sticky_all "$line"
ctl undrain >/dev/null
took=$(wait_for 10 has_route 192.0.2.10) || true
check "(d) anylbctl undrain: announced again in ${took}s" has_route 192.0.2.10

# ---------------------------------------------------------------- (e)
log "(e) a bad reload"
before=$(ctl backends)
cp "$W/lb.toml" "$W/lb.good"
sed -i 's/^table_size = 1009$/table_size = 1000/' "$W/lb.toml"
out=$(ctl reload 2>&1) && rc=0 || rc=$?
check "(e) reload refused (exit $rc): $out" [ "$rc" -ne 0 ]
check "(e) the refusal names file, line and field" grep -q "lb.toml:[0-9]*: vip 'web': table_size" <<<"$out"
after=$(ctl backends)
same_states() { [ "$(awk '{print $1, $2, $3, $4}' <<<"$1")" = "$(awk '{print $1, $2, $3, $4}' <<<"$2")" ]; }
check "(e) backends, weights and states unchanged" same_states "$before" "$after"
check "(e) routes unchanged" has_route 192.0.2.10
cp "$W/lb.good" "$W/lb.toml"

# ---------------------------------------------------------------- (f)
log "(f) anylbd restarted under a paced UDP stream"
restart_anylbd() {
  kill -TERM "$ANYLBD_PID"
  wait "$ANYLBD_PID" || true
  start_anylbd
  wait_for 20 has_route 192.0.2.53 >/dev/null || true
}
STREAM_AVOID=""
pop_check_stream "(f) restart: paced UDP stream across an anylbd stop and start" restart_anylbd
line=$(hold "round restarted 2 0.2")
check "(f) TCP connections alive on their backend after the restart: $line" sticky_all "$line"

# A reload that changes a setting the XDP program holds as a constant: a new
# program is loaded over the same maps and swapped in, flows kept.
log "(f) reload with new [timeouts] under a paced UDP stream"
prog_id() { inns lb ip -d link show dev "$LB_IF" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -n1; }
PROG_BEFORE=$(prog_id)
reload_timeouts() {
  sed -i 's/^udp = 60$/udp = 61/' "$W/lb.toml"
  grep -q '^udp = 61$' "$W/lb.toml" || { RELOAD_OUT="refused: [timeouts] udp not found in lb.toml"; return; }
  RELOAD_OUT=$(ctl reload 2>&1) || RELOAD_OUT="refused: $RELOAD_OUT"
}
pop_check_stream "(f) reload of [timeouts]: paced UDP stream across the program swap" reload_timeouts
PROG_AFTER=$(prog_id)
check "(f) reload of [timeouts] accepted with no restart note: $RELOAD_OUT" \
  bash -c '! grep -q -e refused -e restart <<<"$1"' _ "$RELOAD_OUT"
check "(f) reload of [timeouts] swapped in a new program (ids $PROG_BEFORE -> $PROG_AFTER)" \
  [ -n "$PROG_AFTER" -a "$PROG_AFTER" != "$PROG_BEFORE" ]
line=$(hold "round reloaded 2 0.2")
check "(f) TCP connections alive on their backend after the swap: $line" sticky_all "$line"
cp "$W/lb.good" "$W/lb.toml"

# ---------------------------------------------------------------- (g)
metrics=$(inns lb "$PY" -c "
import socket
s = socket.socket(socket.AF_UNIX); s.connect('$SOCK')
s.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'); d = b''
while True:
    c = s.recv(65536)
    if not c: break
    d += c
print(d.decode())")
check "(g) metrics: web announced" grep -q 'anylb_vip_announced{vip="web"} 1' <<<"$metrics"
check "(g) metrics: publication latency recorded" grep -q '^anylb_table_publish_seconds_count [1-9]' <<<"$metrics"
check "(g) metrics: packets counted per backend" grep -q '^anylb_backend_packets_total{vip="web",backend="10.77.11.2"} [1-9]' <<<"$metrics"
log "anylbctl status:"
ctl status | sed 's/^/    /'

log "done: $FAILS failed"
if [ "$FAILS" -ne 0 ]; then
  echo "FAIL: $FAILS check(s) failed"
  exit 1
fi
echo "PASS: all checks"
