#!/usr/bin/env bash
# Usage: callgrind-answers.sh BIN LABEL [DURATION] — instructions per answer under callgrind.
# Build the load driver with `cargo bench --bench load --no-run`; set LOAD_DIR to its
# deps folder, SCRIPTS to the scripts folder, OUT_DIR for the callgrind files.
set -u
BIN=$1; LABEL=$2; DUR=${3:-20}
LOAD=$(ls -t ${LOAD_DIR:-target/release/deps}/load-* | grep -v '\.d$' | head -1)
T=$(mktemp -d /tmp/cg.XXXX)
printf '[limits]\nsessions_per_minute = 100000\n' > $T/c.toml
fuser -k 18555/tcp 2>/dev/null; sleep 0.5
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=${OUT_DIR:-.}/cg.$LABEL.out \
  $BIN serve --config $T/c.toml --db $T/db.sqlite --scripts ${SCRIPTS:-scripts} --listen 127.0.0.1:18555 > $T/server.log 2>&1 &
PID=$!
for i in $(seq 1 600); do curl -sf http://127.0.0.1:18555/healthz >/dev/null && break; sleep 0.5; done
callgrind_control -i on $PID >/dev/null
$LOAD --bench --url http://127.0.0.1:18555 --server-pid $PID --scripts ${SCRIPTS:-scripts} --duration $DUR --warmup 1 --users 16 > $T/load.log 2>&1
kill -TERM $PID; wait $PID
python3 - "$T/db.sqlite" "${OUT_DIR:-.}/cg.$LABEL.out" "$LABEL" <<'PY'
import sqlite3, sys, re
db, out, label = sys.argv[1:]
c = sqlite3.connect(db)
answers = c.execute("select sum(seq-1) from sessions").fetchone()[0]
sessions = c.execute("select count(*) from sessions").fetchone()[0]
esc = c.execute("select count(*) from escalations").fetchone()[0]
total = None
for line in open(out):
    if line.startswith("summary:") or line.startswith("totals:"):
        total = int(line.split()[1])
print(f"{label}: answers={answers} sessions={sessions} escalations={esc} Ir={total} Ir/answer={total/answers:,.0f}")
PY
echo "tmp: $T"
