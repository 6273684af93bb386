//! `bream-xmpp`: parses the command line and hands it to [`bream_xmpp::cli`], where the work
//! and the choice of exit status live.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match bream_xmpp::cli::Args::try_parse() {
        Ok(args) => bream_xmpp::cli::run(args),
        Err(error) => bream_xmpp::cli::usage_error(&error),
    }
}
