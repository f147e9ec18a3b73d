#!/usr/bin/env bash
# The main job on the embedded default config: install, build, then show what
# the balancer does with it. Until the PoP demo exists this is the offline
# model: anylbctl pushes synthetic flows through the real decision function.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [ -f build/build.ninja ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build >/dev/null
fi
ninja -C build control/cli/anylbctl >/dev/null
ctl=./build/control/cli/anylbctl

run() {
  printf '\n$ anylbctl %s\n' "$*"
  "$ctl" "$@"
}

echo "anylb demo: the embedded default config (config/default.toml)"
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
run lookup tcp 2001:db8:ffff::7 40000 2001:db8::10 443
run lookup tcp 198.51.100.7 40000 192.0.2.99 22
