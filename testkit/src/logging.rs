//! Tracing for tests: `RUST_LOG=bream_xmpp=debug cargo test …` shows a test's logs, captured
//! per test by the test harness.

/// Installs the test subscriber once per process; later calls do nothing.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
