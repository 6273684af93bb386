//! Interop with a real third-party client: Python's slixmpp drives the `bream-xmpp` binary.
//!
//! The scenarios live in `tests/interop/scenarios.py`; the test kit makes the virtualenv with
//! slixmpp on first use ([`bream_testkit::python`]). Each test starts the real server
//! binary on a free port with a temporary config and database, registers users with the real
//! CLI, and runs one scenario.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bream_testkit::{free_port, ChildGuard};

const BINARY: &str = env!("CARGO_BIN_EXE_bream-xmpp");

/// A running `bream-xmpp start`, killed on drop.
struct Server {
    child: ChildGuard,
    port: u16,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_with("")
    }

    /// [`Server::start`] with `extra` appended to the config file.
    fn start_with(extra: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("bream.toml");
        std::fs::write(
            &config,
            format!(
                "[general]\nhosts = [\"localhost\"]\ndata_dir = \"{}\"\n\n[[listen.c2s]]\nport = {port}\nip_address = \"127.0.0.1\"\n\n[listen.graphql_admin]\nport = {}\n\n[listen.graphql_user]\nport = 0\n\n[listen.prometheus]\nport = 0\n{extra}",
                dir.path().join("data").display(),
                free_port()
            ),
        )
        .expect("write config");
        let child = Command::new(BINARY)
            .args(["start", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bream-xmpp starts");
        let mut server = Server {
            child: ChildGuard::new("bream-xmpp", child),
            port,
            config,
            _dir: dir,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.child_mut().try_wait() {
                panic!("bream-xmpp exited before listening: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "bream-xmpp did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn register(&self, user: &str, password: &str) {
        let output = Command::new(BINARY)
            .arg("--config")
            .arg(&self.config)
            .args(crate::cli::register_command("localhost", user, password))
            .output()
            .expect("ctl runs");
        assert!(
            output.status.success(),
            "registerUser {user}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn scenario(&self, args: &[&str]) -> serde_json::Value {
        let python = bream_testkit::python::interpreter();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/scenarios.py");
        let output = Command::new(&python)
            .arg(script)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--domain",
                "localhost",
            ])
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {} ({error})", python.display()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        let result: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|_| {
            panic!(
                "scenario {args:?} printed no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        assert!(
            output.status.success() && result["ok"] == true,
            "scenario {args:?} failed: {result}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        result
    }
}

#[test]
fn slixmpp_logs_in_with_every_sasl_mechanism_over_starttls() {
    let server = Server::start();
    server.register("alice", "secret");
    let result = server.scenario(&["login", "alice", "secret"]);
    assert_eq!(result["mechanisms"]["wrong password"], "refused");
}
#[test]
fn slixmpp_clients_subscribe_chat_ping_and_disco() {
    let server = Server::start();
    server.register("alice", "secret");
    server.register("bob", "hunter2");
    let result = server.scenario(&["chat", "alice", "secret", "bob", "hunter2"]);
    assert_eq!(result["bob got"], "hello bob");
}

#[test]
fn slixmpp_gets_offline_messages_on_login() {
    let server = Server::start();
    server.register("alice", "secret");
    server.register("bob", "hunter2");
    let result = server.scenario(&["offline", "alice", "secret", "bob", "hunter2"]);
    assert_eq!(result["from"], "alice@localhost");
}

#[test]
fn slixmpp_enables_stream_management_and_resumes_after_a_cut() {
    let server = Server::start();
    server.register("alice", "secret");
    server.register("bob", "hunter2");
    let result = server.scenario(&["resume", "alice", "secret", "bob", "hunter2"]);
    assert_eq!(result["got"], "while you were cut off");
    assert_eq!(result["from"], "bob@localhost");
}

#[test]
fn slixmpp_resources_see_each_others_conversations_through_carbons() {
    let server = Server::start();
    server.register("alice", "secret");
    server.register("bob", "hunter2");
    let result = server.scenario(&["carbons", "alice", "secret", "bob", "hunter2"]);
    assert_eq!(result["received carbon from"], "bob@localhost/b");
    assert_eq!(result["sent carbon to"], "bob@localhost");
    assert_eq!(result["stanza-id by"], "alice@localhost");
}

#[test]
fn slixmpp_on_a_phone_gets_held_stanzas_in_order_and_answers_server_pings() {
    let server = Server::start_with(
        "\n[modules.mod_ping]\nsend_pings = true\nping_interval = 2\nping_req_timeout = 1\ntimeout_action = \"kill\"\n",
    );
    server.register("alice", "secret");
    server.register("bob", "hunter2");
    let result = server.scenario(&["phone", "alice", "secret", "bob", "hunter2"]);
    assert_eq!(
        result["seen while inactive"],
        serde_json::json!(["presence:two", "message:body"])
    );
    assert!(
        result["server pings answered"].as_u64() >= Some(2),
        "{result}"
    );
}

#[test]
fn slixmpp_registers_in_band_and_signs_in_with_the_new_account() {
    let server = Server::start_with("\n[modules.mod_register]\nenabled = true\n");
    let result = server.scenario(&["register", "mercutio", "Strong-Pass-42", "tybalt", "x"]);
    assert_eq!(result["first"], "result");
    assert_eq!(result["second"], "resource-constraint");
}
