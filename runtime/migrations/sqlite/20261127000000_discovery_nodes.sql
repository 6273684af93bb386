-- Node discovery registry (bream_runtime::discovery::SqlRegistry), shaped like MongooseIM's
-- `discovery_nodes` table. One row per registered node; `node_name` is the primary key, so a
-- node is in at most one cluster at a time. `node_num` is the smallest free number >= 1 within
-- the node's cluster. `updated_timestamp` is in seconds from the database's own clock, so nodes
-- with skewed clocks still agree on which rows are stale.
CREATE TABLE discovery_nodes (
    cluster_name TEXT NOT NULL,
    node_name TEXT NOT NULL PRIMARY KEY,
    node_num INTEGER NOT NULL CHECK (node_num >= 1),
    address TEXT NOT NULL,
    updated_timestamp INTEGER NOT NULL
);
CREATE UNIQUE INDEX i_discovery_nodes_node_num ON discovery_nodes (cluster_name, node_num);
