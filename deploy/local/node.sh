#!/usr/bin/env bash
# One node of a local Bream XMPP cluster, for the README's walkthrough.
#
#   deploy/local/node.sh N                 start node N (1..9) in the foreground
#   deploy/local/node.sh N ctl ...         any bream-xmpp command with node N's config
#
# Node N is bream<N>@127.0.0.1 with its own ports (so several run on one machine):
# clients 5222+100(N-1), admin API 5551+100(N-1), user API 5561+100(N-1),
# metrics and health 9091+100(N-1), node-to-node 4370+N.
# Every node uses the same database, which is also how they find each other:
# DATABASE_URL if set (PostgreSQL for a real cluster), else SQLite in ./data/cluster.db.
set -euo pipefail
cd "$(dirname "$0")/../.."

node="${1:?usage: deploy/local/node.sh N [bream-xmpp command...]}"
shift
if ! [[ "$node" =~ ^[1-9]$ ]]; then
  echo "node number must be 1..9, not $node" >&2
  exit 2
fi
offset=$(( (node - 1) * 100 ))
mkdir -p data
database="${DATABASE_URL:-sqlite://$(pwd)/data/cluster.db?mode=rwc}"
config="data/node$node.toml"
cat > "$config" <<TOML
[general]
hosts = ["localhost"]
node_name = "bream$node@127.0.0.1"
dist_port = $(( 4370 + node ))
data_dir = "data/node$node"
shutdown_timeout = 10

[[listen.c2s]]
port = $(( 5222 + offset ))

[listen.graphql_admin]
port = $(( 5551 + offset ))

[listen.graphql_user]
port = $(( 5561 + offset ))

[listen.prometheus]
ip_address = "127.0.0.1"
port = $(( 9091 + offset ))

[outgoing_pools.rdbms.default]
connection.url = "$database"

[internal_databases.cets]
backend = "rdbms"
cluster_name = "local"
TOML

if [ $# -eq 0 ]; then
  set -- start
fi
exec cargo run -q -p bream-xmpp -- --config "$config" "$@"
