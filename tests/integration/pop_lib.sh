# The PoP both integration tests build (sourced by xdp_pop_test.sh and
# dpdk_pop_test.sh), and the checks they share:
#
#   cli ── rtr ── lb    (the fast path under test, on lb's veth "$LB_IF")
#           ├──── be1
#           ├──── be2
#           └──── be3
#
# rtr routes the VIPs to lb. lb encapsulates each packet and sends it back
# out of its only interface to rtr's MAC (node.gateway_mac); rtr routes the
# outer packet to the backend. Each backend decapsulates, its server answers
# from the VIP, and the reply goes straight to the client (DSR).
#
# VIPs: web 192.0.2.10:80/tcp ipip (4in4), dns 192.0.2.53:53/udp gue (4in4 GUE),
# web6 [2001:db8::10]:80/tcp ipip (6in6), dns46 192.0.2.54:53/udp gue over IPv6
# (4in6 GUE, so the outer UDP checksum is checked by the backend's kernel).
#
# The sourcing script sets HELPER, PY, DECAP, P, W, LB_IF and defines
#   apply FILE      make FILE the fast path's config (first call: start it)
#   lb_cleanup      stop the fast path (called from the EXIT trap)
# and then calls pop_topology, pop_backends, pop_checks_abcd and pop_check_stream.

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "[$(elapsed)s] $*"; }
skip() { echo "SKIP: $*"; exit 77; }

NS=(rtr cli lb be1 be2 be3)
BES=(be1 be2 be3)
FAILS=0
PIDS=()
HOLDER=""

ns() { echo "$P-$1"; }
inns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

cleanup() {
  local rc=$?
  set +eu
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -d "$W" ]; then
    echo "---- logs (exit $rc) ----"
    for f in "$W"/*.log "$W"/*.json; do [ -s "$f" ] && { echo "== $f"; tail -n 20 "$f"; }; done
    if [ "${ANYLB_IT_KEEP:-0}" = 1 ]; then
      echo "ANYLB_IT_KEEP=1: leaving namespaces $P-* and $W"
      exit "$rc"
    fi
  fi
  if [ -n "$HOLDER" ]; then kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  declare -F lb_cleanup >/dev/null && lb_cleanup
  for n in "${NS[@]}"; do
    local name; name=$(ns "$n")
    # Anything still inside (it would keep the namespace alive) goes first.
    for pid in $(ip netns pids "$name" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$name" 2>/dev/null
  done
  if [ "${MOUNTED:-0}" = 1 ]; then umount "$BPF" 2>/dev/null; fi
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT  # a signal still runs cleanup (meson's timeout sends SIGTERM)

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() {  # check "description" CONDITION-COMMAND...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# field "k1=v1 k2=v2" k: the value, or 0 when absent
field() { local v; v=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n1); echo "${v:-0}"; }
wait_file() {  # wait_file PATH SECONDS
  local i
  for ((i = 0; i < $2 * 20; i++)); do [ -s "$1" ] && return 0; sleep 0.05; done
  return 1
}

pop_topology() {
  log "topology: namespaces $P-{${NS[*]// /,}}"
  for n in "${NS[@]}"; do
    ip netns add "$(ns "$n")"
    inns "$n" ip link set lo up
    inns "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
      net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  done

  # link NAME-IN-RTR PEER-NS NET4 NET6: rtr side .1 / ::1, peer side eth0 .2 / ::2
  link() {
    local rif=$1 peer=$2 n4=$3 n6=$4
    ip link add "$rif" netns "$(ns rtr)" type veth peer name "${5:-eth0}" netns "$(ns "$peer")"
    inns rtr ip addr add "$n4.1/24" dev "$rif"
    inns rtr ip -6 addr add "$n6::1/64" dev "$rif" nodad
    inns "$peer" ip addr add "$n4.2/24" dev "${5:-eth0}"
    inns "$peer" ip -6 addr add "$n6::2/64" dev "${5:-eth0}" nodad
    inns rtr ip link set "$rif" up
    inns "$peer" ip link set "${5:-eth0}" up
    inns "$peer" ip route add default via "$n4.1"
    inns "$peer" ip -6 route add default via "$n6::1"
}
link c0 cli 10.77.1 fd00:77:1
link l0 lb 10.77.2 fd00:77:2 "$LB_IF"
for i in 1 2 3; do link "b$i" "be$i" "10.77.1$i" "fd00:77:1$i"; done

inns rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
for v in 192.0.2.10 192.0.2.53 192.0.2.54; do inns rtr ip route add "$v/32" via 10.77.2.2; done
inns rtr ip -6 route add 2001:db8::/64 via fd00:77:2::2

LB4=10.77.2.2
LB6=fd00:77:2::2
GW_MAC=$(inns rtr cat /sys/class/net/l0/address)

}

# pop_serve BE: (re)starts BE's servers; SERVE_PID[BE] is their pid. With
# HEALTH_PORT set, they also answer HTTP health checks on it (every address,
# IPv4 and IPv6).
declare -A SERVE_PID
pop_serve() {
  local b=$1
  rm -f "$W/serve-$b.ready"
  ip netns exec "$(ns "$b")" timeout 300 "$PY" "$HELPER" serve --name "$b" --tcp 192.0.2.10:80 --tcp "[2001:db8::10]:80" \
    --udp 192.0.2.53:53 --udp 192.0.2.54:53 ${HEALTH_PORT:+--http "[::]:$HEALTH_PORT"} \
    --stats-port 9999 --ready "$W/serve-$b.ready" >>"$W/serve-$b.log" 2>&1 &
  SERVE_PID[$b]=$!
  PIDS+=($!)
}

pop_backends() {
  log "backends: decap=$DECAP, servers"
  for i in 1 2 3; do
    b=be$i
    inns "$b" ip addr add 192.0.2.10/32 dev lo
    inns "$b" ip addr add 192.0.2.53/32 dev lo
    inns "$b" ip addr add 192.0.2.54/32 dev lo
    inns "$b" ip -6 addr add 2001:db8::10/128 dev lo nodad
    inns "$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
    case "$DECAP" in
      user)
        inns "$b" ip tuntap add dev dtun mode tun
        inns "$b" ip link set dtun up
        inns "$b" sysctl -qw net.ipv4.conf.dtun.rp_filter=0
        # Started with ip netns exec itself (not through a function) so that $!
        # is the process that gets the signal: ip execs timeout, which passes
        # SIGTERM on to python.
        ip netns exec "$(ns "$b")" timeout 300 "$PY" "$HELPER" decap --tun dtun --v4 "10.77.1$i.2" --v6 "fd00:77:1$i::2" \
          --tunnel-source "$LB4" --tunnel-source "$LB6" --gue-port 6080 \
          --stats "$W/decap-$b.json" --ready "$W/decap-$b.ready" >"$W/decap-$b.log" 2>&1 &
        PIDS+=($!)
        ;;
      kernel)
        # Fallback tunnel devices take every IP-in-IP packet; fou hands GUE to them.
        if ! inns "$b" ip link show tunl0 >/dev/null 2>&1 || ! inns "$b" ip link show ip6tnl0 >/dev/null 2>&1; then
          skip "ANYLB_IT_DECAP=kernel: no ipip/ip6_tunnel in this kernel (no tunl0/ip6tnl0)"
        fi
        inns "$b" ip link set tunl0 up
        inns "$b" ip -6 tunnel change ip6tnl0 mode any
        inns "$b" ip link set ip6tnl0 up
        inns "$b" sysctl -qw net.ipv4.conf.tunl0.rp_filter=0
        inns "$b" ip fou add port 6080 gue || skip "ANYLB_IT_DECAP=kernel: no fou in this kernel"
        inns "$b" ip fou add port 6080 gue -6
        echo ready >"$W/decap-$b.ready"
        ;;
      *) echo "FAIL: ANYLB_IT_DECAP=$DECAP: not user or kernel"; exit 1 ;;
    esac
    pop_serve "$b"
  done
  for b in "${BES[@]}"; do
    wait_file "$W/decap-$b.ready" 10 || { echo "FAIL: $b decapsulator did not start"; exit 1; }
    wait_file "$W/serve-$b.ready" 10 || { echo "FAIL: $b servers did not start"; exit 1; }
  done
}

# write_config FILE STATE1 STATE2 STATE3: a state per backend, or "absent";
# node.dataplane is $DATAPLANE, and $CONFIG_EXTRA (tables) follows [timeouts];
# each VIP gets min_healthy = $MIN_HEALTHY (0) and $VIP_EXTRA after it.
write_config() {
  local f=$1; shift
  local states=("$@")
  cat >"$f" <<EOF
# Generated by tests/integration/pop_lib.sh
[node]
name = "it-lb"
dataplane = "$DATAPLANE"
interface = "$LB_IF"
gateway_mac = "$GW_MAC"
hash_seed = 0x5eed1e55
tunnel_source_v4 = "$LB4"
tunnel_source_v6 = "$LB6"
gue_port = 6080
mtu = 1500
flow_table_entries = 65536

[timeouts]
udp = 60
${CONFIG_EXTRA:-}
EOF
  local vip name addr port proto encap fam
  for vip in "web 192.0.2.10 80 tcp ipip 4" "dns 192.0.2.53 53 udp gue 4" \
    "web6 2001:db8::10 80 tcp ipip 6" "dns46 192.0.2.54 53 udp gue 6"; do
    read -r name addr port proto encap fam <<<"$vip"
    cat >>"$f" <<EOF

[[vip]]
name = "$name"
address = "$addr"
port = $port
protocol = "$proto"
encap = "$encap"
table_size = 1009
min_healthy = ${MIN_HEALTHY:-0}
${VIP_EXTRA:-}
EOF
    local i
    for i in 1 2 3; do
      local st=${states[$((i - 1))]}
      [ "$st" = absent ] && continue
      local baddr="10.77.1$i.2"
      [ "$fam" = 6 ] && baddr="fd00:77:1$i::2"
      printf '\n[[vip.backend]]\naddress = "%s"\nstate = "%s"\n' "$baddr" "$st" >>"$f"
    done
  done
}

stats_of() { inns "$1" "$PY" "$HELPER" stats 9999 || echo "stats-error"; }
client() { inns cli timeout 120 "$PY" "$HELPER" "$@" || echo "client-error rc=$?"; }
spread_ok() {  # spread_ok LINE N BACKEND...: all N answered, each named backend > 0
  local line=$1 n=$2; shift 2
  [ "$(field "$line" ok)" -eq "$n" ] && [ "$(field "$line" fail)" -eq 0 ] || return 1
  local b; for b in "$@"; do [ "$(field "$line" "$b")" -gt 0 ] || return 1; done
}

# hold "round TAG K INTERVAL": the holder coprocess's (HOLD) answer line.
hold() {
  local reply
  echo "$1" >&"${HOLD[1]}"
  if ! read -r -t 60 reply <&"${HOLD[0]}"; then echo "holder: no answer"; return 0; fi
  echo "$reply"
}

# Checks (a)-(d), the same for both fast paths; `apply` switches configs.
pop_checks_abcd() {
  # ---------------------------------------------------------------- (a)
  N=200
  log "(a) $N TCP connections and $N UDP requests per VIP"
  for spec in "tcp-burst 192.0.2.10 80 web" "udp-burst 192.0.2.53 53 dns" \
    "tcp-burst 2001:db8::10 80 web6" "udp-burst 192.0.2.54 53 dns46"; do
    read -r kind vip port name <<<"$spec"
    line=$(client "$kind" --vip "$vip" --port "$port" --count "$N")
    check "(a) $name ($kind, $N): every request answered, all three backends used: $line" \
      spread_ok "$line" "$N" be1 be2 be3
  done

  # ---------------------------------------------------------------- (b)
  HOLD_N=30
  log "(b) $HOLD_N long-lived TCP connections"
  coproc HOLD { exec ip netns exec "$(ns cli)" timeout 300 "$PY" "$HELPER" hold --vip 192.0.2.10 --port 80 --count "$HOLD_N" 2>&1; }
  HOLDER=$HOLD_PID  # bash unsets HOLD_PID when the coprocess ends
  read -r -t 60 ready <&"${HOLD[0]}" || ready="holder: no answer"
  log "holder: $ready"
  line=$(hold "round sticky 5 0.4")
  sticky_ok() {
    local l=$1
    [ "$(field "$l" alive)" -eq "$HOLD_N" ] && [ "$(field "$l" changed)" -eq 0 ] || return 1
    local b; for b in "${BES[@]}"; do
      [ "$(field "$l" "same_$b")" -eq "$(field "$l" "init_$b")" ] || return 1
    done
    [ "$(field "$l" init_be2)" -gt 0 ] && [ "$(field "$l" init_be3)" -gt 0 ]
}
check "(b) stickiness: 5 messages on each of $HOLD_N connections, each answered by its first backend: $line" \
  sticky_ok "$line"
INIT_BE1=$(field "$line" init_be1)
INIT_BE2=$(field "$line" init_be2)
INIT_BE3=$(field "$line" init_be3)

# ---------------------------------------------------------------- (c)
log "(c) drain be2"
apply "$W/drain-be2.toml"
line=$(hold "round drain 3 0.3")
check "(c) draining: be2's $INIT_BE2 open connections still answered by be2, none moved: $line" \
  sticky_ok "$line"
none_from() {  # none_from LINE N BACKEND [OTHERS...]: all answered, none from BACKEND, others used
  local l=$1 n=$2 b=$3; shift 3
  spread_ok "$l" "$n" "$@" && [ "$(field "$l" "$b")" -eq 0 ]
}
# New flows from source ports no earlier phase used: a reused ephemeral port
# would be an old flow to the balancer, and old flows may stay on be2.
line=$(client tcp-burst --vip 192.0.2.10 --port 80 --count 100 --sport-base 20000)
check "(c) draining: 100 new TCP connections, none to be2: $line" none_from "$line" 100 be2 be1 be3
line=$(client udp-burst --vip 192.0.2.53 --port 53 --count 100 --sport-base 20000)
check "(c) draining: 100 new UDP flows, none to be2: $line" none_from "$line" 100 be2 be1 be3

# ---------------------------------------------------------------- (d)
log "(d) remove be3 (be2 active again)"
before=$(stats_of be3)
apply "$W/remove-be3.toml"
line=$(client tcp-burst --vip 192.0.2.10 --port 80 --count 100 --sport-base 21000)
check "(d) removal: 100 new TCP connections, none to be3: $line" none_from "$line" 100 be3 be1 be2
line=$(client udp-burst --vip 192.0.2.53 --port 53 --count 100 --sport-base 21000)
check "(d) removal: 100 new UDP flows, none to be3: $line" none_from "$line" 100 be3 be1 be2
after=$(stats_of be3)
check "(d) removal: be3's servers saw nothing new ($before -> $after)" [ "$before" = "$after" ]
line=$(hold "round removed 2 0.2")
removed_ok() {
  local l=$1
  [ "$(field "$l" changed)" -eq 0 ] &&
    [ "$(field "$l" same_be1)" -eq "$INIT_BE1" ] && [ "$(field "$l" same_be2)" -eq "$INIT_BE2" ] &&
    [ "$(field "$l" dead_be3)" -eq "$INIT_BE3" ] && [ "$(field "$l" dead)" -eq "$INIT_BE3" ]
}
check "(d) removal: connections on be1/be2 kept; be3's $INIT_BE3 rescheduled away (reset by their new backend): $line" \
  removed_ok "$line"
}

# pop_check_stream DESCRIPTION ACTION...: a paced UDP stream of 32 flows to
# dns runs while ACTION runs; nothing may be lost or malformed, no flow may
# change backend, and none may be on $STREAM_AVOID (default be3; empty: any).
pop_check_stream() {
  local what=$1; shift
  rm -f "$W/stream.started" "$W/stream.stop"
  ip netns exec "$(ns cli)" timeout 120 "$PY" "$HELPER" udp-stream --vip 192.0.2.53 --port 53 --min-count 2000 \
    --interval-ms 1 --flows 32 --timeout 2 --started "$W/stream.started" --stop-file "$W/stream.stop" \
    >"$W/stream.out" 2>"$W/stream.log" &
  local stream_pid=$!
  PIDS+=("$stream_pid")
  wait_file "$W/stream.started" 20 || { echo "FAIL: UDP stream did not start"; exit 1; }
  sleep 0.3
  "$@"
  sleep 0.3
  touch "$W/stream.stop"
  wait "$stream_pid" || true
  line=$(cat "$W/stream.out")
  stream_ok() {
    local l=$1
    [ "$(field "$l" sent)" -ge 2000 ] && [ "$(field "$l" lost)" -eq 0 ] && [ "$(field "$l" bad)" -eq 0 ] &&
      [ "$(field "$l" send_errors)" -eq 0 ] && [ "$(field "$l" flows_changed)" -eq 0 ] &&
      { [ -z "${STREAM_AVOID-be3}" ] || [ "$(field "$l" "flows_${STREAM_AVOID-be3}")" -eq 0 ]; } &&
      [ "$(field "$l" stop_seen)" -eq 1 ]
  }
  check "$what: nothing lost, no flow moved: $line" stream_ok "$line"
}

# pop_bpffs: a bpffs of the test's own at $BPF for the XDP pins (`ip netns
# exec` remounts /sys, so /sys/fs/bpf is not shared); unmounted by cleanup.
MOUNTED=0
pop_bpffs() {
  mkdir -p "$W" "$BPF"
  mount -t bpf bpf "$BPF" || skip "cannot mount a bpf filesystem at $BPF"
  MOUNTED=1
}

# pop_xdp_detach: detaches lb's program and removes its pins (for lb_cleanup).
pop_xdp_detach() {
  if [ "$MOUNTED" = 1 ]; then
    ip netns exec "$(ns lb)" "$ANYLBCTL" xdp stop -i "$LB_IF" --pin-root "$BPF" >/dev/null 2>&1
  fi
}

# pop_xdp_wire: rtr's side of lb's veth made ready for an XDP program on lb.
pop_xdp_wire() {
  # rtr's side of lb's veth must take XDP_TX frames: a program of its own (see
  # xdp_pass.bpf.c; `gro on` is not enough), and checksums completed on the way
  # to lb, as a real wire would deliver them (XDP frames carry no
  # CHECKSUM_PARTIAL state: a forwarded packet whose checksum the sender left to
  # offload would reach the backend with a bad inner checksum).
  PASS_OBJ=${ANYLB_IT_XDP_PASS:-}
  if [ -z "$PASS_OBJ" ] || [ ! -s "$PASS_OBJ" ]; then
    PASS_OBJ="$W/xdp_pass.bpf.o"
    clang -O2 -target bpf "-I/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)" \
      -c "$HERE/xdp_pass.bpf.c" -o "$PASS_OBJ" || { echo "FAIL: cannot compile xdp_pass.bpf.c"; exit 1; }
  fi
  if ! out=$(inns rtr ip link set dev l0 xdpdrv obj "$PASS_OBJ" sec xdp 2>&1); then
    grep -qiE "not supported|EOPNOTSUPP" <<<"$out" && skip "native XDP on veth not supported: $out"
    echo "FAIL: attach XDP_PASS to rtr's l0: $out"; exit 1
  fi
  inns rtr "$PY" "$HELPER" ethtool l0 --tx-csum off
}
