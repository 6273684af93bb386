//! SCRAM messages (RFC 5802 §7) and proof checks, for the server side.
//!
//! ```text
//! client-first  = gs2-header client-first-bare
//! gs2-header    = ("n" / "y" / "p=" cb-name) "," ["a=" saslname] ","
//! client-first-bare = ["m=" ext ","] "n=" saslname "," "r=" c-nonce ["," extensions]
//! server-first  = "r=" c-nonce s-nonce "," "s=" salt "," "i=" iteration-count
//! client-final  = "c=" base64(gs2-header) "," "r=" nonce ["," extensions] "," "p=" proof
//! server-final  = "v=" base64(ServerSignature)
//! AuthMessage   = client-first-bare "," server-first "," client-final-without-proof
//! ```
//!
//! Channel binding is not offered (no `-PLUS` mechanisms), so the gs2 flag
//! must be `n` (client does not support it) or `y` (client supports it but
//! thinks the server does not, which is true). `p=` asks for a binding that a
//! non-PLUS mechanism cannot carry: it is refused as `malformed-request`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::failure::{SaslCondition, SaslFailure};
use super::secret::ScramSecret;

fn malformed(text: &str) -> SaslFailure {
    SaslFailure::new(SaslCondition::MalformedRequest).with_text(text)
}

/// A parsed client-first-message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientFirst {
    /// The gs2 header as sent, which client-final must echo in `c=`.
    pub(crate) gs2_header: String,
    /// The decoded `a=` authzid, if any.
    pub(crate) authzid: Option<String>,
    /// The decoded `n=` username, not yet prepared.
    pub(crate) username: String,
    pub(crate) client_nonce: String,
    /// client-first-message-bare, as sent, for the AuthMessage.
    pub(crate) bare: String,
}

/// A parsed client-final-message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientFinal {
    /// client-final-message-without-proof, as sent, for the AuthMessage.
    pub(crate) without_proof: String,
    /// The decoded `c=` value.
    pub(crate) channel_binding: Vec<u8>,
    pub(crate) nonce: String,
    /// The decoded `p=` value.
    pub(crate) proof: Vec<u8>,
}

pub(crate) fn parse_client_first(message: &[u8]) -> Result<ClientFirst, SaslFailure> {
    let text = std::str::from_utf8(message).map_err(|_| malformed("SCRAM message is not UTF-8"))?;
    let mut parts = text.splitn(3, ',');
    let (Some(flag), Some(authzid_field), Some(bare)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("SCRAM client-first-message has no gs2 header"));
    };
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => {
            return Err(malformed(
                "channel binding requested, but only non-PLUS SCRAM mechanisms are offered",
            ))
        }
        _ => return Err(malformed("invalid gs2 channel binding flag")),
    }
    let authzid = match authzid_field {
        "" => None,
        field => match field.strip_prefix("a=") {
            Some(name) => Some(decode_saslname(name)?),
            None => return Err(malformed("invalid gs2 authzid")),
        },
    };
    let mut attributes = bare.split(',');
    let username_field = match attributes.next() {
        Some(field) if field.starts_with("m=") => {
            return Err(malformed("mandatory SCRAM extensions are not supported"))
        }
        Some(field) => field,
        None => return Err(malformed("missing username")),
    };
    let username = username_field
        .strip_prefix("n=")
        .ok_or_else(|| malformed("missing username"))
        .and_then(decode_saslname)?;
    let client_nonce = attributes
        .next()
        .and_then(|field| field.strip_prefix("r="))
        .filter(|nonce| is_valid_nonce(nonce))
        .ok_or_else(|| malformed("missing or invalid client nonce"))?;
    if attributes.any(|extension| !is_valid_extension(extension)) {
        return Err(malformed("invalid SCRAM extension"));
    }
    Ok(ClientFirst {
        gs2_header: format!("{flag},{authzid_field},"),
        authzid,
        username,
        client_nonce: client_nonce.to_owned(),
        bare: bare.to_owned(),
    })
}

pub(crate) fn parse_client_final(message: &[u8]) -> Result<ClientFinal, SaslFailure> {
    let text = std::str::from_utf8(message).map_err(|_| malformed("SCRAM message is not UTF-8"))?;
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or_else(|| malformed("missing client proof"))?;
    let proof = BASE64
        .decode(proof)
        .map_err(|_| malformed("client proof is not base64"))?;
    let mut attributes = without_proof.split(',');
    let channel_binding = attributes
        .next()
        .and_then(|field| field.strip_prefix("c="))
        .ok_or_else(|| malformed("missing channel binding"))
        .and_then(|value| {
            BASE64
                .decode(value)
                .map_err(|_| malformed("channel binding is not base64"))
        })?;
    let nonce = attributes
        .next()
        .and_then(|field| field.strip_prefix("r="))
        .filter(|nonce| is_valid_nonce(nonce))
        .ok_or_else(|| malformed("missing or invalid nonce"))?;
    if attributes.any(|extension| !is_valid_extension(extension)) {
        return Err(malformed("invalid SCRAM extension"));
    }
    Ok(ClientFinal {
        without_proof: without_proof.to_owned(),
        channel_binding,
        nonce: nonce.to_owned(),
        proof,
    })
}

/// `saslname` with `=2C` for `,` and `=3D` for `=`; any other `=` is
/// malformed, and so is an empty name.
fn decode_saslname(name: &str) -> Result<String, SaslFailure> {
    let mut decoded = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(index) = rest.find('=') {
        decoded.push_str(&rest[..index]);
        let escape = rest.get(index..index + 3);
        decoded.push(match escape {
            Some("=2C") => ',',
            Some("=3D") => '=',
            _ => return Err(malformed("invalid escape in SCRAM name")),
        });
        rest = &rest[index + 3..];
    }
    decoded.push_str(rest);
    if decoded.is_empty() {
        return Err(malformed("empty SCRAM name"));
    }
    Ok(decoded)
}

/// `printable = %x21-2B / %x2D-7E`: visible ASCII but `,`.
fn is_valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|byte| (0x21..=0x7E).contains(&byte) && byte != b',')
}

/// `attr-val = ALPHA "=" value`.
fn is_valid_extension(extension: &str) -> bool {
    let bytes = extension.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b'='
}

pub(crate) fn server_first(combined_nonce: &str, salt: &[u8], iteration_count: u32) -> String {
    format!(
        "r={combined_nonce},s={},i={iteration_count}",
        BASE64.encode(salt)
    )
}

/// Whether `proof` shows knowledge of the password behind `secret`:
/// `H(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey`, compared in
/// constant time.
pub(crate) fn verify_proof(secret: &ScramSecret, auth_message: &[u8], proof: &[u8]) -> bool {
    let hash = secret.hash;
    if proof.len() != hash.output_bytes() {
        return false;
    }
    let Some(client_signature) = hash.hmac(&secret.stored_key, auth_message) else {
        return false;
    };
    let client_key: Vec<u8> = proof
        .iter()
        .zip(&client_signature)
        .map(|(proof_byte, signature_byte)| proof_byte ^ signature_byte)
        .collect();
    hash.digest(&client_key).ct_eq(&secret.stored_key).into()
}

/// `v=` + base64(HMAC(ServerKey, AuthMessage)).
pub(crate) fn server_final(secret: &ScramSecret, auth_message: &[u8]) -> Option<String> {
    let signature = secret.hash.hmac(&secret.server_key, auth_message)?;
    Some(format!("v={}", BASE64.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_first_messages() {
        let first = parse_client_first(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL").expect("valid");
        assert_eq!(
            first,
            ClientFirst {
                gs2_header: "n,,".into(),
                authzid: None,
                username: "user".into(),
                client_nonce: "fyko+d2lbbFgONRv9qkxdawL".into(),
                bare: "n=user,r=fyko+d2lbbFgONRv9qkxdawL".into(),
            }
        );
        let first = parse_client_first(b"y,a=a=3Db=2Cc,n=u=2C=3D,r=abc,x=ext").expect("valid");
        assert_eq!(first.gs2_header, "y,a=a=3Db=2Cc,");
        assert_eq!(first.authzid.as_deref(), Some("a=b,c"));
        assert_eq!(first.username, "u,=");
        assert_eq!(first.bare, "n=u=2C=3D,r=abc,x=ext");
    }

    #[test]
    fn malformed_client_first_messages() {
        for message in [
            &b""[..],
            b"n,,",
            b"p=tls-unique,,n=user,r=abc",
            b"x,,n=user,r=abc",
            b"n,b=x,n=user,r=abc",
            b"n,a=,n=user,r=abc",
            b"n,,m=ext,n=user,r=abc",
            b"n,,n=,r=abc",
            b"n,,n=us=er,r=abc",
            b"n,,n=us=2,r=abc",
            b"n,,r=abc,n=user",
            b"n,,n=user",
            b"n,,n=user,r=",
            b"n,,n=user,r=a b",
            b"n,,n=user,r=abc,1=x",
            b"n,,n=user,r=abc,",
            b"n,,n=\xff,r=abc",
        ] {
            let failure = parse_client_first(message).expect_err("malformed");
            assert_eq!(
                failure.condition,
                SaslCondition::MalformedRequest,
                "{message:?}"
            );
        }
        let failure = parse_client_first(b"p=tls-unique,,n=user,r=abc").expect_err("refused");
        assert!(failure
            .text
            .is_some_and(|text| text.contains("channel binding")));
    }

    #[test]
    fn client_final_messages() {
        let last = parse_client_final(b"c=biws,r=abc,p=AAAA").expect("valid");
        assert_eq!(last.without_proof, "c=biws,r=abc");
        assert_eq!(last.channel_binding, b"n,,");
        assert_eq!(last.nonce, "abc");
        assert_eq!(last.proof, vec![0, 0, 0]);
        assert!(parse_client_final(b"c=biws,r=abc,e=x,p=AAAA").is_ok());
        for message in [
            &b"c=biws,r=abc"[..],
            b"c=biws,r=abc,p=!!",
            b"r=abc,c=biws,p=AAAA",
            b"c=!!,r=abc,p=AAAA",
            b"c=biws,p=AAAA",
            b"c=biws,r=abc,,p=AAAA",
        ] {
            assert!(parse_client_final(message).is_err(), "{message:?}");
        }
    }
}
