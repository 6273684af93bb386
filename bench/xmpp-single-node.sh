#!/bin/bash
# Issue 6's single-node benchmark of bream-xmpp: builds release binaries, then runs
# `bream-load bench-bream`, which starts bream-xmpp on a free loopback port with a temporary
# config, registers the accounts with `bream-xmpp ctl`, and runs, each against a fresh server:
#   login-tls    logins/s, SCRAM-SHA-256 over STARTTLS
#   login-plain  logins/s, PLAIN without TLS
#   msg-rate     1 k sessions, 2 k msg/s between random pairs: throughput and latency
#   msg-max      1 k sessions, as fast as a window of 2 k in-flight messages allows
#   idle-plain   5 k idle bound sessions: server memory per session (PLAIN, no TLS)
#   idle-tls     the same over STARTTLS
# and prints one table. Extra arguments go to bench-bream (see `bream-load bench-bream --help`),
# e.g. --scenarios msg-rate,msg-max --duration 20 --json.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release --manifest-path "$ROOT/Cargo.toml" -p bream-xmpp -p bream-load >&2
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$CARGO_TARGET_DIR/release/bream-load" bench-bream \
  --server-binary "$CARGO_TARGET_DIR/release/bream-xmpp" "$@"
