//! Integration tests for bream-tables (one binary; modules by topic).

mod access;
mod concurrency;
mod model;
mod operations;
mod ownership;
mod support;
