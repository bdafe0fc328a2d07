#!/usr/bin/env bash
# with-sql.sh BUILD "SQL" — one 10 s run with SQL applied to the fresh database first.
set -u
b=$1; SQL=$2
LOAD=$(ls -t ${LOAD_DIR:-target/release/deps}/load-* | grep -v '\.d$' | head -1)
T=$(mktemp -d /tmp/tp.XXXX)
printf '[limits]\nsessions_per_minute = 100000\n' > $T/c.toml
fuser -k 18555/tcp 2>/dev/null; sleep 0.5
${BIN_DIR:-.}/fixpath-$b serve --config $T/c.toml --db $T/db.sqlite --scripts ${SCRIPTS:-scripts} --listen 127.0.0.1:18555 > $T/server.log 2>&1 &
PID=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:18555/healthz >/dev/null && break; sleep 0.2; done
[ -n "$SQL" ] && python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.close()" $T/db.sqlite "$SQL"
$LOAD --bench --url http://127.0.0.1:18555 --server-pid $PID --scripts ${SCRIPTS:-scripts} --duration 10 > $T/load.log 2>&1
kill -TERM $PID; wait $PID 2>/dev/null
a=$(grep -m1 "answers/s" $T/load.log | tr -s ' ' | cut -c1-40)
cpu=$(grep -m1 "server CPU" $T/load.log | tr -s ' ')
echo "$b [$SQL] | $a | $cpu"
rm -rf $T
