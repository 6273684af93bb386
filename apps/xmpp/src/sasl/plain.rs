//! The PLAIN message (RFC 4616): `[authzid] NUL authcid NUL passwd`.

use super::failure::{SaslCondition, SaslFailure};

/// A parsed PLAIN message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PlainMessage<'a> {
    /// The identity to act as, if the client named one.
    pub(crate) authzid: Option<&'a str>,
    /// The identity whose password this is.
    pub(crate) authcid: &'a str,
    pub(crate) password: &'a str,
}

/// Parses a PLAIN message: UTF-8, exactly two NULs, non-empty authcid and
/// password. Anything else is `malformed-request`.
pub(crate) fn parse(message: &[u8]) -> Result<PlainMessage<'_>, SaslFailure> {
    let malformed = |text: &str| SaslFailure::new(SaslCondition::MalformedRequest).with_text(text);
    let text = std::str::from_utf8(message).map_err(|_| malformed("PLAIN message is not UTF-8"))?;
    let fields: Vec<&str> = text.split('\0').collect();
    let [authzid, authcid, password] = fields[..] else {
        return Err(malformed(
            "PLAIN message must have three NUL-separated fields",
        ));
    };
    if authcid.is_empty() || password.is_empty() {
        return Err(malformed("PLAIN authcid and password must not be empty"));
    }
    Ok(PlainMessage {
        authzid: (!authzid.is_empty()).then_some(authzid),
        authcid,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_authzid() {
        assert_eq!(
            parse(b"\0tim\0tanstaaftanstaaf"),
            Ok(PlainMessage {
                authzid: None,
                authcid: "tim",
                password: "tanstaaftanstaaf"
            })
        );
        assert_eq!(
            parse("Ursel\0Kurt\0xipj3plmq".as_bytes()),
            Ok(PlainMessage {
                authzid: Some("Ursel"),
                authcid: "Kurt",
                password: "xipj3plmq"
            })
        );
    }

    #[test]
    fn refuses_malformed_messages() {
        for message in [
            &b""[..],
            b"\0\0",
            b"a\0b",
            b"\0a\0",
            b"\0\0p",
            b"\0a\0b\0c",
            b"\0a\0\xff",
        ] {
            let failure = parse(message).expect_err("malformed");
            assert_eq!(
                failure.condition,
                SaslCondition::MalformedRequest,
                "{message:?}"
            );
        }
    }
}
