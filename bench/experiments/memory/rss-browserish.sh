#!/usr/bin/env bash
# usage: bench/experiments/memory/rss-browserish.sh BIN [N] — server RSS per connection of BIN
# (pulse-server) holding N idle socket.io-client connections that carry a Chromium
# handshake's headers (browserish.mjs). Sixteenth session: 17.31 → 14.80 / 14.73 KB at 3,000.
BIN=$1; N=${2:-2000}
cd "$(dirname "$0")/../../.."; ulimit -n $(ulimit -Hn)
PORT=$((20000 + RANDOM % 20000)); DATA=$(mktemp -d)
PULSE_ADDR=127.0.0.1:$PORT PULSE_DATA_DIR=$DATA PULSE_DIST=$DATA PULSE_DEMO=false PULSE_BENCH=true \
  PULSE_MAX_CONN_PER_USER=1000000 PULSE_MAX_CONN_PER_IP=1000000 PULSE_EVENT_RATE=1000000 PULSE_EVENT_BURST=1000000 \
  PULSE_ARGON2_M_COST_KIB=64 PULSE_STATS_INTERVAL_MS=3600000 PULSE_CORS_ORIGINS=http://127.0.0.1:$PORT RUST_LOG=warn $BIN > /dev/null 2>&1 &
SPID=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -sf -X POST -H 'content-type: application/json' -d '{"email":"admin@pulse.demo","password":"pulse-demo"}' http://127.0.0.1:$PORT/api/auth/login | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')
sleep 1; RSS0=$(awk '/VmRSS/{print $2}' /proc/$SPID/status)
node bench/experiments/memory/browserish.mjs http://127.0.0.1:$PORT $TOKEN $N > /tmp/browserish.out 2>&1 &
LPID=$!
for i in $(seq 300); do grep -q "ready\|err" /tmp/browserish.out && break; sleep 0.2; done
sleep 3; RSS1=$(awk '/VmRSS/{print $2}' /proc/$SPID/status)
echo "$(basename $BIN): $(cat /tmp/browserish.out | head -1); KB per conn $(echo "scale=2; ($RSS1-$RSS0)/$N" | bc)"
kill $LPID; kill $SPID; wait 2>/dev/null; rm -rf $DATA
