#!/bin/bash
# Runs pulse-bench at 5k × 10/s (Pulse, then Node.js; extra options in GEN_ARGS, e.g.
# "--generator-threads 1") and samples, every 0.5 s, each of the generator's tokio worker
# threads: time, thread id, utime and stime (clock ticks), the CPU it last ran on, and its
# voluntary and involuntary context switches (cumulative, from /proc). Writes OUT (default
# switches.txt) and prints the run's rows. Run from the repository's root after
# `cargo build --profile server -p pulse-server -p pulse-bench`.
out=${OUT:-switches.txt}
# shellcheck disable=SC2086
target/server/pulse-bench run --targets pulse,node --scenarios 5k $GEN_ARGS > "$out.run" 2>&1 &
sleep 0.3
pid=$(pgrep -f 'pulse-bench run' | head -1)
while kill -0 "$pid" 2>/dev/null; do
  t=$(date +%s.%N)
  for task in /proc/"$pid"/task/*; do
    [[ "$(cat "$task/comm" 2>/dev/null)" == tokio-rt-worker* ]] || continue
    read -r -a st < "$task/stat" 2>/dev/null || continue
    vol=$(awk '/^voluntary_ctxt/ {print $2}' "$task/status" 2>/dev/null)
    nvol=$(awk '/^nonvoluntary_ctxt/ {print $2}' "$task/status" 2>/dev/null)
    echo "$t ${task##*/} ${st[13]} ${st[14]} ${st[38]} $vol $nvol"
  done
  sleep 0.5
done > "$out"
grep -E '^(pulse|node) ' "$out.run"
