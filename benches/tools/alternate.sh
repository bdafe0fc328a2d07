#!/usr/bin/env bash
# Usage: alternate.sh LABEL... — answers/s of each build, alternating, ROUNDS rounds.
# Each LABEL is a binary ${BIN_DIR}/fixpath-LABEL (copies of release builds of the
# commits compared); LOAD_DIR holds the `load` bench binary (`cargo bench --bench load --no-run`).
set -u
ROUNDS=${ROUNDS:-3}; DUR=${DUR:-10}
LOAD=$(ls -t ${LOAD_DIR:-target/release/deps}/load-* | grep -v '\.d$' | head -1)
for r in $(seq 1 $ROUNDS); do
 for b in "$@"; do
  T=$(mktemp -d /tmp/tp.XXXX)
  printf '[limits]\nsessions_per_minute = 100000\n' > $T/c.toml
  fuser -k 18555/tcp 2>/dev/null; sleep 0.5
  ${BIN_DIR:-.}/fixpath-$b serve --config $T/c.toml --db $T/db.sqlite --scripts ${SCRIPTS:-scripts} --listen 127.0.0.1:18555 > $T/server.log 2>&1 &
  PID=$!
  for i in $(seq 1 100); do curl -sf http://127.0.0.1:18555/healthz >/dev/null && break; sleep 0.2; done
  $LOAD --bench --url http://127.0.0.1:18555 --server-pid $PID --scripts ${SCRIPTS:-scripts} --duration $DUR > $T/load.log 2>&1
  kill -TERM $PID; wait $PID 2>/dev/null
  a=$(grep -m1 "answers/s" $T/load.log | tr -s ' ' | head -c 200)
  p99=$(grep -m1 -i "p99" $T/load.log | tr -s ' ' | head -c 120)
  echo "round $r $b | $a | $p99 | load $(cut -d' ' -f1 /proc/loadavg)"
  rm -rf $T
 done
done
