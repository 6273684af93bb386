//! The HTTP shell the GraphQL endpoints share: one path answering `POST` (a JSON body) and
//! `GET` (URL parameters, or the GraphiQL page without `query`), authentication before
//! anything else, a bound on requests running at once, a deadline per request, and the mapping
//! of GraphQL outcomes to status codes described in [`crate::api`].
//!
//! Each endpoint brings its schema (any [`async_graphql::Executor`]) and an [`Authenticator`]:
//! the admin endpoint compares one configured user name and password, the user endpoint checks
//! `user@domain:password` against the account store. What the authenticator returns is
//! attached to the request as GraphQL context data, so resolvers know who is asking.

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql::Executor;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::api::ErrorCode;

/// The one path both GraphQL endpoints answer on (MongooseIM's).
pub const GRAPHQL_PATH: &str = "/api/graphql";

/// The largest request body accepted, in bytes. Queries are small; a `sendStanza` carries at
/// most one stanza (65536 bytes by default).
pub const BODY_BYTES_MAX: usize = 1024 * 1024;

/// Requests executed at once per endpoint; one more is answered 503 at once rather than queued,
/// so a runaway script cannot pile up work (each may hold a database connection).
pub const REQUESTS_CONCURRENT_MAX: usize = 64;

/// How long one request may run (the database's own query timeout is 5 s by default).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a request was refused before it ran.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Missing or wrong credentials: 401 with `WWW-Authenticate`.
    Unauthorized,
    /// The credentials could not be checked (the database failed): 503.
    Unavailable(String),
}

/// Checks a request's credentials. See the module docs.
pub(crate) trait Authenticator: Send + Sync + 'static {
    /// Who is asking, attached to the request as context data.
    type Identity: Send + Sync + 'static;

    /// The `realm` of the `WWW-Authenticate: Basic` challenge.
    fn realm(&self) -> &'static str;

    /// The identity behind the request's headers, or why it is refused.
    fn authenticate<'a>(
        &'a self,
        headers: &'a HeaderMap,
    ) -> BoxFuture<'a, Result<Self::Identity, Refusal>>;
}

/// The `(user, password)` of an `Authorization: Basic` header; `None` when there is none or it
/// does not decode. The password is what follows the first `:`.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = BASE64.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

struct Endpoint<E, A> {
    executor: E,
    authenticator: A,
    running: Semaphore,
    /// For logs: `admin` or `user`.
    name: &'static str,
}

/// The axum app serving `executor` on [`GRAPHQL_PATH`], guarded by `authenticator`.
pub(crate) fn graphql_app<E, A>(executor: E, authenticator: A, name: &'static str) -> Router
where
    E: Executor,
    A: Authenticator,
{
    let endpoint = Arc::new(Endpoint {
        executor,
        authenticator,
        running: Semaphore::new(REQUESTS_CONCURRENT_MAX),
        name,
    });
    Router::new()
        .route(
            GRAPHQL_PATH,
            get(graphql_get::<E, A>).post(graphql_post::<E, A>),
        )
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(endpoint)
}

/// `GET` parameters, as GraphQL over HTTP names them.
#[derive(Debug, Deserialize)]
struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

async fn graphql_get<E: Executor, A: Authenticator>(
    State(endpoint): State<Arc<Endpoint<E, A>>>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let identity = match endpoint.authenticator.authenticate(&headers).await {
        Ok(identity) => identity,
        Err(refusal) => return refused(&*endpoint, refusal),
    };
    let Query(params) = match params {
        Ok(params) => params,
        Err(rejection) => return request_error(&rejection.body_text()),
    };
    let Some(query) = params.query else {
        return Html(GraphiQLSource::build().endpoint(GRAPHQL_PATH).finish()).into_response();
    };
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables.filter(|text| !text.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(&variables) {
            Ok(value) => request = request.variables(async_graphql::Variables::from_json(value)),
            Err(error) => return request_error(&format!("variables are not JSON: {error}")),
        }
    }
    execute(&*endpoint, request.data(identity)).await
}

async fn graphql_post<E: Executor, A: Authenticator>(
    State(endpoint): State<Arc<Endpoint<E, A>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let identity = match endpoint.authenticator.authenticate(&headers).await {
        Ok(identity) => identity,
        Err(refusal) => return refused(&*endpoint, refusal),
    };
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => execute(&*endpoint, request.data(identity)).await,
        Err(error) => request_error(&format!(
            "the body is not a GraphQL request (JSON with \"query\"): {error}"
        )),
    }
}

fn refused<E, A: Authenticator>(endpoint: &Endpoint<E, A>, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Unauthorized => {
            tracing::info!(
                endpoint = endpoint.name,
                "GraphQL request refused: bad or missing credentials"
            );
            let mut response = error_response(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "missing or wrong credentials (HTTP Basic auth)",
            );
            let challenge = format!("Basic realm=\"{}\"", endpoint.authenticator.realm());
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
        Refusal::Unavailable(reason) => {
            tracing::warn!(endpoint = endpoint.name, %reason, "credentials could not be checked");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::DatabaseError,
                &format!("credentials could not be checked: {reason}"),
            )
        }
    }
}

async fn execute<E: Executor, A>(
    endpoint: &Endpoint<E, A>,
    request: async_graphql::Request,
) -> Response {
    // A query that does not parse never runs; MongooseIM answers it with 400.
    if let Err(error) = async_graphql::parser::parse_query(&request.query) {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::ParseError,
            &error.to_string(),
        );
    }
    let Ok(_permit) = endpoint.running.try_acquire() else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Overloaded,
            &format!("{REQUESTS_CONCURRENT_MAX} requests are running (REQUESTS_CONCURRENT_MAX)"),
        );
    };
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, endpoint.executor.execute(request))
        .await
    {
        Ok(response) => response,
        Err(_elapsed) => {
            tracing::warn!(endpoint = endpoint.name, timeout = ?REQUEST_TIMEOUT, "GraphQL request timed out");
            return error_response(
                StatusCode::OK,
                ErrorCode::InternalError,
                &format!("the request did not finish within {REQUEST_TIMEOUT:?}"),
            );
        }
    };
    // Validation errors (an unknown field, a missing argument) come back with no data and
    // no path: the request did not run, as with a parse error.
    let rejected = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty());
    let status = if rejected {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    match serde_json::to_vec(&response) {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            Bytes::from(body),
        )
            .into_response(),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            &format!("cannot serialise the response: {error}"),
        ),
    }
}

fn request_error(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, ErrorCode::ParseError, message)
}

/// A GraphQL-shaped error body: `{"errors": [{"message", "extensions": {"code"}}]}`.
fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str() } }]
    });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let mut headers = HeaderMap::new();
        let token = BASE64.encode("alice@localhost:se:cret");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).expect("header"),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("alice@localhost".to_string(), "se:cret".to_string()))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert_eq!(basic_credentials(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_credentials(&headers), None);
    }
}
