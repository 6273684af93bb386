//! The Python interpreter of the interop tests (slixmpp) and the Helm chart checks
//! (helm-python-sdk, kubernetes-validate), with the pinned packages of
//! `.ci/python-requirements.txt`, made on first use so that the README's test command passes
//! on a fresh machine with nothing set up by hand.
//!
//! `BREAM_PYTHON` names an interpreter to use as it is. Otherwise the virtualenv lives in the
//! target directory (`<target>/bream-venv`, beside `debug/`), so a clean of the target
//! removes it and a reused `CARGO_TARGET_DIR` (CI's) reuses it. It is (re)made when the
//! requirements change: a stamp file holds the requirements it was made from. Test binaries
//! may run in parallel (nextest runs one process per test), so the check and the install hold
//! an exclusive file lock.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use fs4::FileExt;

/// The pinned requirements, compiled in: the stamp compares against them.
const REQUIREMENTS: &str = include_str!("../../.ci/python-requirements.txt");
/// Where the requirements file is, for `pip install -r`.
const REQUIREMENTS_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../.ci/python-requirements.txt"
);
/// The base interpreter that makes the virtualenv (Python 3.11 on this kind of machine).
const BASE_PYTHON: &str = "python3";

/// The interpreter to run Python test scripts with; makes the virtualenv on first use.
///
/// Panics with what went wrong (and what to install) when it cannot be made.
pub fn interpreter() -> PathBuf {
    static INTERPRETER: OnceLock<PathBuf> = OnceLock::new();
    INTERPRETER
        .get_or_init(|| match std::env::var_os("BREAM_PYTHON") {
            Some(python) if !python.is_empty() => PathBuf::from(python),
            _ => ensure_virtualenv(&target_dir().join("bream-venv")),
        })
        .clone()
}

/// The target directory of the running test binary: the parent of the profile directory
/// (`<target>/debug/deps/NAME-HASH` → `<target>`).
fn target_dir() -> PathBuf {
    let executable = std::env::current_exe().expect("the test binary's path");
    executable
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .or_else(|| executable.ancestors().nth(3).map(Path::to_path_buf))
        .expect("a target directory above the test binary")
}

/// Makes (or reuses) the virtualenv at `venv` with [`REQUIREMENTS`]; its interpreter.
fn ensure_virtualenv(venv: &Path) -> PathBuf {
    let parent = venv
        .parent()
        .expect("the virtualenv has a parent directory");
    fs::create_dir_all(parent).expect("the target directory can be created");
    let lock_path = venv.with_extension("lock");
    let lock = File::create(&lock_path)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", lock_path.display()));
    FileExt::lock(&lock)
        .unwrap_or_else(|error| panic!("cannot lock {}: {error}", lock_path.display()));
    let python = venv.join("bin").join("python");
    let stamp = venv.join("bream-requirements.txt");
    let current = fs::read_to_string(&stamp).is_ok_and(|made_from| made_from == REQUIREMENTS);
    if !(current && python.exists()) {
        tracing::info!(venv = %venv.display(), "making the Python virtualenv of the tests");
        if !python.exists() {
            run(Command::new(BASE_PYTHON).arg("-m").arg("venv").arg(venv));
        }
        run(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            REQUIREMENTS_PATH,
        ]));
        fs::write(&stamp, REQUIREMENTS)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", stamp.display()));
    }
    let _ = FileExt::unlock(&lock);
    python
}

/// Runs `command`; panics with its output when it fails.
fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error} (is python3 installed?)"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
