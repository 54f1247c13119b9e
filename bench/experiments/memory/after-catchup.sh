#!/usr/bin/env bash
# usage: bench/experiments/memory/after-catchup.sh BIN [N] [ENTRIES] — server RSS per idle
# connection of BIN (pulse-server) holding N socket.io-client connections, first connected
# fresh, then (a new server) each having caught up ENTRIES payments from lastSeq 0: what an
# idle connection keeps after a burst (a reconnect after a restart) against a fresh one.
BIN=$1; N=${2:-2000}; ENTRIES=${3:-300}
cd "$(dirname "$0")/../../.."; ulimit -n $(ulimit -Hn)
run() { # $1: lastSeq or -
  PORT=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"); DATA=$(mktemp -d)
  PULSE_ADDR=127.0.0.1:$PORT PULSE_DATA_DIR=$DATA PULSE_DIST=$DATA PULSE_DEMO=false PULSE_BENCH=true \
    PULSE_MAX_CONN_PER_USER=1000000 PULSE_MAX_CONN_PER_IP=1000000 PULSE_EVENT_RATE=1000000 PULSE_EVENT_BURST=1000000 \
    PULSE_ARGON2_M_COST_KIB=64 PULSE_STATS_INTERVAL_MS=3600000 PULSE_CORS_ORIGINS=http://127.0.0.1:$PORT RUST_LOG=warn $WRAP $BIN > /dev/null 2>&1 &
  SPID=$!
  for i in $(seq 100); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.2; done
  TOKEN=$(curl -sf -X POST -H 'content-type: application/json' -d '{"email":"admin@pulse.demo","password":"pulse-demo"}' http://127.0.0.1:$PORT/api/auth/login | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')
  for i in $(seq $ENTRIES); do
    echo "{\"customer_id\":3,\"amount\":$i.5,\"method\":\"CASH\",\"note\":\"entry $i of a burst that every resuming connection catches up\"}"
  done | node -e '
    const [url, token] = process.argv.slice(1); let s = ""; process.stdin.on("data", d => s += d).on("end", async () => {
      for (const body of s.trim().split("\n")) { const r = await fetch(url + "/api/payments", { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer " + token }, body }); if (r.status !== 200) { console.error(r.status, await r.text()); process.exit(1); } }
    });' http://127.0.0.1:$PORT $TOKEN || exit 1
  sleep 1; RSS0=$(awk '/VmRSS/{print $2}' /proc/$SPID/status)
  OUT=$(mktemp)
  node bench/experiments/memory/resumers.mjs http://127.0.0.1:$PORT $TOKEN $N $1 $ENTRIES > $OUT 2>&1 &
  LPID=$!
  for i in $(seq 600); do grep -q "ready\|err" $OUT && break; sleep 0.2; done
  sleep 3; RSS1=$(awk '/VmRSS/{print $2}' /proc/$SPID/status)
  echo "$(basename $BIN) lastSeq=$1 entries=$ENTRIES: $(head -1 $OUT); KB per idle conn $(echo "scale=2; ($RSS1-$RSS0)/$N" | bc)"
  [ -n "$WRAP" ] && { pkill -9 -f "^$BIN" || pkill -9 -x $(basename $BIN); sleep 5; }
  kill $LPID; kill $SPID; wait 2>/dev/null; rm -rf $DATA $OUT
}
[ -n "$ONLY" ] && run $ONLY || { run -; run 0; }
