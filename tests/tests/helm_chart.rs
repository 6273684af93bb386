//! The Helm chart in `deploy/helm/bream`, checked without a cluster.
//!
//! `deploy/helm/check.py` renders the chart with Helm's own engine (PyPI `helm-python-sdk`)
//! for the defaults, the seed's `helm install` flags, autoscaling on, a fixed load-balancer
//! address and an existing database Secret, validates every object against the Kubernetes
//! schemas (`kubernetes-validate`, strict) and asserts what the values promise; it also
//! checks the chart refuses `volatileDatabase=cets` without `persistentDatabase=rdbms`.
//! `deploy/helm/mutants.py` breaks the chart one way at a time and expects check.py to fail
//! for each, so no check passes whatever the chart says.
//!
//! Both run under the test kit's interpreter, as the interop tests do: the virtualenv with the
//! pinned packages is made on first use ([`bream_testkit::python`]).

use std::process::Command;

const CHECK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/helm/check.py");
const MUTANTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/helm/mutants.py");

/// Runs one script to completion; panics with its whole output unless it exits 0.
fn run_python(script: &str) -> String {
    let python = bream_testkit::python::interpreter();
    let output = Command::new(&python)
        .arg(script)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {} ({error})", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn chart_renders_valid_objects_that_do_what_the_values_say() {
    let stdout = run_python(CHECK);
    // The summary line, so a checker that ran no cases cannot pass.
    assert!(
        stdout.contains("5 value sets, 4 refusals, 0 failed checks"),
        "unexpected summary:\n{stdout}"
    );
}

#[test]
fn every_broken_chart_fails_the_checks() {
    let stdout = run_python(MUTANTS);
    let caught = stdout
        .lines()
        .filter(|line| line.ends_with(": caught"))
        .count();
    assert!(caught >= 20, "only {caught} mutants caught:\n{stdout}");
    assert!(
        stdout.contains("survived or no longer apply") && stdout.contains(", 0 survived"),
        "unexpected summary:\n{stdout}"
    );
}
