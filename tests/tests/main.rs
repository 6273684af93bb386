//! The multi-node tests: one binary (one link on CI), a module per area. They start real node
//! processes (`src/bin/`) and `kill -9`, `SIGSTOP` and `SIGCONT` them for real.

mod architecture;
mod cluster;
mod helm_chart;
mod registry;
mod replication;
