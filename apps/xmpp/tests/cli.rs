//! The `bream-xmpp` binary's `ctl` commands, run as a user would run them, against a
//! temporary SQLite database named by a temporary config file.
//!
//! Every command goes through [`Env::ctl`], which runs the binary and parses what it printed,
//! so the output format can change in one place.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bream_testkit::{free_port, ChildGuard};
use bream_xmpp::storage::Storage;
use serde_json::{json, Value};

/// A temporary directory holding a config file and the data directory it names.
struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
}

/// What one run printed, and its exit status.
#[derive(Debug)]
struct Outcome {
    code: i32,
    /// stdout, parsed as JSON (`Value::Null` when empty).
    stdout: Value,
    /// stderr, as text.
    stderr: String,
}

impl Outcome {
    /// The JSON error object: the last line of stderr (log lines, if any, come before it).
    fn error(&self) -> Value {
        let last_line = self.stderr.trim().lines().last().unwrap_or_default();
        serde_json::from_str(last_line).unwrap_or_else(|error| {
            panic!(
                "stderr does not end in a JSON object ({error}): {:?}",
                self.stderr
            )
        })
    }
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bream.toml");
        let data_dir = dir.path().join("data");
        std::fs::write(
            &config,
            format!(
                "[general]\n\
                 hosts = [\"localhost\", \"example.com\"]\n\
                 data_dir = {:?}\n\
                 \n\
                 [auth.password]\n\
                 scram_iterations = 4096\n\
                 \n\
                 [listen.graphql_admin]\n\
                 port = {}\n",
                data_dir.display().to_string(),
                free_port()
            ),
        )
        .unwrap();
        Env { dir, config }
    }

    /// Runs `bream-xmpp --config CONFIG ARGS...`.
    fn ctl(&self, args: &[&str]) -> Outcome {
        let output = Command::new(env!("CARGO_BIN_EXE_bream-xmpp"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stdout = if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(stdout.trim())
                .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {stdout:?}"))
        };
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout,
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn database_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join("data").join("bream.db").display()
        )
    }
}

fn register(env: &Env, domain: &str, username: &str, password: &str) -> Outcome {
    env.ctl(&register_command(domain, username, password))
}

/// `ctl account registerUser` for `username@domain`: shared with the interop tests, which
/// register their accounts through the same binary.
pub(crate) fn register_command<'a>(
    domain: &'a str,
    username: &'a str,
    password: &'a str,
) -> Vec<&'a str> {
    user_command("registerUser", domain, username, &["--password", password])
}

/// `ctl account COMMAND --domain DOMAIN --username USERNAME MORE...`: the shape of every
/// command on one account, so that each case names only what differs.
fn user_command<'a>(
    command: &'a str,
    domain: &'a str,
    username: &'a str,
    more: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "ctl",
        "account",
        command,
        "--domain",
        domain,
        "--username",
        username,
    ];
    args.extend_from_slice(more);
    args
}

/// Runs bream-xmpp with `args` only (no config of an [`Env`]): its exit code, stdout and
/// stderr.
fn run_without_env<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bream-xmpp"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn register_list_count_check_change_remove() {
    let env = Env::new();

    let registered = register(&env, "localhost", "alice", "secret");
    assert_eq!(registered.code, 0, "{registered:?}");
    assert_eq!(
        registered.stdout,
        json!({
            "result": "ok",
            "message": "User alice@localhost successfully registered",
            "jid": "alice@localhost",
        })
    );
    // Names are normalised: Bob is bob.
    assert_eq!(register(&env, "LocalHost", "Bob", "pw").code, 0);
    assert_eq!(register(&env, "example.com", "carol", "pw").code, 0);

    let listed = env.ctl(&["ctl", "account", "listUsers", "--domain", "localhost"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(listed.stdout, json!(["alice@localhost", "bob@localhost"]));
    let counted = env.ctl(&["ctl", "account", "countUsers", "--domain", "localhost"]);
    assert_eq!((counted.code, counted.stdout), (0, json!(2)));
    let counted = env.ctl(&["ctl", "account", "countUsers", "--domain", "example.com"]);
    assert_eq!((counted.code, counted.stdout), (0, json!(1)));

    let checked = env.ctl(&user_command("checkUser", "localhost", "alice", &[]));
    assert_eq!(checked.code, 0);
    assert_eq!(checked.stdout["exist"], json!(true));
    let checked = env.ctl(&user_command("checkUser", "localhost", "zed", &[]));
    assert_eq!(checked.code, 0);
    assert_eq!(checked.stdout["exist"], json!(false));
    assert_eq!(
        checked.stdout["message"],
        json!("User zed@localhost does not exist")
    );

    let changed = env.ctl(&user_command(
        "changeUserPassword",
        "localhost",
        "alice",
        &["--newPassword", "n3w secret"],
    ));
    assert_eq!(changed.code, 0, "{changed:?}");
    assert_eq!(changed.stdout["message"], json!("Password changed"));
    check_password(&env, "alice", "n3w secret", true);
    check_password(&env, "alice", "secret", false);
    check_password(&env, "bob", "pw", true);

    let removed = env.ctl(&user_command("removeUser", "localhost", "alice", &[]));
    assert_eq!(removed.code, 0, "{removed:?}");
    assert_eq!(
        removed.stdout["message"],
        json!("User alice@localhost successfully unregistered")
    );
    let listed = env.ctl(&["ctl", "account", "listUsers", "--domain", "localhost"]);
    assert_eq!(listed.stdout, json!(["bob@localhost"]));
}

/// Checks a stored password through the storage API, as the server will.
fn check_password(env: &Env, username: &str, password: &str, expected: bool) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let storage = Storage::connect(&env.database_url()).await.unwrap();
        let details = storage
            .pass_details("localhost", username)
            .await
            .unwrap()
            .expect("the user exists");
        assert_eq!(
            details.verify_password(password),
            expected,
            "{username}/{password}"
        );
        assert!(details.to_string().starts_with("==MULTI_SCRAM==,4096,"));
        storage.close().await;
    });
}

#[test]
fn operation_errors_exit_1_with_a_json_error() {
    let env = Env::new();
    assert_eq!(register(&env, "localhost", "alice", "secret").code, 0);

    let cases: [(&[&str], &str); 8] = [
        (&register_command("localhost", "alice", "x"), "user_exists"),
        (
            &register_command("elsewhere.org", "bob", "x"),
            "unknown_domain",
        ),
        (
            &register_command("local host", "bob", "x"),
            "unknown_domain",
        ),
        (
            &register_command("localhost", "bad@name", "x"),
            "invalid_username",
        ),
        (
            &register_command("localhost", "bob", ""),
            "invalid_password",
        ),
        (
            &user_command("removeUser", "localhost", "nobody", &[]),
            "user_not_found",
        ),
        (
            &user_command(
                "changeUserPassword",
                "localhost",
                "nobody",
                &["--newPassword", "x"],
            ),
            "user_not_found",
        ),
        (
            &["ctl", "account", "listUsers", "--domain", "elsewhere.org"],
            "unknown_domain",
        ),
    ];
    for (args, code) in cases {
        let outcome = env.ctl(args);
        assert_eq!(outcome.code, 1, "{args:?}: {outcome:?}");
        assert_eq!(outcome.stdout, Value::Null, "{args:?}");
        let error = outcome.error();
        assert_eq!(error["code"], json!(code), "{args:?}: {error}");
        assert!(error["error"].as_str().is_some_and(|text| !text.is_empty()));
    }
    let duplicate = register(&env, "localhost", "alice", "other");
    assert_eq!(
        duplicate.error()["error"],
        json!("User alice@localhost already exists")
    );
    // Nothing above registered anyone.
    let listed = env.ctl(&["ctl", "account", "listUsers", "--domain", "localhost"]);
    assert_eq!(listed.stdout, json!(["alice@localhost"]));
}

#[test]
fn session_commands_need_a_running_node() {
    let env = Env::new();
    for args in [
        &["ctl", "session", "listSessions"][..],
        &["ctl", "session", "countSessions", "--domain", "localhost"],
        &[
            "ctl",
            "session",
            "kickUser",
            "--user",
            "alice@localhost/phone",
        ],
    ] {
        let outcome = env.ctl(args);
        assert_eq!(outcome.code, 1, "{args:?}: {outcome:?}");
        assert_eq!(outcome.error()["code"], json!("node_not_running"));
        assert_eq!(
            outcome.error()["error"],
            json!("the node is not running (session commands need a running node)")
        );
    }
}

#[test]
fn bad_usage_exits_2_with_the_usage() {
    let env = Env::new();
    for args in [
        &["ctl", "account", "registerUser", "--domain", "localhost"][..],
        &[
            "ctl",
            "account",
            "registerUser",
            "--domain",
            "localhost",
            "--username",
            "a",
            "--password",
            "b",
            "--extra",
        ],
        &["ctl", "account", "noSuchCommand"],
        &["ctl", "nothing"],
        &["ctl"],
        &[],
        // mongooseimctl's names are camelCase; clap's default kebab-case is not accepted.
        &[
            "ctl",
            "account",
            "register-user",
            "--domain",
            "localhost",
            "--username",
            "a",
            "--password",
            "b",
        ],
    ] {
        let outcome = env.ctl(args);
        assert_eq!(outcome.code, 2, "{args:?}: {outcome:?}");
        assert_eq!(outcome.stdout, Value::Null, "{args:?}");
        assert!(
            outcome.stderr.contains("Usage:"),
            "{args:?}: {}",
            outcome.stderr
        );
    }
    let (code, stdout, _) = run_without_env(["ctl", "account", "--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("registerUser"), "{stdout}");
}

#[test]
fn a_bad_config_file_is_an_error_naming_the_key() {
    let env = Env::new();
    std::fs::write(
        &env.config,
        "[general]\nhosts = [\"localhost\"]\nhostz = 1\n",
    )
    .unwrap();
    let outcome = env.ctl(&["ctl", "account", "listUsers", "--domain", "localhost"]);
    assert_eq!(outcome.code, 1, "{outcome:?}");
    let error = outcome.error();
    assert_eq!(error["code"], json!("config_error"));
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("hostz") && message.contains("line 3"),
        "{message}"
    );

    let missing = env.dir.path().join("missing.toml");
    let (code, _, stderr) = run_without_env([
        "ctl".as_ref(),
        "account".as_ref(),
        "countUsers".as_ref(),
        "--domain".as_ref(),
        "localhost".as_ref(),
        "--config".as_ref(),
        missing.as_os_str(),
    ]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("config_error"), "{stderr}");
}

#[test]
fn account_commands_work_beside_a_running_server() {
    let env = Env::new();
    // No listeners, so the server never competes for a port with other tests.
    let mut config = std::fs::read_to_string(&env.config).unwrap();
    config.push_str("\n[listen]\nc2s = []\ngraphql_user.port = 0\nprometheus.port = 0\n");
    std::fs::write(&env.config, config).unwrap();

    let child = Command::new(env!("CARGO_BIN_EXE_bream-xmpp"))
        .arg("start")
        .arg("--config")
        .arg(&env.config)
        .current_dir(env.dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = ChildGuard::new("bream-xmpp", child);
    let (lines_sender, lines) = mpsc::channel();
    let stderr = server.child_mut().stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_sender.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(remaining) {
            Ok(line) if line.contains("storage connected and migrated") => break,
            Ok(_) => {}
            Err(error) => panic!("the server did not open its storage within 30 s: {error}"),
        }
    }

    assert_eq!(register(&env, "localhost", "alice", "secret").code, 0);
    let listed = env.ctl(&["ctl", "account", "listUsers", "--domain", "localhost"]);
    assert_eq!(listed.stdout, json!(["alice@localhost"]));
    assert!(!server.has_exited(), "the server stopped");

    server.signal("TERM");
    let status = server.wait_for_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "SIGTERM should stop the server cleanly: {status:?}"
    );
}
