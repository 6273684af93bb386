//! Tests of [`SaslServer`]: the RFC 5802 and RFC 7677 examples, and full
//! exchanges against the load generator's SCRAM client.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::*;
use crate::xml::NamespaceContext;

const DOMAIN: &str = "example.com";

fn config() -> SaslConfig {
    SaslConfig {
        domain: DOMAIN.into(),
        unknown_user_key: [7; 32],
        unknown_user_iteration_count: 4096,
        random: crate::random::Randomness::seeded(1),
    }
}

fn server(mechanism: Mechanism) -> SaslServer {
    SaslServer::new(mechanism, config())
}

fn stored(password: &str) -> PassDetails {
    match PassDetails::derive(password, &ScramHash::DEFAULT_SET, 64) {
        Ok(details) => details,
        Err(error) => panic!("{error}"),
    }
}

fn condition(step: &Step) -> Option<SaslCondition> {
    match step {
        Step::Failure(failure) => Some(failure.condition),
        _ => None,
    }
}

/// The load generator's SCRAM client, which shares no code with the server's side (its own
/// hashing, parsing and proof), as these tests and the c2s stream tests drive it.
pub(crate) struct ScramClient(bream_load::scram::ScramClient);

impl ScramClient {
    pub(crate) fn new(hash: ScramHash, username: &str, password: &str, nonce: &str) -> Self {
        let hash = match hash {
            ScramHash::Sha1 => bream_load::scram::ScramHash::Sha1,
            ScramHash::Sha256 => bream_load::scram::ScramHash::Sha256,
            ScramHash::Sha512 => bream_load::scram::ScramHash::Sha512,
            other => panic!("no client for {other}"),
        };
        ScramClient(bream_load::scram::ScramClient::with_nonce(
            hash, username, password, nonce,
        ))
    }

    fn gs2_header(self, gs2_header: &str) -> Self {
        ScramClient(self.0.gs2_header(gs2_header))
    }

    pub(crate) fn client_first(&self) -> Vec<u8> {
        self.0.client_first().into_bytes()
    }

    pub(crate) fn client_final(&mut self, server_first: &[u8]) -> Vec<u8> {
        // Nothing cached: every exchange runs PBKDF2 against the server's salt.
        let cache = bream_load::scram::SaltedPasswordCache::new(0);
        match self.0.client_final(server_first, &cache) {
            Ok(message) => message.into_bytes(),
            Err(error) => panic!("{error}"),
        }
    }

    pub(crate) fn verify_server_final(&self, additional_data: &[u8]) -> bool {
        self.0.verify_server_final(additional_data).is_ok()
    }
}

/// Runs a whole SCRAM exchange; returns the final step and whether the client
/// accepted the server's signature.
fn scram_exchange(
    mechanism: Mechanism,
    details: Option<&PassDetails>,
    mut client: ScramClient,
) -> (Step, bool) {
    let mut server = server(mechanism);
    let step = server.start(Some(&client.client_first()));
    assert!(matches!(step, Step::NeedCredentials { .. }), "{step:?}");
    let Step::Challenge(server_first) = server.credentials(details) else {
        panic!("expected server-first");
    };
    let step = server.respond(&client.client_final(&server_first));
    let verified = match &step {
        Step::Success(Authenticated {
            additional_data: Some(data),
            ..
        }) => client.verify_server_final(data),
        _ => false,
    };
    assert!(server.is_done());
    (step, verified)
}

#[test]
fn rfc_5802_scram_sha_1_example() {
    let salt = BASE64.decode("QSXCR+Q6sek8bf92").expect("base64");
    let secret = ScramSecret::derive(ScramHash::Sha1, "pencil", &salt, 4096).expect("derive");
    let details = PassDetails::from_secrets(vec![secret]).expect("details");
    let mut server = server(Mechanism::ScramSha1);
    server.fixed_server_nonce = Some("3rfcNHYJY1ZVvWVs7j".into());
    assert_eq!(
        server.start(Some(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")),
        Step::NeedCredentials {
            username: "user".into()
        }
    );
    assert_eq!(
        server.credentials(Some(&details)),
        Step::Challenge(
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096".to_vec()
        )
    );
    assert_eq!(
        server.respond(
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        ),
        Step::Success(Authenticated {
            username: "user".into(),
            additional_data: Some(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=".to_vec()),
        })
    );
}

#[test]
fn rfc_7677_scram_sha_256_example() {
    let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("base64");
    let secret = ScramSecret::derive(ScramHash::Sha256, "pencil", &salt, 4096).expect("derive");
    let details = PassDetails::from_secrets(vec![secret]).expect("details");
    let mut server = server(Mechanism::ScramSha256);
    server.fixed_server_nonce = Some("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into());
    assert_eq!(
        server.start(Some(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")),
        Step::NeedCredentials {
            username: "user".into()
        }
    );
    assert_eq!(
        server.credentials(Some(&details)),
        Step::Challenge(
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".to_vec()
        )
    );
    assert_eq!(
        server.respond(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
              p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        ),
        Step::Success(Authenticated {
            username: "user".into(),
            additional_data: Some(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec()),
        })
    );
}

#[test]
fn every_scram_mechanism_authenticates_a_client() {
    let details = stored("s3cr3t ü");
    for mechanism in [
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
    ] {
        let hash = mechanism.scram_hash().expect("SCRAM");
        let client = ScramClient::new(hash, "Alice", "s3cr3t ü", "clientnonce123");
        let (step, verified) = scram_exchange(mechanism, Some(&details), client);
        assert!(
            matches!(&step, Step::Success(ok) if ok.username == "alice"),
            "{mechanism:?}: {step:?}"
        );
        assert!(
            verified,
            "{mechanism:?}: client rejected the server signature"
        );
    }
}

#[test]
fn scram_wrong_password_fails_without_a_reason() {
    let details = stored("right");
    let client = ScramClient::new(ScramHash::Sha256, "alice", "wrong", "n0nce");
    let (step, _) = scram_exchange(Mechanism::ScramSha256, Some(&details), client);
    assert_eq!(
        step,
        Step::Failure(SaslFailure::new(SaslCondition::NotAuthorized))
    );
}

#[test]
fn scram_unknown_user_looks_like_a_real_one_until_the_proof() {
    let first_challenge = |server: &mut SaslServer| {
        server.start(Some(b"n,,n=nobody,r=abc"));
        match server.credentials(None) {
            Step::Challenge(challenge) => String::from_utf8(challenge).expect("UTF-8"),
            other => panic!("{other:?}"),
        }
    };
    let salt_of = |challenge: &str| challenge.split(',').nth(1).map(str::to_owned);
    let one = first_challenge(&mut server(Mechanism::ScramSha256));
    let two = first_challenge(&mut server(Mechanism::ScramSha256));
    assert_eq!(salt_of(&one), salt_of(&two), "the fake salt is stable");
    assert!(one.ends_with(",i=4096"));
    let client = ScramClient::new(ScramHash::Sha256, "nobody", "guess", "abc");
    let (step, _) = scram_exchange(Mechanism::ScramSha256, None, client);
    assert_eq!(condition(&step), Some(SaslCondition::NotAuthorized));
}

#[test]
fn scram_user_without_a_secret_for_the_hash_fails() {
    let details = PassDetails::derive("pw", &[ScramHash::Sha1], 64).expect("derive");
    let client = ScramClient::new(ScramHash::Sha512, "alice", "pw", "abc");
    let (step, _) = scram_exchange(Mechanism::ScramSha512, Some(&details), client);
    assert_eq!(condition(&step), Some(SaslCondition::NotAuthorized));
}

#[test]
fn scram_gs2_flags() {
    let details = stored("pw");
    let client = ScramClient::new(ScramHash::Sha1, "alice", "pw", "abc").gs2_header("y,,");
    let (step, verified) = scram_exchange(Mechanism::ScramSha1, Some(&details), client);
    assert!(
        matches!(step, Step::Success(_)) && verified,
        "y is accepted: {step:?}"
    );
    let mut server = server(Mechanism::ScramSha1);
    let step = server.start(Some(b"p=tls-unique,,n=alice,r=abc"));
    assert_eq!(condition(&step), Some(SaslCondition::MalformedRequest));
    assert!(server.is_done());
}

#[test]
fn scram_authzid() {
    let details = stored("pw");
    let own = ScramClient::new(ScramHash::Sha256, "alice", "pw", "abc")
        .gs2_header("n,a=alice@example.com,");
    let (step, verified) = scram_exchange(Mechanism::ScramSha256, Some(&details), own);
    assert!(matches!(step, Step::Success(_)) && verified, "{step:?}");
    for authzid in [
        "bob@example.com",
        "alice@other.com",
        "alice@example.com/res",
        "@@",
    ] {
        let mut server = server(Mechanism::ScramSha256);
        let step = server.start(Some(format!("n,a={authzid},n=alice,r=abc").as_bytes()));
        assert_eq!(
            condition(&step),
            Some(SaslCondition::InvalidAuthzid),
            "{authzid}"
        );
    }
}

#[test]
fn scram_tampering_is_refused() {
    let details = stored("pw");
    let run = |tamper: &dyn Fn(String) -> String| {
        let mut client = ScramClient::new(ScramHash::Sha256, "alice", "pw", "abc");
        let mut server = server(Mechanism::ScramSha256);
        server.start(Some(&client.client_first()));
        let Step::Challenge(server_first) = server.credentials(Some(&details)) else {
            panic!("expected server-first");
        };
        let client_final = String::from_utf8(client.client_final(&server_first)).expect("UTF-8");
        condition(&server.respond(tamper(client_final).as_bytes()))
    };
    assert_eq!(run(&|message| message), None);
    // A different nonce.
    assert_eq!(
        run(&|message| message.replacen(",r=abc", ",r=abd", 1)),
        Some(SaslCondition::NotAuthorized)
    );
    // A gs2 header other than the one sent first (y,, instead of n,,).
    assert_eq!(
        run(&|message| message.replacen("c=biws", "c=eSws", 1)),
        Some(SaslCondition::NotAuthorized)
    );
    // A proof with one bit flipped, and a truncated one.
    let flip = |message: String| {
        let (head, proof) = message.rsplit_once(",p=").expect("proof");
        let mut bytes = BASE64.decode(proof).expect("base64");
        bytes[0] ^= 1;
        format!("{head},p={}", BASE64.encode(bytes))
    };
    assert_eq!(run(&flip), Some(SaslCondition::NotAuthorized));
    assert_eq!(
        run(&|message| format!("{},p=AAAA", message.rsplit_once(",p=").expect("proof").0)),
        Some(SaslCondition::NotAuthorized)
    );
    assert_eq!(
        run(&|_| "garbage".into()),
        Some(SaslCondition::MalformedRequest)
    );
}

#[test]
fn scram_without_initial_response_starts_with_an_empty_challenge() {
    let details = stored("pw");
    let mut client = ScramClient::new(ScramHash::Sha1, "alice", "pw", "abc");
    let mut server = server(Mechanism::ScramSha1);
    assert_eq!(server.start(None), Step::Challenge(Vec::new()));
    assert!(matches!(
        server.respond(&client.client_first()),
        Step::NeedCredentials { .. }
    ));
    let Step::Challenge(server_first) = server.credentials(Some(&details)) else {
        panic!("expected server-first");
    };
    assert!(matches!(
        server.respond(&client.client_final(&server_first)),
        Step::Success(_)
    ));
}

#[test]
fn plain_with_initial_response() {
    let details = stored("pencil");
    let mut server = server(Mechanism::Plain);
    assert_eq!(
        server.start(Some(b"\0Alice\0pencil")),
        Step::NeedCredentials {
            username: "alice".into()
        }
    );
    assert_eq!(
        server.credentials(Some(&details)),
        Step::Success(Authenticated {
            username: "alice".into(),
            additional_data: None
        })
    );
    assert!(server.is_done());
}

#[test]
fn plain_after_an_empty_challenge_with_full_jid_and_authzid() {
    let details = stored("pencil");
    let mut server = server(Mechanism::Plain);
    assert_eq!(server.start(None), Step::Challenge(Vec::new()));
    assert_eq!(
        server.respond(b"alice@example.com\0alice@Example.com\0pencil"),
        Step::NeedCredentials {
            username: "alice".into()
        }
    );
    assert!(matches!(
        server.credentials(Some(&details)),
        Step::Success(_)
    ));
}

#[test]
fn plain_failures() {
    let details = stored("pencil");
    let run = |message: &[u8], details: Option<&PassDetails>| {
        let mut server = server(Mechanism::Plain);
        match server.start(Some(message)) {
            Step::NeedCredentials { .. } => condition(&server.credentials(details)),
            other => condition(&other),
        }
    };
    assert_eq!(run(b"\0alice\0pencil", Some(&details)), None);
    assert_eq!(
        run(b"\0alice\0wrong", Some(&details)),
        Some(SaslCondition::NotAuthorized)
    );
    assert_eq!(
        run(b"\0alice\0pencil", None),
        Some(SaslCondition::NotAuthorized)
    );
    assert_eq!(
        run(b"\0alice@other.com\0pencil", Some(&details)),
        Some(SaslCondition::NotAuthorized)
    );
    assert_eq!(
        run(b"\0al ice\0pencil", Some(&details)),
        Some(SaslCondition::NotAuthorized)
    );
    assert_eq!(
        run(b"bob@example.com\0alice\0pencil", Some(&details)),
        Some(SaslCondition::InvalidAuthzid)
    );
    assert_eq!(
        run(b"alice\0pencil", Some(&details)),
        Some(SaslCondition::MalformedRequest)
    );
}

#[test]
fn calls_out_of_order() {
    let mut fresh = server(Mechanism::Plain);
    assert_eq!(
        condition(&fresh.respond(b"x")),
        Some(SaslCondition::MalformedRequest)
    );
    let mut fresh = server(Mechanism::Plain);
    assert_eq!(
        condition(&fresh.credentials(None)),
        Some(SaslCondition::TemporaryAuthFailure)
    );
    let mut started = server(Mechanism::ScramSha1);
    started.start(Some(b"n,,n=alice,r=abc"));
    assert_eq!(
        condition(&started.respond(b"early")),
        Some(SaslCondition::MalformedRequest)
    );
    let mut twice = server(Mechanism::Plain);
    twice.start(None);
    assert_eq!(
        condition(&twice.start(None)),
        Some(SaslCondition::TemporaryAuthFailure)
    );
    let mut done = server(Mechanism::Plain);
    done.start(Some(b"\0alice\0pencil"));
    done.credentials(None);
    assert!(done.is_done());
    assert_eq!(
        condition(&done.respond(b"more")),
        Some(SaslCondition::MalformedRequest)
    );
}

#[test]
fn abort() {
    let mut server = server(Mechanism::ScramSha512);
    server.start(None);
    assert_eq!(condition(&server.abort()), Some(SaslCondition::Aborted));
    assert!(server.is_done());
}

#[test]
fn mechanism_names() {
    for mechanism in Mechanism::ALL {
        assert_eq!(Mechanism::from_name(mechanism.name()), Some(mechanism));
    }
    assert_eq!(Mechanism::from_name("scram-sha-1"), None);
    assert_eq!(Mechanism::from_name("SCRAM-SHA-1-PLUS"), None);
    assert_eq!(Mechanism::from_name("DIGEST-MD5"), None);
    assert_eq!(Mechanism::Plain.scram_hash(), None);
}

#[test]
fn base64_payloads() {
    assert_eq!(decode_response(""), Ok(Vec::new()));
    assert_eq!(decode_response("="), Ok(Vec::new()));
    assert_eq!(decode_response("AGEAYg=="), Ok(b"\0a\0b".to_vec()));
    for bad in ["AGEAYg", "AG EA", "!!!!", "AGEAYg==="] {
        assert_eq!(
            decode_response(bad).map_err(|failure| failure.condition),
            Err(SaslCondition::IncorrectEncoding),
            "{bad}"
        );
    }
    assert_eq!(decode_initial_response(""), Ok(None));
    assert_eq!(decode_initial_response("="), Ok(Some(Vec::new())));
}

#[test]
fn step_elements() {
    let xml = |step: Step| {
        step.to_element()
            .map(|element| element.to_xml_in(&NamespaceContext::CLIENT_STREAM))
    };
    assert_eq!(
        xml(Step::Challenge(Vec::new())),
        Some("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".into())
    );
    assert_eq!(
        xml(Step::Challenge(b"r=a".to_vec())),
        Some("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1h</challenge>".into())
    );
    assert_eq!(
        xml(Step::Success(Authenticated {
            username: "a".into(),
            additional_data: None
        })),
        Some("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".into())
    );
    assert_eq!(
        xml(Step::NeedCredentials {
            username: "a".into()
        }),
        None
    );
    assert_eq!(
        xml(Step::Failure(SaslFailure::new(SaslCondition::Aborted))),
        Some("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><aborted/></failure>".into())
    );
    assert_eq!(
        mechanisms_element(&Mechanism::ALL).to_string(),
        "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-512</mechanism>\
         <mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
    );
}

#[test]
fn config_defaults() {
    let config = SaslConfig::new("Example.COM");
    assert_eq!(config.domain, "example.com");
    assert_eq!(config.unknown_user_iteration_count, ITERATION_COUNT_DEFAULT);
    assert_ne!(
        config.unknown_user_key,
        SaslConfig::new("example.com").unknown_user_key
    );
    assert!(!format!("{config:?}").contains("unknown_user_key"));
}

#[test]
fn server_nonces_come_from_the_configured_randomness() {
    let server_first = |config: SaslConfig| {
        let mut server = SaslServer::new(Mechanism::ScramSha256, config);
        let client_first = b"n,,n=user,r=clientnonce";
        let step = server.start(Some(client_first));
        assert!(matches!(step, Step::NeedCredentials { .. }), "{step:?}");
        match server.credentials(None) {
            Step::Challenge(server_first) => server_first,
            other => panic!("expected server-first, got {other:?}"),
        }
    };
    assert_eq!(server_first(config()), server_first(config()));
    let mut other = config();
    other.random = crate::random::Randomness::seeded(2);
    assert_ne!(server_first(config()), server_first(other));
}
