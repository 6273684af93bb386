//! The GraphQL APIs' client: one `POST /api/graphql` (or `GET`, as `curl --get` sends it) per
//! connection, what `bream-xmpp ctl` needs to ask a running node.
//!
//! Why not `reqwest` or hyper-util's pooled client: `ctl` sends one small JSON request to a
//! node it knows, normally on loopback, over plain HTTP (the admin API has no TLS). A general
//! client would add a connection pool, redirects, proxies, cookies and a TLS stack to the
//! binary for that. This one opens a TCP connection, speaks HTTP/1.1 over it with hyper's
//! connection-level client (already in the build as axum's server), reads the body with a size
//! bound, and gives the whole exchange a deadline.
//!
//! Outcomes: the decoded JSON body for any status the API answers with a JSON body (200, 400,
//! 401, 503); [`ClientError::NotRunning`] when nothing listens; the other variants for what
//! is not the admin API.

use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use tokio::net::TcpStream;

use super::admin::GRAPHQL_PATH;

/// The largest response body read, in bytes.
pub const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// How long one request may take, connecting included. Longer than the server's own
/// [`REQUEST_TIMEOUT`](super::admin::REQUEST_TIMEOUT), so its answer arrives first.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(35);

/// What a query value keeps unencoded: RFC 3986's unreserved characters, as
/// `curl --data-urlencode` does.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
    /// The request could not be built as HTTP (`http` rejected its URI or a header value).
    #[error("a request to the admin API at {address} could not be made: {reason}")]
    InvalidRequest {
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
        self.send(Method::POST, GRAPHQL_PATH.to_string(), body)
            .await
    }

    /// Sends `query` as `GET /api/graphql?query=...`, URL-encoded, with `Content-Type:
    /// application/json`: what `curl --get --data-urlencode 'query=...'` sends. Mutations are
    /// allowed over `GET`, as in MongooseIM.
    ///
    /// Errors: see the module docs.
    pub async fn get(&self, query: &str) -> Result<ApiResponse, ClientError> {
        let target = format!("{GRAPHQL_PATH}?query={}", url_encode(query));
        self.send(Method::GET, target, String::new()).await
    }

    /// Sends one request to `target` (path and query) on a new connection and reads the
    /// whole response, all within [`CLIENT_TIMEOUT`].
    async fn send(
        &self,
        method: Method,
        target: String,
        body: String,
    ) -> Result<ApiResponse, ClientError> {
        let address = self.address;
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header(HOST, address.to_string())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(CONNECTION, "close");
        if let Some((username, password)) = &self.credentials {
            let token = BASE64.encode(format!("{username}:{password}"));
            request = request.header(AUTHORIZATION, format!("Basic {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| ClientError::InvalidRequest {
                address,
                reason: error.to_string(),
            })?;
        match tokio::time::timeout(CLIENT_TIMEOUT, exchange(address, request)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ClientError::Timeout {
                address,
                timeout: CLIENT_TIMEOUT,
            }),
        }
    }
}

/// Connects to `address`, sends `request` and reads the whole response (JSON).
async fn exchange(
    address: SocketAddr,
    request: Request<Full<Bytes>>,
) -> Result<ApiResponse, ClientError> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|source| ClientError::NotRunning { address, source })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| http_error(address, &error))?;
    // The connection does the reading and writing; it ends once the response is read and
    // `sender` is dropped (and the server closes, as asked).
    let response = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| http_error(address, &error))?;
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), RESPONSE_BYTES_MAX)
            .collect()
            .await
            .map_err(|error| body_error(address, error.as_ref()))?
            .to_bytes();
        Ok((status, bytes))
    };
    let (response, _closed) = tokio::join!(response, connection);
    let (status, bytes) = response?;
    let body = serde_json::from_slice(&bytes).map_err(|error| ClientError::InvalidResponse {
        address,
        reason: format!("HTTP {status} with a body that is not JSON: {error}"),
    })?;
    Ok(ApiResponse { status, body })
}

/// `text` percent-encoded for a URL query value: everything but RFC 3986's unreserved
/// characters, as `curl --data-urlencode` does.
fn url_encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// A hyper error as ours: what does not parse as HTTP or ends before its end is
/// [`ClientError::InvalidResponse`], the rest (a reset, say) [`ClientError::Io`].
fn http_error(address: SocketAddr, error: &hyper::Error) -> ClientError {
    let reason = with_causes(error);
    // A body shorter than its `Content-Length` or last chunk.
    let cut_short = std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .is_some_and(|source| source.kind() == std::io::ErrorKind::UnexpectedEof);
    if error.is_parse() || error.is_parse_status() || error.is_incomplete_message() || cut_short {
        ClientError::InvalidResponse { address, reason }
    } else {
        ClientError::Io {
            address,
            source: std::io::Error::other(reason),
        }
    }
}

/// A failure reading the body: too long, or hyper's.
fn body_error(
    address: SocketAddr,
    error: &(dyn std::error::Error + Send + Sync + 'static),
) -> ClientError {
    if error.is::<LengthLimitError>() {
        ClientError::InvalidResponse {
            address,
            reason: format!("a body of more than {RESPONSE_BYTES_MAX} bytes (RESPONSE_BYTES_MAX)"),
        }
    } else if let Some(error) = error.downcast_ref::<hyper::Error>() {
        http_error(address, error)
    } else {
        ClientError::Io {
            address,
            source: std::io::Error::other(with_causes(error)),
        }
    }
}

/// `error` and its sources, `: `-separated (hyper's own message names only the kind).
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(source) = cause {
        text.push_str(": ");
        text.push_str(&source.to_string());
        cause = source.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            url_encode("mutation {x(to: \"a@b\")}"),
            "mutation%20%7Bx%28to%3A%20%22a%40b%22%29%7D"
        );
        assert_eq!(url_encode("Az09-._~é"), "Az09-._~%C3%A9");
    }

    /// `client.get("{a}")` against a server that answers `response` and closes; the answer
    /// and the request head the server read.
    async fn get_against(
        response: &'static [u8],
        credentials: Option<(String, String)>,
    ) -> (Result<ApiResponse, ClientError>, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).await.unwrap();
                head.push(byte[0]);
            }
            stream.write_all(response).await.unwrap();
            stream.shutdown().await.unwrap();
            String::from_utf8(head).unwrap()
        });
        let client = AdminClient {
            address,
            credentials,
        };
        let result = client.get("{a}").await;
        (result, server.await.unwrap())
    }

    #[tokio::test]
    async fn content_length_and_chunked_bodies_decode() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{\"a\":1}";
        let (result, head) = get_against(plain, Some(("admin".into(), "secret".into()))).await;
        assert_eq!(
            result.unwrap(),
            ApiResponse {
                status: 200,
                body: serde_json::json!({"a": 1})
            }
        );
        let head = head.to_ascii_lowercase();
        assert!(
            head.starts_with("get /api/graphql?query=%7ba%7d http/1.1\r\n"),
            "{head}"
        );
        // base64("admin:secret")
        assert!(
            head.contains("\r\nauthorization: basic ywrtaw46c2vjcmv0\r\n"),
            "{head}"
        );
        assert!(
            head.contains("\r\ncontent-type: application/json\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nhost: 127.0.0.1:"), "{head}");

        let chunked =
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":2}\r\n0\r\n\r\n";
        let (result, head) = get_against(chunked, None).await;
        assert_eq!(
            result.unwrap(),
            ApiResponse {
                status: 401,
                body: serde_json::json!({"a": 2})
            }
        );
        assert!(
            !head.to_ascii_lowercase().contains("authorization"),
            "{head}"
        );

        for bad in [
            &b"HTTP/1.1 200 OK\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\n\r\n<html>",
            b"SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            let (result, _) = get_against(bad, None).await;
            assert!(
                matches!(result, Err(ClientError::InvalidResponse { .. })),
                "{:?}: {result:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[tokio::test]
    async fn nothing_listening_is_not_running() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let client = AdminClient {
            address,
            credentials: None,
        };
        assert!(matches!(
            client.query("{a}", Value::Null).await,
            Err(ClientError::NotRunning { .. })
        ));
    }
}
