//! Child processes that a test starts (server nodes, Python clients) and must not outlive it.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// A child process killed (`SIGKILL`) and reaped when the guard drops, so a failing test
/// leaves nothing running.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    label: String,
}

impl ChildGuard {
    /// Guards `child`; `label` names it in panics.
    pub fn new(label: impl Into<String>, child: Child) -> Self {
        ChildGuard {
            child: Some(child),
            label: label.into(),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// The guarded child.
    pub fn child_mut(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .unwrap_or_else(|| panic!("{}: already reaped", self.label))
    }

    /// Sends `signal` (as `kill -SIGNAL` takes it: `TERM`, `STOP`, `CONT`, `KILL`).
    pub fn signal(&self, signal: &str) {
        signal_process(self.id(), signal);
    }

    /// Whether it has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child_mut().try_wait(), Ok(Some(_)))
    }

    /// Waits up to `deadline` for it to exit on its own; its status.
    pub fn wait_for_exit(&mut self, deadline: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            match self.child_mut().try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if started.elapsed() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => panic!("{} still running after {deadline:?}", self.label),
                Err(error) => panic!("{}: {error}", self.label),
            }
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `kill -SIGNAL pid`; panics when `kill` fails.
pub fn signal_process(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}
