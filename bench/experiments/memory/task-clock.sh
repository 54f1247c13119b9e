cd /work/main; ulimit -n $(ulimit -Hn)
PB=target/server/pulse-bench
for i in 1 2; do for b in base30 new30c; do
  ( $PB run --targets pulse --scenarios 10k --seconds 8 --pulse-bin /tmp/pulse-$b > /tmp/perf30-$b-$i.bench 2>&1 ) &
  BP=$!
  # attach once the server is up and the clients connected (ramp ~5 s), for the broadcast's 8 s
  for k in $(seq 100); do P=$(pgrep -f "^/tmp/pulse-$b" | head -1); [ -n "$P" ] && break; sleep 0.2; done
  sleep 7
  perf stat -e instructions:u,instructions:k,task-clock -p $P -- sleep 6 2>&1 | grep -E "instructions|task-clock" | sed "s/^/$b $i /"
  wait $BP
  grep "^pulse " /tmp/perf30-$b-$i.bench | awk -v b=$b '{print b, "p50", $10, "cpu", $(NF-1)}'
done; done
