#!/usr/bin/env bash
# A whole anycast PoP on one machine, in network namespaces it names
# uniquely and removes on exit (even on failure):
#
#   cli (10.90.1.2-9, fd00:90:1::2-9) ── rtr (BIRD, ECMP) ─┬─ lb1 .. lbN  (anylbd: XDP or DPDK; BIRD)
#                                                          └─ be1 .. beM  (decap, TCP/UDP servers)
#
# Every LB node runs the same config (same hash seed, VIPs, backends and
# health checks), as a real PoP does, and announces its VIPs through its own
# BIRD, IPv4 and IPv6; rtr spreads flows over the nodes with an L4 multipath
# hash. Backend hosts own the config's backend addresses, hold the VIPs on
# lo, decapsulate, answer the config's health checks, and reply to the
# client directly. scripts/pop-plan turns the config into the PoP's files.
#
# Usage:
#   scripts/pop.sh [--config FILE] [--lbs N] [--backends M] [--spare K]
#                  [--dataplane xdp|dpdk] [--decap user|kernel] -- COMMAND [ARGS...]
# (--config: an anylb config, e.g. config/default.toml, the embedded default;
# without it, a built-in one: web 192.0.2.10:80/tcp over IPIP and dns
# 192.0.2.53:53/udp over GUE on M backends (--backends), health on :8080)
# (--dataplane dpdk: every LB node runs the DPDK driver inside anylbd, on its
# veth through net_af_packet, without hugepages)
# (--spare: K more backend hosts, running but not in the config, to add later)
# (--decap: how backends decapsulate IPIP, IPv6-in-IPv6 and GUE. user (the
# default): tests/integration/itnet.py through a TUN device, which works on
# any kernel, this machine's included (no ipip, ip6_tunnel or fou modules);
# kernel: the kernel's fallback tunnels tunl0 and ip6tnl0, and fou for GUE)
# builds the PoP, runs COMMAND (in the root namespace) with the PoP
# described in the environment, then tears it all down:
#   POP_NS      namespace prefix: "$POP_NS-cli", "$POP_NS-rtr", "$POP_NS-lb1", ...
#   POP_DIR     configs, logs, BIRD and anylbd sockets ($POP_DIR/lbI.sock), and
#               pop.json: the VIPs, and each backend host's address per VIP
#   POP_LBS, POP_BACKENDS (configured hosts: be1..beM), POP_SPARE (beM+1..
#   running, not configured), POP_ANYLBCTL, POP_HELPER (itnet.py), POP_PY
# For a look around: scripts/pop.sh -- bash
# Needs root, a build (build/, or $ANYLB_BUILD), bird, python3.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBS=3
BACKENDS=4
SPARE=0
DATAPLANE=xdp
CONFIG=
DECAP=user
while [ $# -gt 0 ]; do
  case "$1" in
    --decap) DECAP=$2; shift 2 ;;
    --config) CONFIG=$(realpath "$2"); shift 2 ;;
    --dataplane) DATAPLANE=$2; shift 2 ;;
    --lbs) LBS=$2; shift 2 ;;
    --backends) BACKENDS=$2; shift 2 ;;
    --spare) SPARE=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: scripts/pop.sh [--config FILE] [--lbs N] [--backends M] [--spare K] [--dataplane xdp|dpdk] [--decap user|kernel] -- COMMAND..." >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "pop.sh: no command (try: scripts/pop.sh -- bash)" >&2; exit 2; }
[ "$LBS" -ge 1 ] && [ "$LBS" -le 8 ] || { echo "pop.sh: --lbs 1..8" >&2; exit 2; }
[ "$BACKENDS" -ge 1 ] && [ "$BACKENDS" -le 16 ] || { echo "pop.sh: --backends 1..16" >&2; exit 2; }
[ "$SPARE" -ge 0 ] && [ "$SPARE" -le 4 ] || { echo "pop.sh: --spare 0..4" >&2; exit 2; }
case "$DATAPLANE" in xdp | dpdk) ;; *) echo "pop.sh: --dataplane xdp|dpdk" >&2; exit 2 ;; esac
case "$DECAP" in user | kernel) ;; *) echo "pop.sh: --decap user|kernel" >&2; exit 2 ;; esac
[ -z "$CONFIG" ] || [ -r "$CONFIG" ] || { echo "pop.sh: --config $CONFIG: not readable" >&2; exit 2; }
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
[ "$DECAP" = kernel ] && { modprobe -q -a ipip ip6_tunnel fou 2>/dev/null || true; }

P="pop$$"
W="/run/anylb-pop-$$"
PIDS=()
MOUNTS=()
NODES=()

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

# A config anylbd would refuse is refused here, with anylbctl's message.
if [ -n "$CONFIG" ] && ! "$ANYLBCTL" validate -c "$CONFIG" >/dev/null; then
  echo "pop.sh: --config $CONFIG: not a valid anylb config (see above)" >&2
  exit 2
fi
mkdir -p "$W"
# rtr's MAC towards node i is fixed, so the plan (the nodes' gateway_mac)
# can be made before the links exist.
rtr_mac() { printf '02:90:0a:00:00:%02x' "$1"; }
MACS=$(for ((i = 1; i <= LBS; i++)); do rtr_mac "$i"; echo; done | paste -sd,)
PLAN=$("$PY" "$ROOT/scripts/pop-plan" ${CONFIG:+--config "$CONFIG"} --lbs "$LBS" --backends "$BACKENDS" \
  --spare "$SPARE" --dataplane "$DATAPLANE" --dir "$W" --gateway-macs "$MACS" \
  --worker-cpu $(($(nproc) > 1 ? 1 : 0)))
HOSTS=()      # be1 ..
declare -A V4 V6
BACKENDS=0
SPARE=0
while read -r _ name _ v4 v6 configured; do
  HOSTS+=("$name")
  V4[$name]=${v4//-/}
  V6[$name]=${v6//-/}
  if [ "$configured" = 1 ]; then BACKENDS=$((BACKENDS + 1)); else SPARE=$((SPARE + 1)); fi
done <<<"$PLAN"

NODES=(rtr cli)
for ((i = 1; i <= LBS; i++)); do NODES+=("lb$i"); done
NODES+=("${HOSTS[@]}")
say "namespaces $P-{${NODES[*]// /,}}"
for n in "${NODES[@]}"; do
  ip netns add "$(ns "$n")"
  inns "$n" ip link set lo up
  inns "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  inns "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
done

# link RTR-IF NODE NET4 NET6 [MAC]: rtr .1 / ::1, node .2 / ::2 (its eth0),
# default routes via rtr. nodad: addresses usable at once.
link() {
  ip link add "$1" ${5:+address "$5"} netns "$(ns rtr)" type veth peer name eth0 netns "$(ns "$2")"
  inns rtr ip addr add "$3.1/24" dev "$1"
  inns rtr ip -6 addr add "$4:1/64" dev "$1" nodad
  inns "$2" ip addr add "$3.2/24" dev eth0
  inns "$2" ip -6 addr add "$4:2/64" dev eth0 nodad
  inns rtr ip link set "$1" up
  inns "$2" ip link set eth0 up
  inns "$2" ip route add default via "$3.1"
  inns "$2" ip -6 route add default via "$4:1"
}
link c0 cli 10.90.1 fd00:90:1:
for a in 3 4 5 6 7 8 9; do  # more clients
  inns cli ip addr add "10.90.1.$a/24" dev eth0
  inns cli ip -6 addr add "fd00:90:1::$a/64" dev eth0 nodad
done
for ((i = 1; i <= LBS; i++)); do link "l$i" "lb$i" "10.90.$((10 + i))" "fd00:90:$((10 + i)):" "$(rtr_mac "$i")"; done
for ((j = 1; j <= ${#HOSTS[@]}; j++)); do link "b$j" "be$j" "10.90.$((100 + j))" "fd00:90:$((100 + j)):"; done
inns rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
  net.ipv6.conf.all.forwarding=1 net.ipv6.fib_multipath_hash_policy=1

# The LB nodes' veths as a wire: checksums completed towards the node (an
# XDP program or an af_packet socket sees what the sender left to offload),
# and for XDP_TX a program on rtr's side (see tests/integration/xdp_pass.bpf.c).
for ((i = 1; i <= LBS; i++)); do
  [ "$DATAPLANE" = xdp ] && inns rtr ip link set dev "l$i" xdpdrv obj "$PASS_OBJ" sec xdp
  inns rtr "$PY" "$HELPER" ethtool "l$i" --tx-csum off
done

# ---- backend hosts: their backend addresses (routed by rtr), the VIPs on lo
for ((j = 1; j <= ${#HOSTS[@]}; j++)); do
  b=be$j
  for x in ${V4[$b]//,/ }; do
    [ "$x" = "10.90.$((100 + j)).2" ] && continue
    inns "$b" ip addr add "$x/32" dev eth0
    inns rtr ip route add "$x/32" via "10.90.$((100 + j)).2"
  done
  for x in ${V6[$b]//,/ }; do
    inns "$b" ip -6 addr add "$x/128" dev eth0 nodad
    inns rtr ip -6 route add "$x/128" via "fd00:90:$((100 + j))::2"
  done
  "$PY" - "$W/pop.json" <<'EOF' | while read -r vip; do inns "$b" ip addr add "$vip" dev lo; done
import json, sys
for v in json.load(open(sys.argv[1]))["vips"]:
    print(v["address"] + ("/32" if v["family"] == 4 else "/128"))
EOF
  inns "$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
  mapfile -t decap <"$W/$b.decap"
  mapfile -t serve <"$W/$b.serve"
  if [ "$DECAP" = kernel ]; then
    # The fallback devices take every IP-in-IP packet to the host; fou hands
    # GUE (variant 1: the inner packet right after the UDP header) to them.
    if ! inns "$b" ip link show tunl0 >/dev/null 2>&1 || ! inns "$b" ip link show ip6tnl0 >/dev/null 2>&1; then
      echo "pop.sh: --decap kernel: no tunl0/ip6tnl0 in the namespace (a kernel without ipip/ip6_tunnel," \
        "or net.core.fb_tunnels_only_for_init_net set); use --decap user" >&2
      exit 77
    fi
    inns "$b" ip link set tunl0 up
    inns "$b" ip -6 tunnel change ip6tnl0 mode any
    inns "$b" ip link set ip6tnl0 up
    inns "$b" sysctl -qw net.ipv4.conf.tunl0.rp_filter=0
    if grep -q '"encap": "gue"' "$W/pop.json"; then
      gue_port=${decap[1]}  # pop-plan writes --gue-port PORT first
      inns "$b" ip fou add port "$gue_port" gue 2>/dev/null ||
        { echo "pop.sh: --decap kernel: no fou in this kernel (GUE VIPs); use --decap user" >&2; exit 77; }
      inns "$b" ip fou add port "$gue_port" gue -6
    fi
    echo ready >"$W/decap-$b.ready"
  else
    inns "$b" ip tuntap add dev dtun mode tun
    inns "$b" ip link set dtun up
    inns "$b" sysctl -qw net.ipv4.conf.dtun.rp_filter=0
    ip netns exec "$(ns "$b")" "$PY" "$HELPER" decap --tun dtun "${decap[@]}" \
      --stats "$W/decap-$b.json" --ready "$W/decap-$b.ready" >"$W/decap-$b.log" 2>&1 &
    PIDS+=($!)
  fi
  ip netns exec "$(ns "$b")" "$PY" "$HELPER" serve "${serve[@]}" \
    --stats-port 9999 --ready "$W/serve-$b.ready" >"$W/serve-$b.log" 2>&1 &
  PIDS+=($!)
done
for ((j = 1; j <= ${#HOSTS[@]}; j++)); do
  for f in "$W/decap-be$j.ready" "$W/serve-be$j.ready"; do
    for ((k = 0; k < 200; k++)); do [ -s "$f" ] && break; sleep 0.05; done
    [ -s "$f" ] || { echo "pop.sh: be$j did not start" >&2; exit 1; }
  done
done

# ---- BIRD on rtr and on every node; anylbd beside each node's BIRD
inns rtr bird -c "$W/rtr-bird.conf" -s "$W/rtr-bird.ctl" -P "$W/rtr-bird.pid"
for ((i = 1; i <= LBS; i++)); do
  n=lb$i
  inns "$n" bird -c "$W/$n-bird.conf" -s "$W/$n-bird.ctl" -P "$W/$n-bird.pid"
  mkdir -p "$W/bpf-$i"
  mount -t bpf bpf "$W/bpf-$i"
  MOUNTS+=("$W/bpf-$i")
  # One CPU for every node: the per-CPU flow tables on a veth (see xdp_pop_test.sh).
  ip netns exec "$(ns "$n")" taskset -c 0 "$ANYLBD" --config "$W/$n.toml" --pin-root "$W/bpf-$i" \
    >"$W/$n.log" 2>&1 &
  echo $! >"$W/$n.pid"
  disown $!  # stopped by teardown; no job-control notice
done

# Ready when rtr has a path to every VIP through every node (a VIP is
# announced once min_healthy of its backends passed their checks).
mapfile -t VIPS < <("$PY" -c 'import json,sys; [print(v["address"]) for v in json.load(open(sys.argv[1]))["vips"]]' "$W/pop.json")
for vip in "${VIPS[@]}"; do
  for ((k = 0; k < 400; k++)); do
    fam=-4
    [[ $vip == *:* ]] && fam=-6
    paths=$(inns rtr ip "$fam" route show "$vip" proto bird | grep -c "via" || true)
    [ "$paths" -ge "$LBS" ] && break
    sleep 0.1
  done
  [ "${paths:-0}" -ge "$LBS" ] || { echo "pop.sh: rtr has $paths of $LBS paths to $vip" >&2; exit 1; }
done
say "up: $LBS LB nodes announcing ${VIPS[*]}; backend hosts ${HOSTS[*]} ($BACKENDS configured, $SPARE spare, $DECAP decap); config ${CONFIG:-built-in}"

export POP_NS=$P POP_DIR=$W POP_LBS=$LBS POP_BACKENDS=$BACKENDS POP_SPARE=$SPARE POP_ANYLBCTL=$ANYLBCTL \
  POP_HELPER=$HELPER POP_PY=$PY
rc=0
"$@" || rc=$?
exit "$rc"
