#!/bin/bash
# Issue 8's cluster benchmark of bream-xmpp, all on loopback with release binaries: nodes
# joined through PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
# with `[internal_databases.cets]`, loaded by bream-load (apps/load). Each scenario gets fresh
# nodes with names and a cluster_name unique to the run. Scenarios (SCENARIOS, default all):
#
#   msg      MSG_SESSIONS (1000) sessions exchanging messages at MSG_RATE (2000) msg/s and at
#            the maximum rate (window of WINDOW, 2000, in flight), DURATION (10) s each: on a
#            3-node cluster with every message between sessions on different nodes
#            (bream-load --cross-server; sessions round-robin over the nodes), and on a
#            single node started the same way (a cluster of one). Throughput, latency
#            p50/p90/p99/max, server CPU per message summed over the nodes.
#   mirror   issue 15's cost of stream management mirrors: MSG_SESSIONS sessions with resumable
#            stream management (bream-load --stream-management) exchanging MSG_RATE msg/s
#            across 3 nodes (--cross-server) for DURATION s, once with
#            [modules.mod_stream_management] buffer_replicas = 0 and once with 1 (every stanza
#            a session keeps is mirrored to the next node by name). Server CPU per message
#            summed over the nodes; the difference is what the mirror costs.
#   logins   LOGIN_SESSIONS (1000) logins, SCRAM-SHA-256 over STARTTLS after a warm-up pass
#            that fills the client's SCRAM cache (as bench/xmpp-single-node.sh), spread over
#            3 nodes, and on one node.
#   cleanup  3 nodes holding CLEANUP_SESSIONS (10000) sessions each (PLAIN; each account has a
#            resource on every node), then `kill -9` of one: from the kill to the survivors'
#            "node down" (detection, ~ the heartbeat deadline HEARTBEAT_DEADLINE, 5000 ms) and
#            to their "sessions of a node that went down cleaned up" line (with its own
#            elapsed_ms).
#   join     for each count in JOIN_COUNTS (10000 30000 54000 100000): that many idle sessions
#            on the cluster, then a new node started: process start to /health/ready 200
#            (polled every 5 ms). The fd hard limit here is per process (ulimit -Hn, 20000 on
#            the machine this was written on), so a node holds at most PER_NODE_MAX (18000)
#            sessions: counts above 3 * PER_NODE_MAX run on more holder nodes, and the new
#            node is then the (holders + 1)th. The table names the holder count.
#
# Accounts (in PostgreSQL, domain DOMAIN, default cluster.bench): user1..N with the default
# 10000 SCRAM iterations for msg and logins, and mass1..MASS_USERS (2000) with 64 iterations
# (cheap PLAIN logins for the large idle populations; sessions beyond the account count share
# accounts with distinct resources). Existing accounts are reused.
#
# One table on stdout; the raw reports, configs and node logs stay in the printed directory.
# `NO_BUILD=1` skips the release build; CARGO_TARGET_DIR is honoured.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LOAD=$CARGO_TARGET_DIR/release/bream-load
BREAM=$CARGO_TARGET_DIR/release/bream-xmpp
DB=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
DOMAIN=${DOMAIN:-cluster.bench}
DEADLINE=${HEARTBEAT_DEADLINE:-5000}
MSG_SESSIONS=${MSG_SESSIONS:-1000}; MSG_RATE=${MSG_RATE:-2000}; WINDOW=${WINDOW:-2000}
DURATION=${DURATION:-10}; LOGIN_SESSIONS=${LOGIN_SESSIONS:-1000}
CLEANUP_SESSIONS=${CLEANUP_SESSIONS:-10000}
JOIN_COUNTS=${JOIN_COUNTS:-10000 30000 54000 100000}
PER_NODE_MAX=${PER_NODE_MAX:-18000}
MASS_USERS=${MASS_USERS:-2000}
SCENARIOS=${SCENARIOS:-msg logins cleanup join}
# buffer_replicas of the nodes started next (the mirror scenario sets it).
REPLICAS=0
PASSWORD=cluster-bench-password
RUN=$(date +%H%M%S)$$
OUT=$(mktemp -d /tmp/bream-cluster.XXXXXX)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ -n "${NO_BUILD:-}" ] || cargo build --release --manifest-path "$ROOT/Cargo.toml" -p bream-xmpp -p bream-load >&2
echo "work directory: $OUT (fd limit $(ulimit -n))" >&2

# free_ports N: N distinct free loopback ports (held open together while picked).
free_ports() {
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
now() { date +%s.%N; }

# Nodes of the current cluster: config paths, c2s and prometheus ports, pids, logs.
CFG=(); C2S=(); PROM=(); PIDS=(); LOGS=(); LOADERS=()
CLUSTER=

# node_config INDEX ITERATIONS -> writes $OUT/$CLUSTER-n$INDEX.toml
node_config() {
  local i=$1 iterations=$2
  local c2s admin dist prom
  read -r c2s admin dist prom < <(free_ports 4)
  CFG[$i]=$OUT/$CLUSTER-n$i.toml; C2S[$i]=$c2s; PROM[$i]=$prom; LOGS[$i]=$OUT/$CLUSTER-n$i.log
  cat > "${CFG[$i]}" <<CFG
[general]
hosts = ["$DOMAIN"]
node_name = "n$i-$CLUSTER@127.0.0.1"
dist_port = $dist
cookie = "cookie-$CLUSTER"
data_dir = "$OUT/$CLUSTER-data$i"
loglevel = "warning"
shutdown_timeout = 5

[[listen.c2s]]
ip_address = "127.0.0.1"
port = $c2s

[listen.graphql_admin]
ip_address = "127.0.0.1"
port = $admin

[listen.graphql_user]
ip_address = "127.0.0.1"
port = 0

[listen.prometheus]
ip_address = "127.0.0.1"
port = $prom

[auth.password]
scram_iterations = $iterations

[outgoing_pools.rdbms.default]
workers = 4
connection.url = "$DB"

[internal_databases.cets]
backend = "rdbms"
cluster_name = "$CLUSTER"
heartbeat_deadline = $DEADLINE

[modules.mod_stream_management]
buffer_replicas = $REPLICAS
CFG
}

ready() { curl -sf -o /dev/null "http://127.0.0.1:${PROM[$1]}/health/ready"; }

# start_node INDEX: starts the node in the background (info logs of the cluster code only).
start_node() {
  local i=$1
  RUST_LOG=warn,bream_xmpp::cluster=info "$BREAM" start --config "${CFG[$i]}" >>"${LOGS[$i]}" 2>&1 &
  PIDS[$i]=$!
}

# wait_ready INDEX...: every node answers /health/ready and sees all the others joined.
wait_ready() {
  local count=$# i
  for i in "$@"; do
    for _ in $(seq 600); do ready "$i" && break; kill -0 "${PIDS[$i]}" || { echo "node $i died: ${LOGS[$i]}" >&2; tail -5 "${LOGS[$i]}" >&2; exit 1; }; sleep 0.1; done
    ready "$i" || { echo "node $i not ready: ${LOGS[$i]}" >&2; exit 1; }
  done
  [ "$count" -gt 1 ] || return 0
  for _ in $(seq 300); do
    local joined
    joined=$("$BREAM" ctl cets systemInfo --config "${CFG[$1]}" 2>/dev/null \
      | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("joinedNodes") or []))' 2>/dev/null || echo 0)
    # joinedNodes lists the other nodes, or every node including this one.
    [ "$joined" -ge $((count - 1)) ] && return 0
    sleep 0.1
  done
  echo "cluster $CLUSTER did not form: $("$BREAM" ctl cets systemInfo --config "${CFG[$1]}" 2>&1)" >&2
  exit 1
}

# cluster NAME NODES [ITERATIONS]: a fresh cluster of NODES nodes, ready.
cluster() {
  stop_all
  CLUSTER=$1-$RUN; CFG=(); C2S=(); PROM=(); PIDS=(); LOGS=()
  local n=$2 iterations=${3:-10000} i
  for i in $(seq 0 $((n - 1))); do node_config "$i" "$iterations"; start_node "$i"; done
  wait_ready $(seq 0 $((n - 1)))
  echo "== cluster $CLUSTER: $n node(s) ready, pids ${PIDS[*]}" >&2
}

servers() { local list=() i; for i in "$@"; do list+=("127.0.0.1:${C2S[$i]}"); done; (IFS=,; echo "${list[*]}"); }
pids() { local list=() i; for i in "$@"; do list+=("${PIDS[$i]}"); done; (IFS=,; echo "${list[*]}"); }

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
stop_all() {
  local pid
  for pid in "${LOADERS[@]}"; do stop_pid "$pid"; done
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  LOADERS=(); PIDS=()
}
trap stop_all EXIT

register() {  # PREFIX COUNT ITERATIONS
  local prefix=$1 count=$2 iterations=$3
  CLUSTER=register-$prefix-$RUN; node_config 0 "$iterations"
  "$LOAD" --domain "$DOMAIN" --users "$count" --user-prefix "$prefix" --password "$PASSWORD" \
    --register-with-ctl "$BREAM" --config "${CFG[0]}" --register-concurrency 4 --register-only
}

# hold INDEX SESSIONS SOURCE_IP: a background bream-load holding SESSIONS idle sessions on node
# INDEX (mass accounts, PLAIN); waits for its logins. Sets LOADED (logins that succeeded).
hold() {
  local i=$1 sessions=$2 source=$3 log=$OUT/$CLUSTER-hold$1.log
  "$LOAD" --server "$(servers "$i")" --domain "$DOMAIN" --users "$MASS_USERS" \
    --user-prefix mass --password "$PASSWORD" --sessions "$sessions" --resource "n$i-" \
    --mechanism plain --rate 3000 --login-concurrency 200 --source-ips "$source" \
    --idle --duration 3600 --settle 0 --json >"$OUT/$CLUSTER-hold$i.json" 2>"$log" &
  LOADERS+=("$!")
}
wait_held() {  # LOG...: waits for every loader's "logins done"; LOADED = their ok sum
  local log
  LOADED=0
  for log in "$@"; do
    for _ in $(seq 3000); do grep -q "logins done" "$log" && break; sleep 0.2; done
    local ok
    ok=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'logins done.*' | head -1 | grep -o 'ok=[0-9]*' | cut -d= -f2 || true)
    [ -n "$ok" ] || { echo "no logins in $log" >&2; tail -3 "$log" >&2; ok=0; }
    LOADED=$((LOADED + ok))
  done
}

# ---------------------------------------------------------------------------------------------
USERS=$(( MSG_SESSIONS > LOGIN_SESSIONS ? MSG_SESSIONS : LOGIN_SESSIONS ))
if [[ " $SCENARIOS " == *" msg "* || " $SCENARIOS " == *" logins "* || " $SCENARIOS " == *" mirror "* ]]; then
  register user "$USERS" 10000
fi
if [[ " $SCENARIOS " == *" cleanup "* || " $SCENARIOS " == *" join "* ]]; then
  register mass "$MASS_USERS" 64
fi

for scenario in $SCENARIOS; do
  case "$scenario" in
  msg)
    for nodes in 1 3; do
      for rate in "$MSG_RATE" max; do
        cluster "msg$nodes-$rate" "$nodes"
        all=$(seq 0 $((nodes - 1)))
        window=$([ "$rate" = max ] && echo "$WINDOW" || echo 1000000)
        name=msg-$nodes-$rate
        echo "== $name" >&2
        "$LOAD" --server "$(servers $all)" --server-pid "$(pids $all)" --cross-server \
          --domain "$DOMAIN" --users "$MSG_SESSIONS" --password "$PASSWORD" --warmup \
          --rate 500 --messages-per-second "$rate" --window "$window" --duration "$DURATION" \
          --source-ips 127.0.0.1-127.0.0.4 --json >"$OUT/$name.json" 2>"$OUT/$name.log" || true
      done
    done ;;
  mirror)
    for replicas in 0 1; do
      REPLICAS=$replicas
      cluster "mirror$replicas" 3
      name=mirror-$replicas
      echo "== $name" >&2
      "$LOAD" --server "$(servers 0 1 2)" --server-pid "$(pids 0 1 2)" --cross-server \
        --domain "$DOMAIN" --users "$MSG_SESSIONS" --password "$PASSWORD" --warmup \
        --stream-management --rate 500 --messages-per-second "$MSG_RATE" --window 1000000 \
        --duration "$DURATION" --source-ips 127.0.0.1-127.0.0.4 --json \
        >"$OUT/$name.json" 2>"$OUT/$name.log" || true
    done
    REPLICAS=0 ;;
  logins)
    for nodes in 1 3; do
      cluster "login$nodes" "$nodes"
      all=$(seq 0 $((nodes - 1)))
      echo "== logins-$nodes" >&2
      "$LOAD" --server "$(servers $all)" --server-pid "$(pids $all)" --domain "$DOMAIN" \
        --users "$LOGIN_SESSIONS" --password "$PASSWORD" --starttls --mechanism scram-sha-256 \
        --warmup --rate 1000000 --login-concurrency 50 --source-ips 127.0.0.1-127.0.0.4 \
        --json >"$OUT/logins-$nodes.json" 2>"$OUT/logins-$nodes.log" || true
    done ;;
  cleanup)
    cluster cleanup 3 64
    for i in 0 1 2; do hold "$i" "$CLEANUP_SESSIONS" "127.0.0.$((20 + i))"; done
    wait_held "$OUT/$CLUSTER-hold0.log" "$OUT/$CLUSTER-hold1.log" "$OUT/$CLUSTER-hold2.log"
    echo "== cleanup: $LOADED sessions held, killing node 2 (pid ${PIDS[2]})" >&2
    sleep 2
    victim_name="n2-$CLUSTER@127.0.0.1"
    killed_at=$(now); kill -KILL "${PIDS[2]}"
    # Wait for both survivors' cleanup line (bounded: deadline + 60 s).
    for _ in $(seq $(( (DEADLINE + 60000) / 100 ))); do
      grep -q "went down cleaned up" "${LOGS[0]}" && grep -q "went down cleaned up" "${LOGS[1]}" && break
      sleep 0.1
    done
    python3 - "$killed_at" "$victim_name" "$LOADED" "${LOGS[0]}" "${LOGS[1]}" >"$OUT/cleanup.json" <<'PY'
import json, re, sys
from datetime import datetime, timezone
killed, victim, held, logs = float(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
stamp = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z\s')
def when(line):  # tracing's UTC timestamp, as seconds since the epoch
    m = stamp.match(line)
    if not m: return None
    base = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return base.timestamp() + float("0." + (m.group(2) or "0"))
out = {"killed_at": killed, "victim": victim, "sessions_held": held, "survivors": []}
for log in logs:
    down = cleaned = None; fields = {}
    for line in open(log, errors="replace"):
        if down is None and "node down" in line and victim in line:
            down = when(line)
        if cleaned is None and "went down cleaned up" in line:
            cleaned = when(line)
            fields = dict(re.findall(r'(\w+)=(\S+)', line))
    out["survivors"].append({
        "log": log,
        "detected_ms": None if down is None else round((down - killed) * 1000),
        "cleaned_ms": None if cleaned is None else round((cleaned - killed) * 1000),
        "sessions": int(fields.get("sessions", -1)),
        "presences_sent": int(fields.get("presences_sent", -1)),
        "elapsed_ms": int(fields.get("elapsed_ms", -1)),
    })
print(json.dumps(out))
PY
    cat "$OUT/cleanup.json" >&2 ;;
  join)
    for count in $JOIN_COUNTS; do
      holders=$(( (count + PER_NODE_MAX - 1) / PER_NODE_MAX )); [ "$holders" -ge 3 ] || holders=3
      cluster "join$count" "$holders" 64
      logs=()
      for i in $(seq 0 $((holders - 1))); do
        share=$(( count / holders + (i < count % holders ? 1 : 0) ))
        hold "$i" "$share" "127.0.0.$((30 + i))"; logs+=("$OUT/$CLUSTER-hold$i.log")
      done
      wait_held "${logs[@]}"
      sleep 2
      size=$("$BREAM" ctl cets tableInfo --config "${CFG[0]}" 2>/dev/null | python3 -c \
        'import json,sys; print(max((t.get("size") or 0) for t in json.load(sys.stdin)))' 2>/dev/null || echo "?")
      new=$holders; node_config "$new" 64
      echo "== join: $LOADED sessions held on $holders nodes (largest table $size), starting node $new" >&2
      started=$(now)
      RUST_LOG=warn,bream_xmpp::cluster=info "$BREAM" start --config "${CFG[$new]}" >>"${LOGS[$new]}" 2>&1 &
      PIDS[$new]=$!
      ready_at=
      for _ in $(seq 12000); do   # 60 s at most
        if ready "$new"; then ready_at=$(now); break; fi
        kill -0 "${PIDS[$new]}" 2>/dev/null || break
        sleep 0.005
      done
      new_size=$("$BREAM" ctl cets tableInfo --config "${CFG[$new]}" 2>/dev/null | python3 -c \
        'import json,sys; print(max((t.get("size") or 0) for t in json.load(sys.stdin)))' 2>/dev/null || echo "?")
      python3 -c 'import json,sys
c,h,l,s,ns,a,b=sys.argv[1:]
print(json.dumps({"count":int(c),"holders":int(h),"held":int(l),"table_size":s,"new_node_table_size":ns,
  "ready_ms": round((float(b)-float(a))*1000) if b else None}))' \
        "$count" "$holders" "$LOADED" "$size" "$new_size" "$started" "${ready_at:-}" >"$OUT/join-$count.json"
      cat "$OUT/join-$count.json" >&2
    done ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
done
stop_all

echo "raw reports: $OUT" >&2
python3 - "$OUT" "$DEADLINE" "$MSG_RATE" <<'PY'
import glob, json, os, sys
out, deadline, msg_rate = sys.argv[1:4]
def load(name):
    try:
        with open(os.path.join(out, name)) as f: return json.loads(f.read() or "null")
    except (OSError, ValueError): return None
def ms(us): return f"{us / 1000:.2f}"
rows = [["scenario", "nodes", "sessions", "result", "latency p50/p90/p99/max ms", "server CPU", "errors"]]
def errors(r): return str(sum((r or {}).get("errors", {}).values()))
for nodes in (1, 3):
    for rate in (msg_rate, "max"):
        r = load(f"msg-{nodes}-{rate}.json")
        if not r: continue
        lat = r["message_latency_us"]
        cross = r.get("messages_cross_server", 0) / max(r.get("messages_dispatched", 0), 1)
        cpu = (r.get("server") or {}).get("cpu_per_message_us")
        rows.append([f"messages @{r['message_rate']}", str(nodes), f"{r['logins_ok']}/{r['sessions']}",
                     f"{r['delivered_per_s']:.0f} msg/s" + (f" ({cross:.0%} cross-node)" if nodes > 1 else ""),
                     "/".join(ms(lat[k]) for k in ("p50_us", "p90_us", "p99_us", "max_us")),
                     f"{cpu:.1f} µs/msg" if cpu else "-", errors(r)])
for replicas in (0, 1):
    r = load(f"mirror-{replicas}.json")
    if not r: continue
    lat = r["message_latency_us"]
    cpu = (r.get("server") or {}).get("cpu_per_message_us")
    rows.append([f"messages @{r['message_rate']} +sm, buffer_replicas {replicas}", "3", f"{r['logins_ok']}/{r['sessions']}",
                 f"{r['delivered_per_s']:.0f} msg/s",
                 "/".join(ms(lat[k]) for k in ("p50_us", "p90_us", "p99_us", "max_us")),
                 f"{cpu:.1f} µs/msg" if cpu else "-", errors(r)])
for nodes in (1, 3):
    r = load(f"logins-{nodes}.json")
    if not r: continue
    lat = r["login_latency_us"]; cpu = (r.get("server") or {}).get("cpu_per_login_ms")
    rows.append(["logins SCRAM-SHA-256+TLS", str(nodes), f"{r['logins_ok']}/{r['sessions']}",
                 f"{r['login_rate_per_s']:.0f} logins/s",
                 "/".join(ms(lat[k]) for k in ("p50_us", "p90_us", "p99_us", "max_us")),
                 f"{cpu:.2f} ms/login" if cpu else "-", errors(r)])
c = load("cleanup.json")
if c:
    for s in c["survivors"]:
        after = None if s["cleaned_ms"] is None or s["detected_ms"] is None else s["cleaned_ms"] - s["detected_ms"]
        rows.append(["cleanup after kill -9", "3→2", f"{s['sessions']} of {c['sessions_held']}",
                     f"detected {s['detected_ms']} ms (deadline {deadline}), cleaned {s['cleaned_ms']} ms; "
                     f"after detection {after} ms, elapsed_ms {s['elapsed_ms']}, presences {s['presences_sent']}",
                     "-", "-", "-"])
for path in sorted(glob.glob(os.path.join(out, "join-*.json")), key=lambda p: int(p.rsplit("-", 1)[1][:-5])):
    j = load(os.path.basename(path))
    rows.append(["new node start → ready", f"{j['holders']}+1", f"{j['held']} (table {j['table_size']}, new node {j['new_node_table_size']})",
                 f"{j['ready_ms']} ms" if j["ready_ms"] is not None else "not ready in 60 s", "-", "-", "-"])
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows: print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
PY
