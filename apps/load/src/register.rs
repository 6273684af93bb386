//! Creating the accounts `{prefix}1..={users}` with a command per account: bream-xmpp's
//! `ctl account registerUser`, or any template (`ejabberdctl register {user} {domain}
//! {password}`). An account that already exists counts as ready.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::task::JoinSet;

/// How long one registration command may take.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);

/// An argv template; `{user}`, `{password}` and `{domain}` are replaced in each word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterCommand(pub Vec<String>);

impl RegisterCommand {
    /// `PATH [--config FILE] ctl account registerUser --domain {domain} --username {user}
    /// --password {password}`.
    pub fn bream_ctl(binary: &Path, config: Option<&Path>) -> Self {
        let mut words = vec![binary.display().to_string()];
        if let Some(config) = config {
            words.push("--config".into());
            words.push(config.display().to_string());
        }
        for word in [
            "ctl",
            "account",
            "registerUser",
            "--domain",
            "{domain}",
            "--username",
            "{user}",
            "--password",
            "{password}",
        ] {
            words.push(word.into());
        }
        RegisterCommand(words)
    }

    /// A template split at whitespace.
    pub fn template(text: &str) -> Result<Self, String> {
        let words: Vec<String> = text.split_whitespace().map(String::from).collect();
        if words.is_empty() {
            return Err("--register-cmd is empty".into());
        }
        Ok(RegisterCommand(words))
    }

    /// The argv for one account.
    pub fn argv(&self, user: &str, password: &str, domain: &str) -> Vec<String> {
        self.0
            .iter()
            .map(|word| {
                word.replace("{user}", user)
                    .replace("{password}", password)
                    .replace("{domain}", domain)
            })
            .collect()
    }
}

/// Outcome of registering a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registered {
    /// Created now.
    pub created: u64,
    /// Already there.
    pub existing: u64,
    /// Failed (the first failure is logged).
    pub failed: u64,
}

impl Registered {
    /// Counts one finished registration task; `way` names how it registered, in the log line of
    /// the first failure (later ones are only counted).
    fn count(&mut self, joined: Result<Result<bool, String>, tokio::task::JoinError>, way: &str) {
        match joined {
            Ok(Ok(true)) => self.created += 1,
            Ok(Ok(false)) => self.existing += 1,
            Ok(Err(error)) => {
                if self.failed == 0 {
                    tracing::warn!(%error, way, "registration failed");
                }
                self.failed += 1;
            }
            Err(error) => {
                self.failed += 1;
                tracing::warn!(%error, "registration task failed");
            }
        }
    }
}

/// Registers `{prefix}{first}..={last}` running `concurrency` commands at once.
pub async fn register(
    command: &RegisterCommand,
    prefix: &str,
    range: std::ops::RangeInclusive<u64>,
    password: &str,
    domain: &str,
    concurrency: usize,
) -> Registered {
    let users = range.map(|index| format!("{prefix}{index}"));
    register_each(users, concurrency, "command", |user| {
        run_one(command.argv(&user, password, domain))
    })
    .await
}

/// Runs `register` for every user, `concurrency` at once, and counts the outcomes (`how`
/// names the way in the errors).
async fn register_each<F>(
    mut users: impl Iterator<Item = String>,
    concurrency: usize,
    how: &str,
    mut register: impl FnMut(String) -> F,
) -> Registered
where
    F: std::future::Future<Output = Result<bool, String>> + Send + 'static,
{
    let mut outcome = Registered::default();
    let mut running = JoinSet::new();
    loop {
        while running.len() < concurrency.max(1) {
            let Some(user) = users.next() else { break };
            running.spawn(register(user));
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        outcome.count(joined, how);
    }
    outcome
}

/// Runs one command: `Ok(true)` created, `Ok(false)` already existed.
async fn run_one(argv: Vec<String>) -> Result<bool, String> {
    let Some((program, arguments)) = argv.split_first() else {
        return Err("empty command".into());
    };
    let child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("{program}: {error}"))?;
    let output = match tokio::time::timeout(REGISTER_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(format!("{program}: {error}")),
        Err(_) => return Err(format!("{program}: no answer in {REGISTER_TIMEOUT:?}")),
    };
    if output.status.success() {
        return Ok(true);
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lowered = text.to_ascii_lowercase();
    if lowered.contains("exist") || lowered.contains("conflict") || lowered.contains("already") {
        return Ok(false);
    }
    Err(format!(
        "{program} exited {}: {}",
        output.status,
        text.trim()
    ))
}

/// Registers `{prefix}{first}..={last}` in-band (XEP-0077, as ejabberd and Prosody allow
/// from loopback in peers/), `concurrency` at once, each within [`REGISTER_TIMEOUT`].
pub async fn register_in_band(
    settings: std::sync::Arc<crate::client::LoginSettings>,
    prefix: &str,
    range: std::ops::RangeInclusive<u64>,
    password: &str,
    concurrency: usize,
) -> Registered {
    let users = range.map(|index| format!("{prefix}{index}"));
    register_each(users, concurrency, "in-band", |user| {
        let password = password.to_string();
        let settings = settings.clone();
        async move {
            let account = crate::client::Account {
                username: &user,
                password: &password,
                resource: "",
                source: std::net::IpAddr::from([127, 0, 0, 1]),
            };
            let deadline = tokio::time::Instant::now() + REGISTER_TIMEOUT;
            crate::client::Connection::register_in_band(&settings, &account, deadline)
                .await
                .map_err(|error| error.to_string())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_each_word() {
        let command =
            RegisterCommand::template("ejabberdctl register {user} {domain} {password}").unwrap();
        assert_eq!(
            command.argv("user7", "p w", "localhost"),
            ["ejabberdctl", "register", "user7", "localhost", "p w"]
        );
        assert!(RegisterCommand::template("  ").is_err());
        let ctl = RegisterCommand::bream_ctl(Path::new("/b"), Some(Path::new("/c.toml")));
        assert_eq!(
            ctl.argv("u", "p", "d")[..4],
            ["/b", "--config", "/c.toml", "ctl"]
        );
    }

    #[tokio::test]
    async fn counts_outcomes() {
        let ok = RegisterCommand::template("true {user}").unwrap();
        let outcome = register(&ok, "u", 1..=5, "p", "d", 2).await;
        assert_eq!(
            outcome,
            Registered {
                created: 5,
                existing: 0,
                failed: 0
            }
        );
        let failing = RegisterCommand::template("false").unwrap();
        assert_eq!(register(&failing, "u", 1..=2, "p", "d", 2).await.failed, 2);
        let existing = RegisterCommand::template("sh -c {password}").unwrap();
        let script = "echo user already exists >&2; exit 1";
        let outcome = register(&existing, "u", 1..=1, script, "d", 1).await;
        assert_eq!(outcome.existing, 1);
    }
}
