//! Stopping one child the way its spec says.

use std::time::Duration;

use ractor::ActorCell;

use super::spec::Shutdown;
use crate::exit::ExitReason;

/// How long a killed actor gets to finish dying. A kill aborts the actor's task, so this is
/// only ever reached if the runtime's thread is starved.
pub const KILL_WAIT_MAX: Duration = Duration::from_secs(5);

/// Stops `child` as `shutdown` says and waits until it is gone. Returns how it ended:
/// [`ExitReason::Shutdown`] if it stopped when asked, [`ExitReason::Killed`] if it had to be
/// killed.
pub(crate) async fn shutdown_child(child: &ActorCell, shutdown: Shutdown) -> ExitReason {
    match shutdown {
        Shutdown::BrutalKill => kill(child).await,
        Shutdown::Timeout(grace) => {
            child.stop(ExitReason::Shutdown.to_stop_reason());
            if child.wait(Some(grace)).await.is_ok() {
                ExitReason::Shutdown
            } else {
                tracing::warn!(actor = %child.get_id(), ?grace, "child ignored shutdown, killing it");
                kill(child).await
            }
        }
        Shutdown::Infinity => {
            child.stop(ExitReason::Shutdown.to_stop_reason());
            // OTP's `infinity`: a supervisor child needs as long as its own subtree takes.
            let _ = child.wait(None).await;
            ExitReason::Shutdown
        }
    }
}

async fn kill(child: &ActorCell) -> ExitReason {
    child.kill();
    if child.wait(Some(KILL_WAIT_MAX)).await.is_err() {
        tracing::error!(actor = %child.get_id(), "killed child did not exit within {KILL_WAIT_MAX:?}");
    }
    ExitReason::Killed
}
