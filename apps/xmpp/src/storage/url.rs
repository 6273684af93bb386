//! Database URLs: the runtime's helpers (shared with its discovery registry), and which schemes
//! the storage accepts.

pub(crate) use bream_runtime::sql_url::{is_sqlite_in_memory, url_scheme};
pub use bream_runtime::sql_url::{redact_url, sqlite_url_for_path};

/// Whether [`Storage::connect`](super::Storage::connect) knows the URL's scheme.
pub(crate) fn url_scheme_is_supported(url: &str) -> bool {
    matches!(url_scheme(url), Some("sqlite" | "postgres" | "postgresql"))
}
