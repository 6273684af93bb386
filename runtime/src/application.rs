//! Applications: a root supervisor that runs until the process is told to stop.
//!
//! OTP starts an application's top supervisor and, on `init:stop()` or SIGTERM, stops the tree
//! in order. [`Application::run`] does that: it waits for SIGTERM, ctrl-c, or the root
//! supervisor's own exit (escalation all the way up), then shuts the tree down in reverse
//! start order.

use std::time::Duration;

use crate::exit::ExitReason;
use crate::monitor::monitor_channel;
use crate::supervisor::{StartError, Supervisor, SupervisorRef, SupervisorSpec};

/// How long [`Application::run`] gives the tree to stop in order by default.
pub const APPLICATION_SHUTDOWN_DEFAULT: Duration = Duration::from_secs(30);

/// How an application ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppExit {
    /// A signal asked it to stop, and the tree was shut down in order.
    Stopped,
    /// The root supervisor exited on its own, with this reason (it gave up).
    RootExited(ExitReason),
}

/// A running application.
pub struct Application {
    root: SupervisorRef,
    shutdown_timeout: Duration,
}

impl Application {
    /// Starts the root supervisor from `spec`.
    pub async fn start(spec: SupervisorSpec) -> Result<Application, StartError> {
        let root = Supervisor::start(spec).await?;
        Ok(Application {
            root,
            shutdown_timeout: APPLICATION_SHUTDOWN_DEFAULT,
        })
    }

    /// Sets how long the ordered shutdown may take before the rest is killed.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The root supervisor.
    pub fn root(&self) -> &SupervisorRef {
        &self.root
    }

    /// Runs until SIGTERM, ctrl-c or the root's exit, then stops the tree in order.
    pub async fn run(self) -> AppExit {
        self.run_until(shutdown_signal()).await
    }

    /// Runs until `stop` completes or the root exits, then stops the tree in order.
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()>) -> AppExit {
        let (_, root_down) = monitor_channel(&self.root.cell());
        tokio::select! {
            down = root_down => {
                let reason = down.map(|down| down.reason).unwrap_or(ExitReason::NoProc);
                tracing::error!(%reason, "root supervisor exited");
                AppExit::RootExited(reason)
            }
            () = stop => {
                tracing::info!("stopping the application");
                self.root.shutdown(self.shutdown_timeout).await;
                AppExit::Stopped
            }
        }
    }

    /// Stops the tree in order now.
    pub async fn stop(self) {
        self.root.shutdown(self.shutdown_timeout).await;
    }
}

/// Completes on SIGTERM or ctrl-c (SIGINT).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only ctrl-c stops the application");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
