//! The user schema's `vcard`, `private` and `last` categories. Each asks the module that
//! serves the feature over XMPP ([`user_iq`]), so the API and a client see the same data under
//! the same rules; only `setLast`, which XMPP has no request for, writes the storage directly.

use async_graphql::{Context, InputValueError, InputValueResult, Object, Scalar, ScalarType};

use super::auth::Caller;
use super::schema::{caller_account, request};
use super::vcard::Vcard;
use super::UserContext;
use crate::api::graphql::{
    error, existing_account, parse_stanza, storage_error, user_iq, JidScalar, Result, XmlElement,
};
use crate::api::ErrorCode;
use crate::jid::BareJid;
use crate::modules::last::NS_LAST;
use crate::modules::private::NS_PRIVATE;
use crate::modules::vcard::NS_VCARD;
use crate::router::IqKind;
use crate::xml::Element;

/// The account an optional `user` argument names: the caller when absent, else an existing
/// local account.
async fn target(
    context: &UserContext,
    caller: &Caller,
    user: Option<JidScalar>,
) -> Result<BareJid> {
    match user {
        None => Ok(caller.0.clone()),
        Some(user) => existing_account(&context.router, &context.storage, &user.0).await,
    }
}

// ---- vcard --------------------------------------------------------------------------

/// Allow user to get user's vcard
pub(crate) struct VcardUserQuery;

#[Object]
impl VcardUserQuery {
    /// Get user's vcard (the caller's when `user` is absent)
    async fn get_vcard(&self, ctx: &Context<'_>, user: Option<JidScalar>) -> Result<Vcard> {
        let (context, caller) = request(ctx)?;
        let target = target(context, caller, user).await?;
        let query = Element::new("vCard", NS_VCARD);
        let answer = user_iq(&context.router, &caller.0, &target, IqKind::Get, query).await?;
        Ok(answer.as_ref().map(Vcard::from_element).unwrap_or_default())
    }
}

/// Allow user to set own vcard
pub(crate) struct VcardUserMutation;

#[Object]
impl VcardUserMutation {
    /// Set user's own vcard
    async fn set_vcard(&self, ctx: &Context<'_>, vcard: Vcard) -> Result<Vcard> {
        let (context, caller) = request(ctx)?;
        let element = vcard.to_element();
        user_iq(&context.router, &caller.0, &caller.0, IqKind::Set, element).await?;
        Ok(vcard)
    }
}

// ---- private ------------------------------------------------------------------------

/// Allow user to get own private
pub(crate) struct PrivateUserQuery;

#[Object]
impl PrivateUserQuery {
    /// Get user's own private: the element stored under `nameSpace` (an empty `element` in that
    /// namespace when nothing is)
    async fn get_private(
        &self,
        ctx: &Context<'_>,
        element: String,
        #[graphql(name = "nameSpace")] namespace: String,
    ) -> Result<XmlElement> {
        let (context, caller) = request(ctx)?;
        if element.is_empty() || namespace.is_empty() {
            return Err(error(
                ErrorCode::BadRequest,
                "element and nameSpace must not be empty",
            ));
        }
        let query = Element::new("query", NS_PRIVATE).with_child(Element::new(element, namespace));
        let answer = user_iq(&context.router, &caller.0, &caller.0, IqKind::Get, query).await?;
        let stored = answer
            .as_ref()
            .and_then(|query| query.elements().next())
            .ok_or_else(|| error(ErrorCode::InternalError, "the module answered no element"))?;
        Ok(XmlElement(stored.to_string()))
    }
}

/// Allow user to set own private
pub(crate) struct PrivateUserMutation;

#[Object]
impl PrivateUserMutation {
    /// Set user's own private: the element replaces what is stored under its namespace
    async fn set_private(
        &self,
        ctx: &Context<'_>,
        element_string: XmlElement,
    ) -> Result<XmlElement> {
        let (context, caller) = request(ctx)?;
        let element = parse_stanza(&element_string.0)
            .map_err(|reason| error(ErrorCode::BadRequest, format!("Invalid element: {reason}")))?;
        let stored = element.to_string();
        let query = Element::new("query", NS_PRIVATE).with_child(element);
        user_iq(&context.router, &caller.0, &caller.0, IqKind::Set, query).await?;
        Ok(XmlElement(stored))
    }
}

// ---- last ---------------------------------------------------------------------------

/// A point in time, `YYYY-MM-DDTHH:MM:SSZ` (MongooseIM's `DateTime`); input may carry a
/// fraction and an offset (`+02:00`). Held as Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DateTime(pub i64);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        match &value {
            async_graphql::Value::String(text) => parse_date_time(text)
                .map(DateTime)
                .map_err(InputValueError::custom),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        let stamp = crate::modules::xep0082_stamp(self.0.saturating_mul(1_000_000));
        // `...T10:00:00.000000Z` without the fraction.
        let seconds_part = stamp.get(..19).unwrap_or(&stamp);
        async_graphql::Value::String(format!("{seconds_part}Z"))
    }
}

/// Unix seconds of an RFC 3339 date and time (`2024-05-01T10:00:00Z`,
/// `2024-05-01T12:00:00.5+02:00`): `T` (or `t`) between date and time, any fraction (dropped),
/// `Z` (or `z`) or a `±HH:MM` offset. The date must exist; a second of 60 only stands at the
/// end of a month in UTC (a leap second), and counts as the second before it.
fn parse_date_time(text: &str) -> std::result::Result<i64, String> {
    let invalid = |reason: &dyn std::fmt::Display| {
        format!("{text:?} is not a date and time like 2024-05-01T10:00:00Z ({reason})")
    };
    // RFC 3339 lets applications choose another separator, and `time` takes any; the API
    // takes ISO 8601's.
    if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
        return Err(invalid(&"no T between the date and the time"));
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|error| invalid(&error))
}

/// A user's last activity
#[derive(async_graphql::SimpleObject)]
pub(crate) struct LastActivity {
    /// The user
    user: JidScalar,
    /// When the user's last session ended (now, while the user is online)
    timestamp: DateTime,
    /// The status the user left with
    status: String,
}

/// Allow user to manage last activity.
pub(crate) struct LastUserQuery;

#[Object]
impl LastUserQuery {
    /// Get the user's last activity information (the caller's when `user` is absent)
    async fn get_last(&self, ctx: &Context<'_>, user: Option<JidScalar>) -> Result<LastActivity> {
        let (context, caller) = request(ctx)?;
        let target = target(context, caller, user).await?;
        let query = Element::new("query", NS_LAST);
        let answer = user_iq(&context.router, &caller.0, &target, IqKind::Get, query)
            .await?
            .ok_or_else(|| error(ErrorCode::InternalError, "the module answered nothing"))?;
        let seconds_ago = answer
            .attr("seconds")
            .and_then(|seconds| seconds.parse::<i64>().ok())
            .unwrap_or(0);
        Ok(LastActivity {
            user: JidScalar(target.to_string()),
            timestamp: DateTime(crate::modules::unix_seconds_now() - seconds_ago),
            status: answer.text(),
        })
    }
}

/// Allow user to get information about last activity.
pub(crate) struct LastUserMutation;

#[Object]
impl LastUserMutation {
    /// Set user's last activity information (`timestamp` defaults to now)
    async fn set_last(
        &self,
        ctx: &Context<'_>,
        timestamp: Option<DateTime>,
        status: String,
    ) -> Result<LastActivity> {
        let (context, caller) = request(ctx)?;
        let (domain, username) = caller_account(caller)?;
        let seconds = timestamp.map_or_else(crate::modules::unix_seconds_now, |time| time.0);
        context
            .storage
            .set_last_activity(domain, username, seconds, &status)
            .await
            .map_err(storage_error)?;
        Ok(LastActivity {
            user: JidScalar(caller.0.to_string()),
            timestamp: DateTime(seconds),
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_parse_with_offsets_and_fractions() {
        assert_eq!(parse_date_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_date_time("2000-02-29T00:00:00Z"), Ok(951_782_400));
        assert_eq!(
            parse_date_time("2000-02-29T02:00:00.25+02:00"),
            Ok(951_782_400)
        );
        assert_eq!(
            parse_date_time("2000-02-28T22:30:00-01:30"),
            Ok(951_782_400)
        );
        for bad in [
            "",
            "2000-02-29",
            "2000-13-01T00:00:00Z",
            "2000-02-29T00:00:00",
            "x000-02-29T00:00:00Z",
            "2000-02-29 00:00:00Z",
            "2001-02-29T00:00:00Z",
            "2000-04-31T00:00:00Z",
            "2000-02-29T00:00:00+24:00",
            "2000-02-29T00:00:00.Z",
            "2000-02-29T10:00:60Z",
            "2000-02-29T00:00:00Zjunk",
            "2000-02-29T00:00:00.5",
        ] {
            assert!(parse_date_time(bad).is_err(), "{bad}");
        }
        // A leap second is the second before it; lower-case separators are fine.
        assert_eq!(parse_date_time("1998-12-31T23:59:60Z"), Ok(915_148_799));
        assert_eq!(parse_date_time("2000-02-29t00:00:00z"), Ok(951_782_400));
        assert!(parse_date_time("2000-02-29 00:00:00Z")
            .is_err_and(|error| error.contains("is not a date and time like")));
        assert_eq!(
            DateTime(951_782_400).to_value(),
            async_graphql::Value::String("2000-02-29T00:00:00Z".to_string())
        );
    }
}
