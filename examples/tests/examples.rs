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
    let registry = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("registry.db").display()
    );
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .map(|address| address.port())
                .expect("free port")
        })
        .collect();
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
