#!/usr/bin/env bash
# Installs the Debian 12 packages anylb builds and tests with. Idempotent and
# quick when everything is present: apt runs only for what is missing.
set -euo pipefail

PACKAGES=(
  # build
  g++ meson ninja-build pkg-config python3
  # libraries (why each: docs/dependencies.md)
  libtomlplusplus-dev libcli11-dev libfmt-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # pcap files for replay
  libpcap-dev
  # sanitizers and libFuzzer; clang also builds the BPF program
  clang libclang-rt-14-dev
  # the XDP fast path: libbpf, skeletons; namespaces and tunnels for its tests
  libbpf-dev bpftool linux-libc-dev iproute2 procps
  # the control plane: admin API JSON, the BGP speaker its tests run
  nlohmann-json3-dev bird2
  # anylb-flowcheck's plots
  gnuplot-nox
  # the DPDK fast path (its PMDs come with it: net_af_packet, net_tap, net_pcap, net_ring, ...)
  libdpdk-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root (or install them) first" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Retry once: a fresh CI machine's first apt-get update can race its mirrors.
apt-get update -qq || { sleep 5; apt-get update -qq; }
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
