//! Reading the answers of the GraphQL APIs (admin and user): both answer HTTP 200 and put
//! a failure in the body's `errors`, so each test of either API checks answers the same way.

use bream_xmpp::api::client::ApiResponse;
use serde_json::Value;

/// The `data` of the answer to `query`, which must have succeeded: HTTP 200, no `errors`.
pub fn expect_data(query: &str, response: &ApiResponse) -> Value {
    assert_eq!(response.status, 200, "{query}: {response:?}");
    assert!(
        response.body.get("errors").is_none(),
        "{query}: {response:?}"
    );
    response.body["data"].clone()
}

/// The `extensions.code` of the first error in the answer to `query`, which must have failed
/// with HTTP 200.
pub fn expect_error_code(query: &str, response: &ApiResponse) -> String {
    assert_eq!(response.status, 200, "{query}: {response:?}");
    response.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{query}: no error code in {response:?}"))
        .to_string()
}
