//! The runtime's own services live on a dedicated thread.
//!
//! Monitors, links and the name registry need an actor that outlives any one user's tokio
//! runtime: `#[tokio::test]` builds a runtime per test and drops it at the end, cancelling
//! every task spawned on it. A service actor spawned there would die with the first test
//! that touched it. So the services run on a small current-thread runtime owned by a
//! background thread (`bream-system`) that lives as long as the process.

use std::sync::OnceLock;

use tokio::runtime::Handle;

static SYSTEM_RUNTIME: OnceLock<Handle> = OnceLock::new();

/// The handle of the process-wide service runtime, started on first use.
pub(crate) fn handle() -> &'static Handle {
    SYSTEM_RUNTIME.get_or_init(start_system_thread)
}

fn start_system_thread() -> Handle {
    let (handle_sender, handle_receiver) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("bream-system".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "cannot build the bream-system runtime");
                    return;
                }
            };
            let _ = handle_sender.send(runtime.handle().clone());
            runtime.block_on(std::future::pending::<()>());
        });
    // Without this thread no monitor, link or registry cleanup can work: the process cannot
    // run Bream at all, so this is an invariant, not an input error.
    assert!(spawned.is_ok(), "cannot start the bream-system thread");
    match handle_receiver.recv() {
        Ok(handle) => handle,
        Err(_) => panic!("the bream-system runtime failed to start"),
    }
}
