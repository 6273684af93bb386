//! A minimal HTTP/1.1 client for the GraphQL APIs: one `POST /api/graphql` (or `GET`, as
//! `curl --get` sends it) per connection, what `bream-xmpp ctl` needs to ask a running node.
//!
//! Why not `reqwest`: `ctl` sends one small JSON request to a node it knows, normally on
//! loopback, over plain HTTP (the admin API has no TLS). A general client would add a
//! connection pool, redirects, proxies, cookies and a TLS stack to the binary for that. This
//! one writes the request, reads the response to the end (`Connection: close`) with a size
//! bound and a deadline, and decodes `Content-Length` or chunked bodies.
//!
//! Outcomes: the decoded JSON body for any status the API answers with a JSON body (200, 400,
//! 401, 503); [`ClientError::NotRunning`] when nothing listens; the other variants for what
//! is not the admin API.

use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::admin::GRAPHQL_PATH;

/// The largest response read, in bytes.
pub const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// How long one request may take, connecting included. Longer than the server's own
/// [`REQUEST_TIMEOUT`](super::admin::REQUEST_TIMEOUT), so its answer arrives first.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(35);

/// Why a request got no GraphQL answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing accepts connections at the address: the node is not running (or its admin API
    /// is elsewhere).
    #[error("no admin API at {address}: {source}")]
    NotRunning {
        /// The address tried.
        address: SocketAddr,
        /// The connect error.
        source: std::io::Error,
    },
    /// The exchange failed after connecting.
    #[error("admin API at {address}: {source}")]
    Io {
        /// The address.
        address: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No complete answer within [`CLIENT_TIMEOUT`].
    #[error("admin API at {address} did not answer within {timeout:?}")]
    Timeout {
        /// The address.
        address: SocketAddr,
        /// The deadline that applied.
        timeout: Duration,
    },
    /// The answer is not an HTTP response with a JSON body.
    #[error("admin API at {address} answered something else than GraphQL: {reason}")]
    InvalidResponse {
        /// The address.
        address: SocketAddr,
        /// What is wrong.
        reason: String,
    },
}

/// An HTTP response: status and decoded JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body as JSON.
    pub body: Value,
}

/// Where the admin API is and how to log in.
#[derive(Clone)]
pub struct AdminClient {
    /// The API's address.
    pub address: SocketAddr,
    /// HTTP Basic `(username, password)`, if any.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AdminClient")
            .field("address", &self.address)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(user, _)| (user, "***")),
            )
            .finish()
    }
}

impl AdminClient {
    /// Sends `{"query": query, "variables": variables}` and returns the answer.
    ///
    /// Errors: see the module docs.
    pub async fn query(&self, query: &str, variables: Value) -> Result<ApiResponse, ClientError> {
        let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
        let address = self.address;
        match tokio::time::timeout(CLIENT_TIMEOUT, self.exchange(&body)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ClientError::Timeout {
                address,
                timeout: CLIENT_TIMEOUT,
            }),
        }
    }

    /// Sends `query` as `GET /api/graphql?query=...`, URL-encoded, with `Content-Type:
    /// application/json`: what `curl --get --data-urlencode 'query=...'` sends. Mutations are
    /// allowed over `GET`, as in MongooseIM.
    ///
    /// Errors: see the module docs.
    pub async fn get(&self, query: &str) -> Result<ApiResponse, ClientError> {
        let head = format!(
            "GET {GRAPHQL_PATH}?query={} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nConnection: close\r\n",
            url_encode(query),
            self.address
        );
        let address = self.address;
        match tokio::time::timeout(CLIENT_TIMEOUT, self.send(head, "")).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ClientError::Timeout {
                address,
                timeout: CLIENT_TIMEOUT,
            }),
        }
    }

    async fn exchange(&self, body: &str) -> Result<ApiResponse, ClientError> {
        let head = format!(
            "POST {GRAPHQL_PATH} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.address,
            body.len()
        );
        self.send(head, body).await
    }

    /// Writes `head` (the request line and headers, each ending in CRLF), the credentials,
    /// the blank line and `body`, and reads the whole response.
    async fn send(&self, mut request: String, body: &str) -> Result<ApiResponse, ClientError> {
        let address = self.address;
        let mut stream = TcpStream::connect(address)
            .await
            .map_err(|source| ClientError::NotRunning { address, source })?;
        let io = |source| ClientError::Io { address, source };
        if let Some((username, password)) = &self.credentials {
            let token = BASE64.encode(format!("{username}:{password}"));
            request.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        let mut response = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let read = stream.read(&mut chunk).await.map_err(io)?;
            if read == 0 {
                break;
            }
            if response.len() + read > RESPONSE_BYTES_MAX {
                return Err(ClientError::InvalidResponse {
                    address,
                    reason: format!("more than {RESPONSE_BYTES_MAX} bytes (RESPONSE_BYTES_MAX)"),
                });
            }
            response.extend_from_slice(&chunk[..read]);
        }
        parse_response(&response).map_err(|reason| ClientError::InvalidResponse { address, reason })
    }
}

/// `text` percent-encoded for a URL query value: everything but RFC 3986's unreserved
/// characters, as `curl --data-urlencode` does.
fn url_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Status and JSON body of a complete HTTP/1.1 response.
fn parse_response(bytes: &[u8]) -> Result<ApiResponse, String> {
    let head_end = bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| "headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        }
    }
    let raw = &bytes[head_end + 4..];
    let body = if chunked {
        decode_chunked(raw)?
    } else if let Some(length) = length {
        raw.get(..length)
            .ok_or("body shorter than its Content-Length")?
            .to_vec()
    } else {
        raw.to_vec()
    };
    let body = serde_json::from_slice(&body)
        .map_err(|error| format!("HTTP {status} with a body that is not JSON: {error}"))?;
    Ok(ApiResponse { status, body })
}

fn decode_chunked(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let data = raw.get(..size).ok_or("truncated chunk")?;
        body.extend_from_slice(data);
        raw = raw.get(size + 2..).ok_or("truncated chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            url_encode("mutation {x(to: \"a@b\")}"),
            "mutation%20%7Bx%28to%3A%20%22a%40b%22%29%7D"
        );
        assert_eq!(url_encode("Az09-._~é"), "Az09-._~%C3%A9");
    }

    #[test]
    fn content_length_and_chunked_bodies_decode() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{\"a\":1}";
        assert_eq!(
            parse_response(plain),
            Ok(ApiResponse {
                status: 200,
                body: serde_json::json!({"a": 1})
            })
        );
        let chunked =
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":2}\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(chunked),
            Ok(ApiResponse {
                status: 401,
                body: serde_json::json!({"a": 2})
            })
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{}").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n\r\n<html>").is_err());
    }
}
