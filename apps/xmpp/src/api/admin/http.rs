//! The HTTP shell around the schema: routing, Basic auth, the request bound, and the mapping
//! of GraphQL outcomes to status codes (see the module docs of [`super`]).

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::{AdminSchema, BODY_BYTES_MAX, GRAPHQL_PATH, REQUESTS_CONCURRENT_MAX, REQUEST_TIMEOUT};
use crate::api::ErrorCode;

struct AppState {
    schema: AdminSchema,
    /// `"username:password"`, as Basic auth sends it before base64.
    credentials: Option<Vec<u8>>,
    running: Semaphore,
}

pub(super) fn app(schema: AdminSchema, credentials: Option<(String, String)>) -> Router {
    let state = Arc::new(AppState {
        schema,
        credentials: credentials
            .map(|(username, password)| format!("{username}:{password}").into_bytes()),
        running: Semaphore::new(REQUESTS_CONCURRENT_MAX),
    });
    Router::new()
        .route(GRAPHQL_PATH, get(graphql_get).post(graphql_post))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(state)
}

/// `GET` parameters, as GraphQL over HTTP names them.
#[derive(Debug, Deserialize)]
struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

async fn graphql_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Some(refused) = check_credentials(&state, &headers) {
        return refused;
    }
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
    execute(&state, request).await
}

async fn graphql_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = check_credentials(&state, &headers) {
        return refused;
    }
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => execute(&state, request).await,
        Err(error) => request_error(&format!(
            "the body is not a GraphQL request (JSON with \"query\"): {error}"
        )),
    }
}

/// `Some(401)` unless the request carries the configured credentials.
fn check_credentials(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let expected = state.credentials.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| BASE64.decode(encoded.trim()).ok());
    if given.is_some_and(|given| bool::from(given.ct_eq(expected))) {
        return None;
    }
    tracing::info!("admin API request refused: bad or missing credentials");
    let mut response = error_response(
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
        "missing or wrong credentials (HTTP Basic auth)",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"bream admin\""),
    );
    Some(response)
}

async fn execute(state: &AppState, request: async_graphql::Request) -> Response {
    // A query that does not parse never runs; MongooseIM answers it with 400.
    if let Err(error) = async_graphql::parser::parse_query(&request.query) {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::ParseError,
            &error.to_string(),
        );
    }
    let Ok(_permit) = state.running.try_acquire() else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Overloaded,
            &format!("{REQUESTS_CONCURRENT_MAX} requests are running (REQUESTS_CONCURRENT_MAX)"),
        );
    };
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, state.schema.execute(request)).await
    {
        Ok(response) => response,
        Err(_elapsed) => {
            tracing::warn!(timeout = ?REQUEST_TIMEOUT, "admin API request timed out");
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
