//! Local tables: operations, access, ownership and heirs, concurrency, and a model check.

mod access;
mod concurrency;
mod model;
mod operations;
mod ownership;
mod support;
