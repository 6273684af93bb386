//! Start test nodes as OS processes, read their JSON events, and hurt them.
//!
//! Every wait has a deadline; a node process is killed when its handle drops, so a failing
//! test leaves nothing running.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

pub use bream_testkit::free_port;

/// How to start one test node.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// `name@127.0.0.1`.
    pub name: String,
    /// Its port.
    pub port: u16,
    /// Extra command-line arguments.
    pub args: Vec<String>,
}

impl NodeSpec {
    /// A node named `short@127.0.0.1` on a free port.
    pub fn new(short: &str) -> Self {
        NodeSpec {
            name: format!("{short}@127.0.0.1"),
            port: free_port(),
            args: Vec::new(),
        }
    }

    /// `name@host=127.0.0.1:port`, for `--peers`.
    pub fn peer_entry(&self) -> String {
        format!("{}=127.0.0.1:{}", self.name, self.port)
    }

    /// Its node address.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Adds arguments.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }
}

/// A running test node process.
pub struct TestNode {
    /// Its spec.
    pub spec: NodeSpec,
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<Value>,
    /// Lines read but not yet matched by an `expect`.
    backlog: Vec<Value>,
}

impl TestNode {
    /// Starts `binary` as the node `spec` and waits for its `started` event.
    pub async fn start(binary: impl Into<PathBuf>, spec: NodeSpec) -> TestNode {
        let mut command = Command::new(binary.into());
        command
            .arg("--name")
            .arg(&spec.name)
            .arg("--listen")
            .arg(spec.address())
            .args(&spec.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("test node starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    if sender.send(value).is_err() {
                        return;
                    }
                }
            }
        });
        let mut node = TestNode {
            spec,
            child,
            stdin,
            lines,
            backlog: Vec::new(),
        };
        node.expect(Duration::from_secs(10), |line| line["event"] == "started")
            .await;
        node
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Sends a command without waiting for its answer.
    pub async fn stdin_command(&mut self, command: &str) {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("write command");
        self.stdin.flush().await.expect("flush");
    }

    /// Sends a command and returns its answer (the next line with `ok` or `error`).
    pub async fn command(&mut self, command: &str) -> Value {
        self.stdin_command(command).await;
        self.expect(Duration::from_secs(10), |line| {
            line.get("ok").is_some() || line.get("error").is_some()
        })
        .await
    }

    /// Sends `command` every 50 ms until its answer passes `check`, and returns that answer;
    /// panics with the last answer after `deadline`. For state that converges, such as a
    /// cluster's view after a link flaps.
    pub async fn command_until(
        &mut self,
        command: &str,
        deadline: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let answer = self.command(command).await;
            if check(&answer) {
                return answer;
            }
            assert!(
                started.elapsed() < deadline,
                "{}: `{command}` never satisfied the check within {deadline:?}; last {answer}",
                self.spec.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a line matching `matches`; earlier non-matching lines stay for later waits.
    pub async fn expect(&mut self, deadline: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        self.try_expect(deadline, matches)
            .await
            .unwrap_or_else(|seen| {
                panic!(
                    "{}: no matching line within {deadline:?}; saw {seen:?}",
                    self.spec.name
                )
            })
    }

    /// Like [`TestNode::expect`], returning the unmatched lines on timeout.
    pub async fn try_expect(
        &mut self,
        deadline: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Result<Value, Vec<Value>> {
        if let Some(position) = self.backlog.iter().position(&matches) {
            return Ok(self.backlog.remove(position));
        }
        let started = Instant::now();
        loop {
            let left = deadline.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, self.lines.recv()).await {
                Ok(Some(line)) if matches(&line) => return Ok(line),
                Ok(Some(line)) => self.backlog.push(line),
                Ok(None) | Err(_) => return Err(self.backlog.clone()),
            }
        }
    }

    /// Waits for `up` events from every node in `peers`; returns how long it took.
    pub async fn expect_up(&mut self, peers: &[&str], deadline: Duration) -> Duration {
        let started = Instant::now();
        for peer in peers {
            let left = deadline.saturating_sub(started.elapsed());
            self.expect(left, |line| line["event"] == "up" && line["node"] == *peer)
                .await;
        }
        started.elapsed()
    }

    /// Sends a signal with `kill`.
    pub fn signal(&self, signal: &str) {
        bream_testkit::process::signal_process(self.pid(), signal);
    }

    /// `kill -9`, and waits for the process to be gone.
    pub async fn kill9(mut self) {
        self.signal("KILL");
        let _ = self.child.wait().await;
    }
}
