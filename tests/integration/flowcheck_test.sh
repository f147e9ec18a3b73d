#!/usr/bin/env bash
# anylb-flowcheck's scenarios 1, 3, 4 and 5 on the whole PoP (scripts/pop.sh:
# 3 LB nodes, 4 backends and a spare), with small flow counts, and scenario 1
# again on the PoP the demo runs: config/default.toml (the embedded default:
# web, dns and web6, IPv4 and IPv6 through the router). Asserts:
#   ecmp-shift, backend-drain, backend-add: every flow keeps its backend, no
#     TCP connection breaks, no UDP packet is lost; after backend-drain no new
#     flow goes to the drained be1, after backend-add some go to the new be5;
#   backend-fail: only flows that were on the failed backend (be1) move or
#     break, and new flows go to the others.
# Usage: flowcheck_test.sh   (meson: suite integration; root; exit 77 = skip)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PYTHON3:-python3}

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v bird >/dev/null || { echo "SKIP: needs bird"; exit 77; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

FAILS=0
for run in ecmp-shift backend-drain backend-fail backend-add ecmp-shift@default; do
  scenario=${run%@*}
  pop=(--backends 4 --spare 1)
  [ "$run" = "$scenario" ] || pop=(--config "$ROOT/config/default.toml")
  echo "== $run"
  # One CPU: the per-CPU XDP flow tables on veths (see xdp_pop_test.sh).
  if ! taskset -c 0 bash "$ROOT/scripts/pop.sh" --lbs 3 "${pop[@]}" -- \
      "$PY" "$ROOT/scripts/anylb-flowcheck" --scenario "$scenario" --tcp 40 --udp 40 \
      --interval 50 --duration 7 --json "$OUT/$run.json"; then
    echo "FAIL: $run: the run failed"
    FAILS=$((FAILS + 1))
    continue
  fi
  verdict=$("$PY" - "$OUT/$run.json" "$scenario" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
scenario = sys.argv[2]
after = r["phases"][1:]
problems = []
if r["phases"][0]["flows"] != r["tcp_flows"] + r["udp_flows"]:
    problems.append(f"only {r['phases'][0]['flows']} flows answered before the step")
silent = [v for v, n in r["answered_flows_by_vip"].items() if n == 0]
if silent:
    problems.append(f"no flow of {silent} answered")
for ph in after:
    if scenario == "backend-fail":
        for what in ("changed_from", "broken_from"):
            others = {b: n for b, n in ph[what].items() if b != "be1"}
            if others:
                problems.append(f"{ph['phase']}: flows on other backends {what.split('_')[0]}: {others}")
        if not ph["changed_from"] and not ph["broken_from"]:
            problems.append("be1 failed but none of its flows moved or broke")
        if set(r["new_flows_after_step"]) - {"be2", "be3", "be4"}:
            problems.append(f"new flows after be1 failed: {r['new_flows_after_step']}")
    else:
        if scenario == "backend-drain" and "be1" in r["new_flows_after_step"]:
            problems.append(f"new flows went to the drained be1: {r['new_flows_after_step']}")
        if scenario == "backend-add" and "be5" not in r["new_flows_after_step"]:
            problems.append(f"no new flow went to the added be5: {r['new_flows_after_step']}")
        if ph["changed"] or ph["tcp_broken"] or ph["udp_lost"]:
            problems.append(f"{ph['phase']}: changed {ph['changed']}, TCP broken {ph['tcp_broken']}, "
                            f"UDP lost {ph['udp_lost']}")
print("ok" if not problems else "; ".join(problems))
EOF
)
  if [ "$verdict" = ok ]; then echo "PASS: $run"; else echo "FAIL: $run: $verdict"; FAILS=$((FAILS + 1)); fi
done
if [ "$FAILS" -ne 0 ]; then echo "FAIL: $FAILS scenario(s)"; exit 1; fi
echo "PASS: all scenarios"
