//! bream-tests.
