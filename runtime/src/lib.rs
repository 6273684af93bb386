//! Bream runtime.
