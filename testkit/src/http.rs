//! A raw HTTP/1.1 `GET`, for the checks that must see the status line and headers exactly
//! as the server wrote them (health checks, GraphiQL, refusals).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::DEADLINE;

/// `GET path` with an optional `Authorization` header value and `Connection: close`; the
/// status and the whole response (head and body).
pub async fn raw_get(addr: SocketAddr, path: &str, authorization: Option<&str>) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let authorization = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{authorization}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("write");
    let mut response = String::new();
    tokio::time::timeout(DEADLINE, tcp.read_to_string(&mut response))
        .await
        .expect("an answer in time")
        .expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    (status, response)
}
