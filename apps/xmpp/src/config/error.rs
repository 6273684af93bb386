//! Why a configuration could not be loaded. Every variant names the file and the key, and a
//! parse error also the line, so the operator can fix the file without reading code.

use std::path::PathBuf;

/// Why [`Config::load`](super::Config::load) or [`Config::from_toml`](super::Config::from_toml)
/// failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("could not read config file {path:?}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The file is larger than [`CONFIG_BYTES_MAX`](super::CONFIG_BYTES_MAX).
    #[error("config file {path:?} is {bytes} bytes, more than the {max} accepted")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The limit.
        max: u64,
    },

    /// The text is not TOML, or has an unknown key, or a value of the wrong type or out of a
    /// key's set of values (an unknown `tls.mode`, say).
    #[error("{origin}{}: {message}{}", at_line(.line, .line_text), in_table(.table))]
    Parse {
        /// `config file "PATH"`, or `config text` when parsed from a string.
        origin: String,
        /// The 1-based line of the offending key or value, when the parser knows it.
        line: Option<usize>,
        /// That line's text, trimmed.
        line_text: String,
        /// The `[table]` header above that line, if any.
        table: Option<String>,
        /// The parser's message, naming the unknown key or the expected type.
        message: String,
    },

    /// A value parsed, but is not allowed (an empty host list, two listeners on one port, a
    /// zero timeout, ...).
    #[error("{origin}: invalid {key} = {value}: {reason}")]
    Invalid {
        /// `config file "PATH"`, or `config text`.
        origin: String,
        /// The key's dotted path, as in `listen.c2s[1].tls.keyfile`.
        key: String,
        /// The rejected value, as TOML would show it.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn at_line(line: &Option<usize>, line_text: &str) -> String {
    match line {
        Some(line) => format!(", line {line} (`{line_text}`)"),
        None => String::new(),
    }
}

fn in_table(table: &Option<String>) -> String {
    match table {
        Some(table) => format!(" (in {table})"),
        None => String::new(),
    }
}
