//! Database URLs: `bream_sql`'s helpers (shared with the runtime's discovery registry), and
//! which schemes the storage accepts.

pub use bream_sql::url::{redact_url, sqlite_url_for_path};

/// Whether [`Storage::connect`](super::Storage::connect) knows the URL's scheme.
pub(crate) fn url_scheme_is_supported(url: &str) -> bool {
    bream_sql::Backend::from_url(url).is_some()
}
