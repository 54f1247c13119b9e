#!/usr/bin/env bash
# usage: ssprobe.sh <target: pulse|node>; runs a pinned 5k sdk scenario and samples socket queues.
target=$1
cd /work/main
ulimit -n $(ulimit -Hn)
(timeout 300 target/server/pulse-bench run --pulse-bin target/server/pulse-server --targets $target --scenarios 5k --seconds 15 --server-cpus 0 --generator-cpus 1 > /tmp/ss-$target.log 2>&1 &)
for i in $(seq 60); do
  if [[ $target == pulse ]]; then pid=$(pgrep -x pulse-server | head -1); else pid=$(pgrep -f bench/node-server.mjs | head -1); fi
  [[ -n $pid ]] && break; sleep 0.5
done
if [[ $target == pulse ]]; then port=$(tr '\0' '\n' < /proc/$pid/environ | grep '^PULSE_ADDR=' | sed 's/.*://'); else port=$(tr '\0' '\n' < /proc/$pid/cmdline | tail -1); fi
echo "pid $pid port $port"
sleep 10
for i in $(seq 25); do
  ss -tnH state established "( sport = :$port )" | awk '{ s += $2; if ($2 > m) m = $2 } END { printf "server send-q total %d max %d  ", s, m }'
  ss -tnH state established "( dport = :$port )" | awk '{ r += $1; if ($1 > m) m = $1 } END { printf "client recv-q total %d max %d\n", r, m }'
  sleep 0.2
done
sleep 15
grep -E "^$target " /tmp/ss-$target.log | cut -c1-120
