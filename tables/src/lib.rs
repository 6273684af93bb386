//! bream-tables.
