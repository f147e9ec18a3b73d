#!/usr/bin/env bash
# The main job on the embedded default config: install, build, then show the
# whole system. As root (namespaces, XDP): a PoP on this machine on the same
# config (scripts/pop.sh --config config/default.toml, the file embedded in
# the binaries: 3 LB nodes running anylbd behind a BIRD router with ECMP,
# backend hosts owning the config's backend addresses and answering its
# health checks; web, dns and web6 over IPv4 and IPv6), a few hundred flows
# checked through two scenarios with anylb-flowcheck, the summary and the
# plots, and everything torn down.
# Without root: the offline model, anylbctl pushing synthetic flows through
# the real decision function on the embedded default config.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [ -f build/build.ninja ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build >/dev/null
fi
ctl=./build/control/cli/anylbctl

run() {
  printf '\n$ anylbctl %s\n' "$*"
  "$ctl" "$@"
}

offline() {
  ninja -C build control/cli/anylbctl >/dev/null
  echo "anylb demo: the embedded default config (config/default.toml), offline"
  run validate
  # How 10,000 flows per VIP spread over the backends, and what removing one
  # backend moves: Maglev moves the removed backend's flows and almost nothing
  # else; with the flow table, established connections elsewhere stay put.
  run simulate --flows 10000 --remove 10.1.0.2
  # Draining: new connections avoid the backend, established ones stay on it.
  run simulate --flows 10000 --drain 10.2.0.1
  # Where single flows go, and why.
  run lookup tcp 198.51.100.7 40000 192.0.2.10 80
  run lookup udp 198.51.100.7 5353 192.0.2.53 53
}

if [ "$(id -u)" -ne 0 ]; then
  echo "anylb demo: not root, so no PoP (it needs network namespaces and XDP); the offline model instead"
  offline
  exit 0
fi

offline
echo
echo "anylb demo: building everything for the PoP"
ninja -C build >/dev/null
out=$PWD/demo-output
mkdir -p "$out"
for scenario in ecmp-shift backend-drain; do
  echo
  echo "anylb demo: scenario $scenario (300 flows) on a PoP of 3 LB nodes, the default config"
  # One CPU: XDP on veths runs where the sender runs, and flow tables are per CPU.
  taskset -c 0 scripts/pop.sh --config config/default.toml --lbs 3 -- \
    scripts/anylb-flowcheck --scenario "$scenario" --tcp 150 --udp 150 --duration 12 \
    --json "$out/$scenario.json" --plot "$out/$scenario"
done
echo
echo "anylb demo: reports and plots in $out/ (ecmp-shift.{json,png,svg}, backend-drain.{json,png,svg})"
