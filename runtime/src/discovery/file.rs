//! Discovery from a text file, read again on every poll.
//!
//! The file lists one node per line as `name@host host:port`, separated by whitespace. A `#`
//! starts a comment that runs to the end of the line; blank lines are ignored. The file may list
//! this node (one file shared by every node); a poll leaves it out.
//!
//! ```text
//! # bream cluster, written by the deploy tooling
//! a@host1 host1:4370
//! b@host2 host2:4370   # the spare
//! ```
//!
//! Because the file is read on every poll, an operator (or a config-management tool) changes the
//! membership by rewriting it; nothing needs a restart. Write it atomically (to a temporary file,
//! then rename), or a poll may see half of it and fail on the cut line: a failed poll changes
//! nothing, so the next one recovers.
//!
//! Outcomes of a poll: the list; [`DiscoveryError::FileRead`] if the file is missing,
//! unreadable, not UTF-8 or not read within [`FILE_READ_TIMEOUT`];
//! [`DiscoveryError::FileTooLarge`] past [`FILE_BYTES_MAX`]; [`DiscoveryError::FileSyntax`]
//! naming the file and line of the first malformed line or repeated name. A bad line fails the
//! whole poll rather than being skipped, so a typo is seen at once instead of as a node that
//! silently never joins. Like [`StaticList`](super::StaticList), this backend writes nothing,
//! so [`leave`](Discovery::leave) is a no-op, and assigns no `node_num`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::{self, BoxFuture, FutureExt};
use tokio::io::AsyncReadExt;

use super::{check_address, check_node_name, check_setting};
use super::{DiscoveredNode, Discovery, DiscoveryError, DiscoveryPoll};

/// The largest discovery file read, in bytes: far more than any cluster's list (a line is at
/// most about 500 bytes), small enough that a wrong path (a log file, a disk image) fails fast
/// instead of being read into memory.
pub const FILE_BYTES_MAX: u64 = 1024 * 1024;

/// How long one read of the discovery file may take: a local file answers in microseconds; this
/// bounds a stuck network filesystem.
pub const FILE_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Discovery from a file of `name@host host:port` lines.
#[derive(Debug, Clone)]
pub struct FileDiscovery {
    path: PathBuf,
    own_node_name: String,
}

impl FileDiscovery {
    /// Makes the backend for node `own_node_name`, reading `path` on every poll. The file need
    /// not exist yet: a poll before it does fails with [`DiscoveryError::FileRead`].
    ///
    /// Errors ([`DiscoveryError::InvalidConfig`]): `own_node_name` is not `name@host`.
    pub fn new(
        path: impl Into<PathBuf>,
        own_node_name: impl Into<String>,
    ) -> Result<Self, DiscoveryError> {
        let own_node_name = own_node_name.into();
        check_setting("node_name", &own_node_name, check_node_name)?;
        Ok(Self {
            path: path.into(),
            own_node_name,
        })
    }

    /// The file read on every poll.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read(&self) -> Result<String, DiscoveryError> {
        let read_error = |source| DiscoveryError::FileRead {
            path: self.path.clone(),
            source,
        };
        let read = async {
            let file = tokio::fs::File::open(&self.path).await?;
            // One byte past the limit tells "at the limit" from "over it" without a second stat.
            let mut bytes = Vec::new();
            file.take(FILE_BYTES_MAX + 1)
                .read_to_end(&mut bytes)
                .await?;
            Ok::<_, io::Error>(bytes)
        };
        let bytes = match tokio::time::timeout(FILE_READ_TIMEOUT, read).await {
            Ok(result) => result.map_err(read_error)?,
            Err(_elapsed) => {
                return Err(read_error(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within FILE_READ_TIMEOUT = {FILE_READ_TIMEOUT:?}"),
                )))
            }
        };
        if bytes.len() as u64 > FILE_BYTES_MAX {
            return Err(DiscoveryError::FileTooLarge {
                path: self.path.clone(),
                bytes_max: FILE_BYTES_MAX,
            });
        }
        String::from_utf8(bytes)
            .map_err(|error| read_error(io::Error::new(io::ErrorKind::InvalidData, error)))
    }
}

impl Discovery for FileDiscovery {
    /// Reads and parses the file; see the module docs for every outcome.
    fn poll(&self) -> BoxFuture<'_, Result<DiscoveryPoll, DiscoveryError>> {
        async move {
            let text = self.read().await?;
            let others = parse(&self.path, &text, &self.own_node_name)?;
            Ok(DiscoveryPoll {
                others,
                own_node_num: None,
            })
        }
        .boxed()
    }

    /// Does nothing: the file is the operator's, not this node's.
    fn leave(&self) -> BoxFuture<'_, Result<(), DiscoveryError>> {
        future::ready(Ok(())).boxed()
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

/// Parses the file's text into the nodes other than `own_node_name`, in file order.
fn parse(
    path: &Path,
    text: &str,
    own_node_name: &str,
) -> Result<Vec<DiscoveredNode>, DiscoveryError> {
    let syntax_error = |line: usize, reason: String| DiscoveryError::FileSyntax {
        path: path.to_path_buf(),
        line,
        reason,
    };
    // (name, line) of every listed node, this one included, to report repeats.
    let mut seen: Vec<(&str, usize)> = Vec::new();
    let mut others = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw_line
            .split_once('#')
            .map_or(raw_line, |(before, _)| before);
        let fields: Vec<&str> = content.split_whitespace().collect();
        let (name, address) = match fields.as_slice() {
            [] => continue,
            [name, address] => (*name, *address),
            _ => {
                return Err(syntax_error(
                    line,
                    format!(
                        "expected `name@host host:port`, found {} field(s)",
                        fields.len()
                    ),
                ))
            }
        };
        check_node_name(name)
            .map_err(|reason| syntax_error(line, format!("node name {name:?}: {reason}")))?;
        check_address(address)
            .map_err(|reason| syntax_error(line, format!("address {address:?}: {reason}")))?;
        if let Some((_, first_line)) = seen.iter().find(|(seen_name, _)| *seen_name == name) {
            return Err(syntax_error(
                line,
                format!("node {name} is already listed on line {first_line}"),
            ));
        }
        seen.push((name, line));
        if name != own_node_name {
            others.push(DiscoveredNode {
                name: name.to_string(),
                address: address.to_string(),
                node_num: None,
            });
        }
    }
    Ok(others)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Vec<(String, String)>, String> {
        parse(Path::new("nodes.txt"), text, "me@host")
            .map(|nodes| nodes.into_iter().map(|n| (n.name, n.address)).collect())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn comments_blank_lines_and_own_node() {
        let text = "# header\n\n  a@h1 h1:1  # trailing\nme@host host:2\r\n\tb@h2\th2:3\n";
        let expected = vec![
            ("a@h1".to_string(), "h1:1".to_string()),
            ("b@h2".to_string(), "h2:3".to_string()),
        ];
        assert_eq!(check(text), Ok(expected));
        assert_eq!(check(""), Ok(vec![]));
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let cases = [
            (
                "a@h h:1\nb@h\n",
                "nodes.txt:2: expected `name@host host:port`, found 1 field(s)",
            ),
            (
                "a@h h:1 extra",
                "nodes.txt:1: expected `name@host host:port`, found 3 field(s)",
            ),
            ("\n\nab h:1", "nodes.txt:3: node name \"ab\""),
            ("a@h h", "nodes.txt:1: address \"h\""),
            (
                "a@h h:1\n#\na@h h:2",
                "nodes.txt:3: node a@h is already listed on line 1",
            ),
        ];
        for (text, expected) in cases {
            let error = check(text).unwrap_err();
            assert!(error.starts_with(expected), "{text:?}: {error}");
        }
    }
}
