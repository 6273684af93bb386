//! The examples run to completion and show what they promise.

use std::process::Command;

fn run(binary: &str) -> String {
    let output = Command::new(binary).output().expect("example starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{binary} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// What the cluster examples' three nodes are started with: the URL of a SQLite registry in
/// `dir`, through which they find each other, and a free port each.
fn registry_and_ports(dir: &std::path::Path) -> (String, Vec<u16>) {
    let registry = format!("sqlite://{}?mode=rwc", dir.join("registry.db").display());
    let ports = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .map(|address| address.port())
                .expect("free port")
        })
        .collect();
    (registry, ports)
}

#[test]
fn supervision_tree_shows_restarts_an_escalation_and_an_ordered_stop() {
    let out = run(env!("CARGO_BIN_EXE_supervision_tree"));
    assert!(
        out.contains("connections: RESTARTED connections-1"),
        "{out}"
    );
    assert!(out.contains("group: RESTARTED cache"), "{out}");
    assert!(out.contains("group: ESCALATION"), "{out}");
    assert!(out.contains("root: RESTARTED group"), "{out}");
    let stop = out.find("-- stopping the application").expect("stop phase");
    let tail = &out[stop..];
    let order: Vec<usize> = [
        "group: stopped connections",
        "group: stopped cache",
        "group: stopped db",
        "root: stopped group",
        "root: stopped metrics",
        "root: stopped (shutdown)",
    ]
    .iter()
    .map(|line| {
        tail.find(line)
            .unwrap_or_else(|| panic!("missing {line:?} in {tail}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "reverse order: {tail}"
    );
}

#[test]
fn counter_counts_and_restarts_with_fresh_state() {
    let out = run(env!("CARGO_BIN_EXE_counter"));
    assert!(out.contains("count after ten casts: 55"), "{out}");
    assert!(out.contains("count after the restart: 0"), "{out}");
}

#[test]
fn cluster_ping_nodes_find_each_other_through_the_registry_and_ping() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (registry, ports) = registry_and_ports(dir.path());
    let children: Vec<_> = ["a", "b", "c"]
        .iter()
        .zip(&ports)
        .map(|(name, port)| {
            Command::new(env!("CARGO_BIN_EXE_cluster_ping"))
                .args([
                    "--name",
                    name,
                    "--port",
                    &port.to_string(),
                    "--registry",
                    &registry,
                    "--rounds",
                    "3",
                ])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("cluster_ping starts")
        })
        .collect();
    for (child, name) in children.into_iter().zip(["a", "b", "c"]) {
        let output = child.wait_with_output().expect("cluster_ping ends");
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{name}: {out}");
        for other in ["a", "b", "c"].iter().filter(|other| **other != name) {
            assert!(
                out.contains(&format!("UP   {other}@127.0.0.1")),
                "{name} never saw {other} up: {out}"
            );
        }
        assert!(out.contains("  pong from "), "{name} got no pong: {out}");
    }
}

/// One `replicated_kv` process, its stdout read line by line on a thread.
struct KvNode {
    name: &'static str,
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl KvNode {
    fn start(name: &'static str, port: u16, registry: &str, seeds: &[&str]) -> KvNode {
        let mut command = Command::new(env!("CARGO_BIN_EXE_replicated_kv"));
        command.args([
            "--name",
            name,
            "--port",
            &port.to_string(),
            "--registry",
            registry,
        ]);
        for seed in seeds {
            command.args(["--seed", seed]);
        }
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("replicated_kv starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        KvNode {
            name,
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (20 s at most) for a line satisfying `check`; returns it.
    fn expect(&mut self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if check(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("{}: no {what}; saw:\n{}", self.name, self.seen.join("\n")),
            }
        }
    }

    /// Sends a command and returns its answer line.
    fn command(&mut self, command: &str) -> String {
        use std::io::Write;
        writeln!(self.stdin, "{command}").expect("command sent");
        self.expect(&format!("answer to {command:?}"), |line| {
            line.starts_with("> ")
        })
    }
}

impl Drop for KvNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn replicated_kv_replicates_survives_a_kill_and_merges_on_rejoin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (registry, ports) = registry_and_ports(dir.path());
    let all = "MEMBERS a@127.0.0.1,b@127.0.0.1,c@127.0.0.1 ";
    let mut a = KvNode::start("a", ports[0], &registry, &[]);
    let mut b = KvNode::start("b", ports[1], &registry, &[]);
    let mut c = KvNode::start("c", ports[2], &registry, &[]);
    for node in [&mut a, &mut b, &mut c] {
        node.expect("all three joined", |line| line.starts_with(all));
    }

    assert_eq!(a.command("put k1 v1"), "> ok put k1");
    assert_eq!(c.command("get k1"), "> k1 = v1");
    assert_eq!(b.command("put k2 v2"), "> ok put k2");

    // kill -9 c: a and b run the down handler and go on as two.
    drop(c);
    for node in [&mut a, &mut b] {
        node.expect("c's table down", |line| {
            line.starts_with("TABLE DOWN c@127.0.0.1")
        });
        node.expect("two members", |line| {
            line.starts_with("MEMBERS a@127.0.0.1,b@127.0.0.1 ")
        });
    }
    assert_eq!(a.command("put k3 v3"), "> ok put k3");
    assert_eq!(b.command("delete k1"), "> ok delete k1");

    // c comes back with records of its own; the join merges them (greater value wins k2).
    let mut c = KvNode::start("c", ports[2], &registry, &["k2=zz", "k4=v4"]);
    c.expect("c rejoined", |line| line.starts_with(all));
    a.expect("c rejoined", |line| line.starts_with(all));
    let merged = "> dump k2=zz k3=v3 k4=v4";
    assert_eq!(a.command("dump"), merged);
    assert_eq!(b.command("dump"), merged);
    assert_eq!(c.command("dump"), merged);
    // Discovery may lag the join by a poll: status turns healthy soon after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = c.command("status");
        if status.ends_with("; healthy") {
            assert!(
                status.contains("joined [a@127.0.0.1,b@127.0.0.1,c@127.0.0.1]"),
                "{status}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never healthy: {status}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
