//! The `bream-xmpp` command line: `start`, and `ctl` admin commands named as `mongooseimctl`'s.
//!
//! ```text
//! bream-xmpp start [--config FILE]
//! bream-xmpp ctl account registerUser --domain localhost --username alice --password secret
//! bream-xmpp ctl account removeUser --domain localhost --username alice
//! bream-xmpp ctl account listUsers --domain localhost
//! bream-xmpp ctl account countUsers --domain localhost
//! bream-xmpp ctl account checkUser --domain localhost --username alice
//! bream-xmpp ctl account changeUserPassword --domain localhost --username alice --newPassword s3cret
//! bream-xmpp ctl session listSessions|countSessions|kickUser ...
//! bream-xmpp ctl cets systemInfo|tableInfo
//! bream-xmpp ctl server status|leaveCluster|stop
//! bream-xmpp ctl debug supervisionTree|killProcess|panicProcess|delayMessages|dropMessages|cutLink|healLink
//! bream-xmpp ctl graphql '{ stat { globalStats { onlineUsers } } }'
//! bream-xmpp migrate [--config FILE]
//! ```
//!
//! Environment variables override the file's node name, address, cookie and database URL
//! (`BREAM_NODE_NAME`, `BREAM_NODE_IP`, `BREAM_DIST_PORT`, `BREAM_COOKIE`,
//! `BREAM_DATABASE_URL`, `BREAM_CLUSTER_NAME`; see `Config::apply_env`).
//!
//! ```text
//! ```
//!
//! `--config FILE` is accepted anywhere on the line; without it every default applies (domain
//! `localhost`, SQLite in `./data`).
//!
//! # Output and exit status
//!
//! Decided here and nowhere else:
//! - success: the result as one line of JSON on stdout (an object with `"result": "ok"` and a
//!   `"message"`, or an array for lists, a number for counts), exit status [`EXIT_SUCCESS`];
//! - an operation error (a duplicate user, a domain not in `general.hosts`, an invalid
//!   username, an unknown user, a bad config file, an unreachable database, a session command
//!   with no running node): `{"error": "...", "code": "..."}` on stderr, exit status
//!   [`EXIT_FAILURE`]; the codes are [`output::ErrorCode`];
//! - bad usage (an unknown command or option, a missing argument): clap's message and usage on
//!   stderr, exit status [`EXIT_USAGE`]. `--help` and `--version` print to stdout and succeed.
//!
//! `start` logs with `tracing` on stderr (level from `general.loglevel`, or `RUST_LOG` when
//! set) and exits 1 when it cannot start. `ctl` logs warnings only, on stderr, so stdout stays
//! JSON; the JSON error, if any, is stderr's last line.
//!
//! # Account commands and a running node
//!
//! Account commands work straight on the database named by the config, so they work with the
//! node stopped as well as running: SQLite in WAL mode lets a `ctl` process write beside the
//! server, and PostgreSQL is shared anyway. They stay on the database when the node runs too:
//! one path for both cases, and the same checks and messages either way. Session commands and
//! `ctl graphql` need the node's memory: they ask the node's admin GraphQL API
//! (`[listen.graphql_admin]` of the same config file, see `cli/graphql.rs`) and fail with
//! `node_not_running` when nothing answers there.
//!
//! Passwords are taken as arguments, as `mongooseimctl` takes them; they are visible in the
//! process list while the command runs. Only their SCRAM secrets are stored.

mod account;
mod cluster;
mod debug;
mod graphql;
pub mod output;
mod session;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use self::account::AccountCommand;
pub use self::cluster::{CetsCommand, ServerCommand};
pub use self::debug::DebugCommand;
use self::output::{CtlError, ErrorCode};
pub use self::session::SessionCommand;
use crate::config::Config;
use crate::storage::Storage;

/// Exit status of a command that did what was asked.
pub const EXIT_SUCCESS: u8 = 0;
/// Exit status of a command that failed (see the module docs).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status of a command line that does not parse (clap's own choice too).
pub const EXIT_USAGE: u8 = 2;

/// `bream-xmpp`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "bream-xmpp",
    version,
    about = "A clustered XMPP server on the Bream runtime"
)]
pub struct Args {
    /// TOML config file; without it every default applies (domain localhost, data in ./data)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `bream-xmpp`'s commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server until ctrl-c or SIGTERM
    Start,
    /// Create or update the database schema, then exit (`start` does it too)
    Migrate,
    /// Administer accounts and sessions (mongooseimctl's categories and commands)
    Ctl {
        /// The category.
        #[command(subcommand)]
        category: Category,
    },
}

/// `ctl` categories.
#[derive(Debug, Subcommand)]
pub enum Category {
    /// Accounts, straight on the database (node running or not)
    Account {
        /// The command.
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Sessions of a running node
    Session {
        /// The command.
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// The cluster, as a running node sees it (CETS)
    Cets {
        /// The command.
        #[command(subcommand)]
        command: CetsCommand,
    },
    /// A running node: status, leaving the cluster, stopping
    Server {
        /// The command.
        #[command(subcommand)]
        command: ServerCommand,
    },
    /// A running node's supervision tree and fault injection ([debug] fault_injection)
    Debug {
        /// The command.
        #[command(subcommand)]
        command: DebugCommand,
    },
    /// Send a raw query to the running node's admin GraphQL API; prints the whole response
    Graphql {
        /// The GraphQL query or mutation
        query: String,
    },
}

/// Runs parsed arguments to completion; the exit status follows the module docs.
pub fn run(args: Args) -> ExitCode {
    match args.command {
        Command::Start => start(args.config.as_deref()),
        Command::Migrate => migrate(args.config.as_deref()),
        Command::Ctl { category } => ctl(args.config.as_deref(), category),
    }
}

/// Prints a command line that did not parse (or `--help`, `--version`) as clap does, and gives
/// the exit status: [`EXIT_USAGE`] for errors, [`EXIT_SUCCESS`] for help and version.
pub fn usage_error(error: &clap::Error) -> ExitCode {
    // Printing can only fail when the terminal is gone, and then there is no one to tell.
    let _ = error.print();
    if error.use_stderr() {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::from(EXIT_SUCCESS)
    }
}

fn start(config_path: Option<&Path>) -> ExitCode {
    let config = match Config::load_with_env(config_path) {
        Ok(config) => config,
        Err(error) => {
            output::print_start_failure(&error);
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    init_logging(config.general.loglevel.filter_directive());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            output::print_start_failure(&format!("could not start the async runtime: {error}"));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let outcome = runtime.block_on(async {
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            config = ?config_path,
            hosts = ?config.general.hosts,
            "starting"
        );
        let storage = Storage::connect_with(config.storage_options()).await?;
        crate::server::run(config, storage).await
    });
    match outcome {
        Ok(()) => ExitCode::from(EXIT_SUCCESS),
        Err(error) => {
            output::print_start_failure(&format!("{error:#}"));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Connects to the configured database, which runs the migrations, and exits.
fn migrate(config_path: Option<&Path>) -> ExitCode {
    init_logging("warn,sqlx=error");
    run_command(async {
        let config = load_config(config_path)?;
        let storage = Storage::connect_with(config.storage_options())
            .await
            .map_err(|error| CtlError::new(ErrorCode::DatabaseError, error.to_string()))?;
        storage.close().await;
        Ok(serde_json::json!({
            "result": "ok",
            "message": format!(
                "the schema of {} is up to date",
                crate::storage::redact_url(&config.database_url())
            ),
        }))
    })
}

fn ctl(config_path: Option<&Path>, category: Category) -> ExitCode {
    // sqlx's slow-statement warnings say nothing a `ctl` user can act on.
    init_logging("warn,sqlx=error");
    run_command(async {
        let config = load_config(config_path)?;
        match category {
            Category::Account { command } => account::run(&config, command).await,
            Category::Session { command } => session::run(&config, command).await,
            Category::Cets { command } => cluster::run_cets(&config, command).await,
            Category::Server { command } => cluster::run_server(&config, command).await,
            Category::Debug { command } => debug::run(&config, command).await,
            Category::Graphql { query } => graphql::run(&config, &query).await,
        }
    })
}

/// Runs one command on a current-thread runtime, prints its JSON result or its error, and gives
/// the exit code.
fn run_command(
    command: impl std::future::Future<Output = Result<serde_json::Value, CtlError>>,
) -> ExitCode {
    let outcome = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(command),
        Err(error) => Err(CtlError::new(
            ErrorCode::InternalError,
            format!("could not start the async runtime: {error}"),
        )),
    };
    match outcome {
        Ok(result) => {
            output::print_result(&result);
            ExitCode::from(EXIT_SUCCESS)
        }
        Err(error) => {
            output::print_error(&error);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn load_config(path: Option<&Path>) -> Result<Config, CtlError> {
    Config::load_with_env(path)
        .map_err(|error| CtlError::new(ErrorCode::ConfigError, error.to_string()))
}

/// Logs to stderr: `RUST_LOG` when set, else `default_directive`. Keeps an existing global
/// subscriber (tests that call [`run`] twice in one process).
fn init_logging(default_directive: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_directive));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
