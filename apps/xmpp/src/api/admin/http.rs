//! The admin endpoint's authentication: the one configured user name and password, compared
//! in constant time. The rest of the HTTP shell is [`crate::api::http`].

use axum::http::HeaderMap;
use futures::future::BoxFuture;
use subtle::ConstantTimeEq;

use super::AdminSchema;
use crate::api::http::{basic_credentials, graphql_app, Authenticator, Refusal};

/// `"username:password"` as configured, or none: every request is accepted (loopback only,
/// see [`super::serve`]).
struct AdminCredentials(Option<Vec<u8>>);

impl Authenticator for AdminCredentials {
    type Identity = ();

    fn realm(&self) -> &'static str {
        "bream admin"
    }

    fn authenticate<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Result<(), Refusal>> {
        let Some(expected) = &self.0 else {
            return Box::pin(async { Ok(()) });
        };
        let given = basic_credentials(headers)
            .map(|(username, password)| format!("{username}:{password}").into_bytes());
        let accepted = given.is_some_and(|given| bool::from(given.ct_eq(expected)));
        Box::pin(async move {
            if accepted {
                Ok(())
            } else {
                Err(Refusal::Unauthorized)
            }
        })
    }
}

pub(super) fn app(schema: AdminSchema, credentials: Option<(String, String)>) -> axum::Router {
    let credentials = AdminCredentials(
        credentials.map(|(username, password)| format!("{username}:{password}").into_bytes()),
    );
    graphql_app(schema, credentials, "admin")
}
