#!/usr/bin/env bash
# Runs every benchmark (core, XDP, DPDK, table publication) and regenerates
# the generated section of docs/performance.md (between the bench.sh
# markers; the hand-written analysis around it stays) and its plot,
# docs/img/performance.{png,svg}. Progress goes to the terminal.
#
# Usage: scripts/bench.sh [--short]     (root for XDP and DPDK; one build at a time)
#   --short   the benchmarks' short settings (a minute or two instead of ~10)
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=""
[ "${1:-}" = "--short" ] && SHORT=1

scripts/install-deps.sh
if [ -f build/build.ninja ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
echo "bench: building"
ninja -C build >/dev/null

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
step() { echo "bench: [$1/5] $2"; }

step 1 "core (Google Benchmark, pinned to CPU 1)"
taskset -c 1 ./build/bench/anylb-bench-core \
  --benchmark_filter='DecideEstablished/v4|DecideBurstEstablished/v4|DecideNewFlow|DecidePass|FlowTable' \
  --benchmark_min_time=${SHORT:+0.05}${SHORT:-0.3} --benchmark_format=json >"$OUT/core.json" 2>/dev/null

if [ "$(id -u)" -eq 0 ]; then
  step 2 "XDP (BPF_PROG_TEST_RUN and live through a veth; 2-4 minutes)"
  ./build/bench/xdp/anylb-bench-xdp ${SHORT:+--short} --live >"$OUT/xdp.txt" 2>&1 || echo "bench: XDP failed (see above)"
  step 3 "DPDK (in-process ring loop)"
  if [ "$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)" -lt 128 ]; then
    echo 512 >/proc/sys/vm/nr_hugepages 2>/dev/null || true
  fi
  ./build/bench/dpdk/anylb-bench-dpdk ${SHORT:+--short} 2>/dev/null | grep -v '^EAL' >"$OUT/dpdk.txt" || echo "bench: DPDK failed"
  step 4 "table publication at 1,000 backends (XDP maps)"
  ./build/bench/anylb-bench-publish --xdp >"$OUT/publish.txt" 2>&1 || true
else
  echo "bench: not root: XDP and DPDK skipped"
  step 4 "table publication at 1,000 backends (memory)"
  ./build/bench/anylb-bench-publish >"$OUT/publish.txt" 2>&1 || true
fi

step 5 "report: docs/performance.md (generated section), docs/img/performance.{png,svg}"
mkdir -p docs/img
python3 - "$OUT" "${SHORT:-}" <<'EOF'
import json, os, platform, re, subprocess, sys, datetime
out, short = sys.argv[1], sys.argv[2]

def read(name):
    p = os.path.join(out, name)
    return open(p).read() if os.path.exists(p) else ""

rows = []  # (path, case, ns_per_pkt, mpps, floor_or_ratio note)
# core: per-item time of the decide benchmarks
try:
    core = json.loads(read("core.json") or "{}")
except json.JSONDecodeError:
    core = {}
for b in core.get("benchmarks", []):
    name = b["name"].replace("BM_", "")
    ns = b["real_time"] if b.get("time_unit") == "ns" else b["real_time"] * 1000
    items = b.get("items_per_second")
    if "Burst" in name:
        ns = ns / 32
    keep = ("DecideEstablished/v4/flows:256", "DecideEstablished/v4/flows:65536",
            "DecideBurstEstablished/v4/flows:4096", "DecideBurstEstablished/v4/flows:65536",
            "DecideNewFlow/pkts_per_ms:1024", "DecidePass")
    if any(name.startswith(k) for k in keep):
        rows.append(("core", name, ns, (items or 1e9 / ns) / 1e6,
                     "bursts of 32" if "Burst" in name else "one frame at a time"))

# XDP: net ns per case for anylb and, once, for the ipip floor; first the
# repeat=1 regime, then the hot loop (repeat behind the restore program).
XDP_CASES = {"a": "established TCP (flow-table hit), IPIP", "b": "new TCP flows, free ways",
             "b'": "new TCP flows, table filled first (most inserts evict)",
             "c": "established UDP, GUE", "d": "not a VIP (XDP_PASS)"}

def xdp_rows(text, case_re, row_re, path, floor_path):
    case = None
    for line in text.splitlines():
        m = re.match(case_re, line)
        if m:
            case = XDP_CASES[m.group(1)]
            continue
        m = re.match(row_re, line)
        if m and case:
            ns, mpps, ratio = (float(x) for x in m.group(2, 3, 4))
            if m.group(1) == "anylb":
                rows.append((path, case, ns, mpps, f"{ratio:.1f}x the ipip floor"))
            elif case.startswith("established TCP"):  # the floors, once
                rows.append((floor_path, m.group(1), ns, mpps, "same frames, same run"))

xdp = read("xdp.txt")
xdp_rows(xdp, r"^\((a|b|b'|c|d)\) ",
         r"^\s+(anylb|ipip control|macswap XDP_TX)\s+[\d.]+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)",
         "XDP", "XDP floor")
hot = xdp.split("\nhot loop:", 1)[1] if "\nhot loop:" in xdp else ""
xdp_rows(hot, r"^\s+\((a|b|b'|c|d)\) ",
         r"^\s+(anylb|ipip control)\s+([\d.]+) ns net\s+([\d.]+) Mpps\s+([\d.]+)x",
         "XDP hot loop", "XDP hot-loop floor")
live = re.findall(r"^\s+(anylb|ipip control)\s+([\d.]+) Mpps", xdp, re.M)
ratio = re.search(r"chunk by chunk: median ([\d.]+)", xdp)
for prog, mpps in live:
    note = "veth, BPF_F_TEST_XDP_LIVE_FRAMES"
    if prog == "anylb" and ratio:
        note += f"; {ratio.group(1)}x the control's Mpps (median of paired chunks)"
    rows.append(("XDP live", prog, 1e3 / float(mpps), float(mpps), note))

# DPDK
dpdk = read("dpdk.txt")
case = None
for line in dpdk.splitlines():
    m = re.match(r"^\s+(established|new flows|not a VIP)?\s+(driver|io-forward|core alone)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", line)
    if m:
        case = m.group(1) or case
        cycles, mpps = float(m.group(3)), float(m.group(4))
        rows.append(("DPDK " + m.group(2), case, 1e3 / mpps, mpps, f"{cycles:.0f} cycles"))
pub = read("publish.txt")
m = re.search(r"check result -> live\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", pub)

cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
lines = ["<!-- bench.sh: begin (generated by scripts/bench.sh; edits here are overwritten) -->",
         "## Latest run of scripts/bench.sh", "",
         f"{datetime.date.today()}, {cpu}, {os.cpu_count()} CPUs, kernel {platform.release()}"
         + (", short settings" if short else "") + ".", "",
         "| path | case | ns/packet | Mpps | note |", "|---|---|---:|---:|---|"]
for path, case, ns, mpps, note in rows:
    lines.append(f"| {path} | {case} | {ns:.1f} | {mpps:.2f} | {note} |")
if m:
    lines += ["", f"Health change to live tables at 1,000 backends: median {m.group(1)} ms, "
                  f"p90 {m.group(2)} ms, max {m.group(3)} ms."]
lines += ["", "![ns per packet by path and case](img/performance.png)", "",
          "<!-- bench.sh: end -->"]
section = "\n".join(lines) + "\n"

doc = open("docs/performance.md").read()
begin, end = "<!-- bench.sh: begin", "<!-- bench.sh: end -->\n"
if begin in doc:
    i = doc.index(begin)
    j = doc.index(end, i) + len(end)
    doc = doc[:i] + section + doc[j:]
else:
    doc = doc.rstrip("\n") + "\n\n" + section
open("docs/performance.md", "w").write(doc)

with open(os.path.join(out, "plot.dat"), "w") as f:
    for path, case, ns, mpps, note in rows:
        label = f"{path}: {case}"[:48].replace('"', "'")
        f.write(f'"{label}" {ns:.1f}\n')
for term, ext in (("pngcairo size 1100,700", "png"), ("svg size 1100,700", "svg")):
    script = (f"set terminal {term}\nset output 'docs/img/performance.{ext}'\n"
              "set termoption noenhanced\nset style fill solid 0.8\nset boxwidth 0.7\n"
              "set xtics rotate by -50 font ',8'\nset bmargin 14\n"
              "set ylabel 'ns per packet (log)'\nset logscale y\nset grid ytics\n"
              "set title 'anylb: ns per packet by path and case'\nunset key\n"
              f"plot '{out}/plot.dat' using 0:2:xtic(1) with boxes\n")
    subprocess.run(["gnuplot"], input=script.encode(), check=False)
print(f"bench: {len(rows)} figures written")
EOF
echo "bench: done: docs/performance.md (section 'Latest run of scripts/bench.sh'), docs/img/performance.png"
