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
