#!/usr/bin/env bash
# One 5k x 10/s run per server with a packet capture of 1 in 50 connections (those whose client
# port is a multiple of 50), then wiretime.py on each capture. Needs tcpdump and root. Server on
# CPU 0, generator and tcpdump on CPU 1; UNPINNED=1 pins none of them.
# Usage: [PULSE_BIN=…] [TARGETS="pulse node"] [UNPINNED=1] bench/experiments/wiretime.sh OUTDIR [sdk|sioc]
set -euo pipefail
out=${1:?outdir}; gen=${2:-sdk}
pin_dump=(taskset -c 1); pin_run=(--server-cpus 0 --generator-cpus 1)
if [[ ${UNPINNED:-0} == 1 ]]; then pin_dump=(); pin_run=(); fi
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"
for target in ${TARGETS:-pulse node}; do
  "${pin_dump[@]}" tcpdump -i lo -s 200 -B 65536 -w "$out/$target-$gen.pcap" \
    'tcp and (tcp[2:2] % 50 = 0) and greater 300' 2>"$out/$target-$gen.tcpdump.log" &
  dump=$!
  sleep 1
  target/server/pulse-bench run --pulse-bin "${PULSE_BIN:-target/server/pulse-server}" --targets "$target" \
    --scenarios 5k --generators "$gen" "${pin_run[@]}" \
    --json "$out/runs.jsonl" | tee "$out/$target-$gen.txt"
  kill -INT "$dump"; wait "$dump" || true
  cat "$out/$target-$gen.tcpdump.log"
  python3 bench/experiments/wiretime.py "$out/$target-$gen.pcap" | tee -a "$out/$target-$gen.txt"
done
