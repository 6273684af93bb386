//! Database URLs for sqlx: their scheme, a file path as a URL, and their text with the password
//! hidden for errors and logs.

/// The URL's scheme (`sqlite` in `sqlite://x.db` or `sqlite:x.db`), if it has one.
pub fn url_scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// Whether a `sqlite:` URL names an in-memory database rather than a file.
pub fn is_sqlite_in_memory(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    url.contains(":memory:") || query.split('&').any(|pair| pair == "mode=memory")
}

/// A `sqlite://` URL for a file path. sqlx percent-decodes the path, so `%`, `?` and `#` (which
/// would otherwise start an escape, the query or a fragment) are encoded.
pub fn sqlite_url_for_path(path: &std::path::Path) -> String {
    let mut url = String::from("sqlite://");
    for character in path.to_string_lossy().chars() {
        match character {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            other => url.push(other),
        }
    }
    url
}

/// The URL with the password (`user:PASSWORD@` or `password=PASSWORD`) replaced by `***`, for
/// errors, logs and `Debug`.
pub fn redact_url(url: &str) -> String {
    let mut redacted = url.to_string();
    if let Some(scheme_end) = redacted.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = redacted[authority_start..]
            .find(['/', '?', '#'])
            .map_or(redacted.len(), |offset| authority_start + offset);
        if let Some(at) = redacted[authority_start..authority_end].rfind('@') {
            let userinfo = &redacted[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                let password_start = authority_start + colon + 1;
                redacted.replace_range(password_start..authority_start + at, "***");
            }
        }
    }
    if let Some((before, query)) = redacted.split_once('?') {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        redacted = format!("{before}?{}", pairs.join("&"));
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(url_scheme("sqlite://x.db?mode=rwc"), Some("sqlite"));
        assert_eq!(url_scheme("sqlite:x.db"), Some("sqlite"));
        assert_eq!(url_scheme("postgres://u@h/db"), Some("postgres"));
        assert_eq!(url_scheme("no scheme"), None);
        assert_eq!(url_scheme("/tmp/x.db"), None);
        assert!(is_sqlite_in_memory("sqlite::memory:"));
        assert!(is_sqlite_in_memory("sqlite://x?mode=memory"));
        assert!(!is_sqlite_in_memory("sqlite://x.db?mode=rwc"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://bream:secret@db:5432/x"),
            "postgres://bream:***@db:5432/x"
        );
        assert_eq!(
            redact_url("postgres://bream@db/x?password=secret&sslmode=disable"),
            "postgres://bream@db/x?password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgres://bream@db/x"), "postgres://bream@db/x");
        assert_eq!(
            redact_url("sqlite://./data/bream.db"),
            "sqlite://./data/bream.db"
        );
    }

    #[test]
    fn paths_become_urls() {
        let check = |path: &str| sqlite_url_for_path(std::path::Path::new(path));
        assert_eq!(check("./data/bream.db"), "sqlite://./data/bream.db");
        assert_eq!(check("/tmp/a?b#c%d.db"), "sqlite:///tmp/a%3Fb%23c%25d.db");
    }
}
