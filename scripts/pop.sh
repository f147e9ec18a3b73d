#!/usr/bin/env bash
# A whole anycast PoP on one machine, in network namespaces it names
# uniquely and removes on exit (even on failure):
#
#   cli (10.90.1.2-9) ── rtr (BIRD, ECMP over the LB nodes) ─┬─ lb1 .. lbN  (anylbd: XDP or DPDK; BIRD)
#                                                            └─ be1 .. beM  (decap, TCP/UDP servers)
#
# Every LB node runs the same config (same hash seed, same backends), as a
# real PoP does, and announces web 192.0.2.10:80/tcp (IPIP) and dns
# 192.0.2.53:53/udp (GUE) through its own BIRD; rtr spreads flows over the
# nodes with an L4 multipath hash. Backends decapsulate (in userspace: see
# tests/integration/itnet.py; this kernel has no ipip/fou), answer health
# checks on :8080, and reply to the client directly.
#
# Usage:
#   scripts/pop.sh [--lbs N] [--backends M] [--spare K] [--dataplane xdp|dpdk] -- COMMAND [ARGS...]
# (--dataplane dpdk: every LB node runs the DPDK driver inside anylbd, on its
# veth through net_af_packet, without hugepages)
# (--spare: K more backends, running but not in the config, to add later)
# builds the PoP, runs COMMAND (in the root namespace) with the PoP
# described in the environment, then tears it all down:
#   POP_NS      namespace prefix: "$POP_NS-cli", "$POP_NS-rtr", "$POP_NS-lb1", ...
#   POP_DIR     configs, logs, BIRD and anylbd sockets ($POP_DIR/lbI.sock)
#   POP_LBS, POP_BACKENDS (configured: be1..beM), POP_SPARE (beM+1.. running,
#   not configured), POP_ANYLBCTL, POP_HELPER (itnet.py), POP_PY
# For a look around: scripts/pop.sh -- bash
# Needs root, a build (build/, or $ANYLB_BUILD), bird, python3.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBS=3
BACKENDS=4
SPARE=0
DATAPLANE=xdp
while [ $# -gt 0 ]; do
  case "$1" in
    --dataplane) DATAPLANE=$2; shift 2 ;;
    --lbs) LBS=$2; shift 2 ;;
    --backends) BACKENDS=$2; shift 2 ;;
    --spare) SPARE=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: scripts/pop.sh [--lbs N] [--backends M] -- COMMAND..." >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "pop.sh: no command (try: scripts/pop.sh -- bash)" >&2; exit 2; }
[ "$LBS" -ge 1 ] && [ "$LBS" -le 8 ] || { echo "pop.sh: --lbs 1..8" >&2; exit 2; }
[ "$BACKENDS" -ge 1 ] && [ "$BACKENDS" -le 16 ] || { echo "pop.sh: --backends 1..16" >&2; exit 2; }
[ "$SPARE" -ge 0 ] && [ "$SPARE" -le 4 ] || { echo "pop.sh: --spare 0..4" >&2; exit 2; }
case "$DATAPLANE" in xdp | dpdk) ;; *) echo "pop.sh: --dataplane xdp|dpdk" >&2; exit 2 ;; esac
RUNNING=$((BACKENDS + SPARE))
[ "$(id -u)" -eq 0 ] || { echo "pop.sh: needs root (network namespaces, XDP)" >&2; exit 77; }

BUILD=${ANYLB_BUILD:-$ROOT/build}
ANYLBD=$BUILD/control/daemon/anylbd
ANYLBCTL=$BUILD/control/cli/anylbctl
PASS_OBJ=$BUILD/tests/integration/xdp_pass.bpf.o
HELPER=$ROOT/tests/integration/itnet.py
PY=${PYTHON3:-python3}
for f in "$ANYLBD" "$ANYLBCTL" "$PASS_OBJ"; do
  [ -e "$f" ] || { echo "pop.sh: $f missing: build first (meson setup build && ninja -C build)" >&2; exit 1; }
done
for t in bird ip "$PY"; do command -v "$t" >/dev/null || { echo "pop.sh: needs $t" >&2; exit 77; }; done

P="pop$$"
W="/run/anylb-pop-$$"
NODES=(rtr cli)
for ((i = 1; i <= LBS; i++)); do NODES+=("lb$i"); done
for ((j = 1; j <= RUNNING; j++)); do NODES+=("be$j"); done
PIDS=()
MOUNTS=()

ns() { echo "$P-$1"; }
inns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
say() { echo "pop: $*" >&2; }

teardown() {
  local rc=$?
  set +eu
  # anylbd withdraws, waits its shutdown grace (1 s), and exits.
  for ((i = 1; i <= LBS; i++)); do
    [ -s "$W/lb$i.pid" ] && kill -TERM "$(cat "$W/lb$i.pid")" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for ((k = 0; k < 40; k++)); do
    alive=0
    for ((i = 1; i <= LBS; i++)); do
      [ -s "$W/lb$i.pid" ] && kill -0 "$(cat "$W/lb$i.pid")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for n in "${NODES[@]}"; do
    [ -s "$W/$n-bird.pid" ] && kill "$(cat "$W/$n-bird.pid")" 2>/dev/null
    for pid in $(ip netns pids "$(ns "$n")" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$(ns "$n")" 2>/dev/null
  done
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
  if [ "$rc" -ne 0 ] && [ -d "$W" ]; then
    for f in "$W"/*.log; do [ -s "$f" ] && { echo "== $f" >&2; tail -n 5 "$f" >&2; }; done
  fi
  rm -rf "$W"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 143' TERM INT

mkdir -p "$W"
say "namespaces $P-{${NODES[*]// /,}}"
for n in "${NODES[@]}"; do
  ip netns add "$(ns "$n")"
  inns "$n" ip link set lo up
  inns "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done

# link RTR-IF NODE NET: rtr .1, node .2 (its eth0), default route via rtr
link() {
  ip link add "$1" netns "$(ns rtr)" type veth peer name eth0 netns "$(ns "$2")"
  inns rtr ip addr add "$3.1/24" dev "$1"
  inns "$2" ip addr add "$3.2/24" dev eth0
  inns rtr ip link set "$1" up
  inns "$2" ip link set eth0 up
  inns "$2" ip route add default via "$3.1"
}
link c0 cli 10.90.1
for a in 3 4 5 6 7 8 9; do inns cli ip addr add "10.90.1.$a/24" dev eth0; done  # more clients
for ((i = 1; i <= LBS; i++)); do link "l$i" "lb$i" "10.90.$((10 + i))"; done
for ((j = 1; j <= RUNNING; j++)); do link "b$j" "be$j" "10.90.$((100 + j))"; done
inns rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1

# The LB nodes' veths as a wire: checksums completed towards the node (an
# XDP program or an af_packet socket sees what the sender left to offload),
# and for XDP_TX a program on rtr's side (see tests/integration/xdp_pass.bpf.c).
for ((i = 1; i <= LBS; i++)); do
  [ "$DATAPLANE" = xdp ] && inns rtr ip link set dev "l$i" xdpdrv obj "$PASS_OBJ" sec xdp
  inns rtr "$PY" "$HELPER" ethtool "l$i" --tx-csum off
done

# ---- backends
SOURCES=()
for ((i = 1; i <= LBS; i++)); do SOURCES+=(--tunnel-source "10.90.$((10 + i)).2"); done
for ((j = 1; j <= RUNNING; j++)); do
  b=be$j
  inns "$b" ip addr add 192.0.2.10/32 dev lo
  inns "$b" ip addr add 192.0.2.53/32 dev lo
  inns "$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
  inns "$b" ip tuntap add dev dtun mode tun
  inns "$b" ip link set dtun up
  inns "$b" sysctl -qw net.ipv4.conf.dtun.rp_filter=0
  ip netns exec "$(ns "$b")" "$PY" "$HELPER" decap --tun dtun --v4 "10.90.$((100 + j)).2" "${SOURCES[@]}" \
    --gue-port 6080 --stats "$W/decap-$b.json" --ready "$W/decap-$b.ready" >"$W/decap-$b.log" 2>&1 &
  PIDS+=($!)
  ip netns exec "$(ns "$b")" "$PY" "$HELPER" serve --name "$b" --tcp 192.0.2.10:80 --udp 192.0.2.53:53 \
    --http "0.0.0.0:8080" --stats-port 9999 --ready "$W/serve-$b.ready" >"$W/serve-$b.log" 2>&1 &
  PIDS+=($!)
done
for ((j = 1; j <= RUNNING; j++)); do
  for f in "$W/decap-be$j.ready" "$W/serve-be$j.ready"; do
    for ((k = 0; k < 200; k++)); do [ -s "$f" ] && break; sleep 0.05; done
    [ -s "$f" ] || { echo "pop.sh: be$j did not start" >&2; exit 1; }
  done
done

# ---- BIRD: rtr peers with every LB node; each LB announces what anylbd enables
TIMERS="hold time 3; keepalive time 1; connect delay time 1; connect retry time 2; error wait time 1, 5;"
{
  echo "router id 10.90.1.1;"
  echo "protocol device { scan time 10; }"
  echo "protocol kernel kern4 { ipv4 { import none; export where source = RTS_BGP; }; merge paths on; }"
  for ((i = 1; i <= LBS; i++)); do
    echo "protocol bgp lb$i { local 10.90.$((10 + i)).1 as 65000; neighbor 10.90.$((10 + i)).2 as 65001; $TIMERS"
    echo "  ipv4 { import where net ~ [ 192.0.2.0/24{32,32} ]; export none; }; }"
  done
} >"$W/rtr-bird.conf"
inns rtr bird -c "$W/rtr-bird.conf" -s "$W/rtr-bird.ctl" -P "$W/rtr-bird.pid"

for ((i = 1; i <= LBS; i++)); do
  n=lb$i
  addr="10.90.$((10 + i)).2"
  cat >"$W/$n-bird.conf" <<EOF
router id $addr;
protocol device { scan time 10; }
protocol static anylb_web { disabled; ipv4; route 192.0.2.10/32 blackhole; }
protocol static anylb_dns { disabled; ipv4; route 192.0.2.53/32 blackhole; }
protocol bgp up { local $addr as 65001; neighbor 10.90.$((10 + i)).1 as 65000; $TIMERS
  ipv4 { import none; export where source = RTS_STATIC; }; }
EOF
  inns "$n" bird -c "$W/$n-bird.conf" -s "$W/$n-bird.ctl" -P "$W/$n-bird.pid"

  # The same VIPs, backends and seed on every node; only the node's own
  # name, gateway MAC, tunnel source and sockets differ.
  {
    cat <<EOF
[node]
name = "$n"
dataplane = "$DATAPLANE"
interface = "eth0"
gateway_mac = "$(inns rtr cat /sys/class/net/l$i/address)"
hash_seed = 0x5eed1e55
tunnel_source_v4 = "$addr"
flow_table_entries = 65536

[bgp]
speaker = "bird"
bird_socket = "$W/$n-bird.ctl"
announce_hold = "2s"
shutdown_grace = "1s"

[api]
socket = "$W/$n.sock"

[dpdk]
main_cpu = 0
worker_cpus = [$(( $(nproc) > 1 ? 1 : 0 ))]
hugepages = false
memory_mb = 128
mbufs = 4095
rx_descriptors = 512
tx_descriptors = 512

[[dpdk.port]]
device = "net_af_packet$i,iface=eth0"
EOF
    for vip in "web 192.0.2.10 80 tcp ipip" "dns 192.0.2.53 53 udp gue"; do
      read -r name address port proto encap <<<"$vip"
      printf '\n[[vip]]\nname = "%s"\naddress = "%s"\nport = %s\nprotocol = "%s"\nencap = "%s"\n' \
        "$name" "$address" "$port" "$proto" "$encap"
      printf 'table_size = 65537\nmin_healthy = 1\n\n[vip.health]\nkind = "http"\nport = 8080\n'
      printf 'interval = "500ms"\ntimeout = "300ms"\nrise = 2\nfall = 2\n'
      for ((j = 1; j <= BACKENDS; j++)); do
        printf '\n[[vip.backend]]\naddress = "10.90.%d.2"\n' $((100 + j))
      done
    done
  } >"$W/$n.toml"
  mkdir -p "$W/bpf-$i"
  mount -t bpf bpf "$W/bpf-$i"
  MOUNTS+=("$W/bpf-$i")
  # One CPU for every node: the per-CPU flow tables on a veth (see xdp_pop_test.sh).
  ip netns exec "$(ns "$n")" taskset -c 0 "$ANYLBD" --config "$W/$n.toml" --pin-root "$W/bpf-$i" \
    >"$W/$n.log" 2>&1 &
  echo $! >"$W/$n.pid"
  disown $!  # stopped by teardown; no job-control notice
done

# Ready when rtr has a path to web through every node.
for ((k = 0; k < 300; k++)); do
  paths=$(inns rtr ip route show 192.0.2.10/32 proto bird | grep -c "10.90." || true)
  [ "$paths" -ge "$LBS" ] && break
  sleep 0.1
done
[ "${paths:-0}" -ge "$LBS" ] || { echo "pop.sh: rtr has $paths of $LBS paths to 192.0.2.10" >&2; exit 1; }
say "up: $LBS LB nodes announcing, $BACKENDS backends; rtr: $(inns rtr ip route show 192.0.2.10/32 | tr -s ' \n' ' ')"

export POP_NS=$P POP_DIR=$W POP_LBS=$LBS POP_BACKENDS=$BACKENDS POP_SPARE=$SPARE POP_ANYLBCTL=$ANYLBCTL \
  POP_HELPER=$HELPER POP_PY=$PY
rc=0
"$@" || rc=$?
exit "$rc"
