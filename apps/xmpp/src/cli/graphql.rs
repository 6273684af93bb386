//! `ctl graphql '<query>'`, and the way every `ctl` command reaches a running node: a POST to
//! its admin GraphQL API, at the address and with the credentials of `[listen.graphql_admin]`
//! in the same config file (an unspecified address such as `0.0.0.0` is reached on loopback).
//!
//! Outcomes: a response without `errors` succeeds (`ctl graphql` prints the whole response,
//! other commands the part they asked for); a response with `errors` fails with the first
//! error's message and its `extensions.code` (mapped by [`ErrorCode::from_api`]); nothing
//! listening fails with `node_not_running`; HTTP 401 with `unauthorized`; a disabled API with
//! `config_error`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde_json::Value;

use super::output::{CtlError, ErrorCode};
use crate::api::admin::AdminApiSettings;
use crate::api::client::{AdminClient, ClientError};
use crate::config::Config;

/// The admin API client for `config`'s node.
pub(super) fn client(config: &Config) -> Result<AdminClient, CtlError> {
    let Some(settings) = AdminApiSettings::from_config(config) else {
        return Err(CtlError::new(
            ErrorCode::ConfigError,
            "the admin API is disabled (listen.graphql_admin.enabled = false): \
             commands that need a running node cannot reach it",
        ));
    };
    let mut address = settings.bind;
    if address.ip().is_unspecified() {
        address.set_ip(match address.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(AdminClient {
        address: SocketAddr::new(address.ip(), address.port()),
        credentials: settings.credentials,
    })
}

/// Sends `query` to the running node; the whole response when it holds no error.
/// `not_running` is the message when no node answers.
pub(super) async fn call(
    config: &Config,
    query: &str,
    variables: Value,
    not_running: &str,
) -> Result<Value, CtlError> {
    let client = client(config)?;
    let response = client
        .query(query, variables)
        .await
        .map_err(|error| match error {
            ClientError::NotRunning { .. } => {
                tracing::debug!(%error, "no admin API");
                CtlError::new(ErrorCode::NodeNotRunning, not_running)
            }
            other => CtlError::new(ErrorCode::InternalError, other.to_string()),
        })?;
    if let Some(first) = response
        .body
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|errors| errors.first())
    {
        let message = first
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the admin API answered with an error");
        let code = first
            .pointer("/extensions/code")
            .and_then(Value::as_str)
            .unwrap_or("api_error");
        let mapped = ErrorCode::from_api(code);
        let message = if mapped == ErrorCode::ApiError {
            format!("{message} (code {code})")
        } else {
            message.to_string()
        };
        return Err(CtlError::new(mapped, message));
    }
    if response.status != 200 {
        return Err(CtlError::new(
            ErrorCode::InternalError,
            format!("the admin API answered HTTP {}", response.status),
        ));
    }
    Ok(response.body)
}

/// `ctl graphql '<query>'`: the whole response, `{"data": ...}`.
pub(super) async fn run(config: &Config, query: &str) -> Result<Value, CtlError> {
    call(
        config,
        query,
        Value::Null,
        "the node is not running (ctl graphql needs a running node)",
    )
    .await
}
