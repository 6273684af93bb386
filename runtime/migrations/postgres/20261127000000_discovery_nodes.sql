-- Node discovery registry (bream_runtime::discovery::SqlRegistry), as MongooseIM's
-- `discovery_nodes` table in its pg.sql. One row per registered node; `node_name` is the primary
-- key, so a node is in at most one cluster at a time. `node_num` is the smallest free number >= 1
-- within the node's cluster. `updated_timestamp` is in seconds from the database's own clock, so
-- nodes with skewed clocks still agree on which rows are stale.
CREATE TABLE discovery_nodes (
    cluster_name varchar(250) NOT NULL,
    node_name varchar(250) NOT NULL,
    node_num integer NOT NULL CHECK (node_num >= 1),
    address varchar(250) NOT NULL,
    updated_timestamp bigint NOT NULL,
    PRIMARY KEY (node_name)
);
CREATE UNIQUE INDEX i_discovery_nodes_node_num ON discovery_nodes USING BTREE (cluster_name, node_num);
