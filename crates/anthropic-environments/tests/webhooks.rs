//! Webhook verification: the Standard Webhooks specification's published
//! vector (`whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, `msg_p5jXN8AQM9LWM0D4loKWxJek`,
//! 1614265330, `{"test": 2432232314}`), each way a delivery can be wrong,
//! the event read after, and a property test that nothing panics.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anthropic_environments::webhooks::{
    DEFAULT_TOLERANCE, WebhookError, WebhookEventType, WebhookVerifier,
};
use proptest::prelude::*;

const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn at(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds as u64)
}

/// The vector's verifier, its clock `offset` seconds after the timestamp.
fn verifier(key: &str, offset: i64) -> WebhookVerifier {
    WebhookVerifier::new(key)
        .unwrap()
        .clock(move || at(TIMESTAMP + offset))
}

fn verify(v: &WebhookVerifier, id: &str, signature: &str, body: &[u8]) -> Result<(), WebhookError> {
    v.verify_signature(id, &TIMESTAMP.to_string(), signature, body)
}

#[test]
fn the_specifications_vector_signs_and_verifies() {
    let v = verifier(KEY, 0);
    assert_eq!(v.sign(ID, TIMESTAMP, BODY), SIGNATURE);
    verify(&v, ID, SIGNATURE, BODY).unwrap();
    // The prefix is optional, and so is base64's padding.
    verify(
        &verifier("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0),
        ID,
        SIGNATURE,
        BODY,
    )
    .unwrap();
}

#[test]
fn a_wrong_key_a_tampered_body_or_id_match_nothing() {
    let other = verifier("whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==", 0);
    assert!(matches!(
        verify(&other, ID, SIGNATURE, BODY),
        Err(WebhookError::NoMatchingSignature)
    ));
    let v = verifier(KEY, 0);
    let tampered = br#"{"test": 2432232315}"#;
    assert!(matches!(
        verify(&v, ID, SIGNATURE, tampered),
        Err(WebhookError::NoMatchingSignature)
    ));
    assert!(matches!(
        verify(&v, "msg_other", SIGNATURE, BODY),
        Err(WebhookError::NoMatchingSignature)
    ));
    let other_time = v.verify_signature(ID, &(TIMESTAMP + 1).to_string(), SIGNATURE, BODY);
    assert!(matches!(other_time, Err(WebhookError::NoMatchingSignature)));
}

#[test]
fn stale_and_future_timestamps_are_refused_at_the_tolerance() {
    let limit = DEFAULT_TOLERANCE.as_secs() as i64;
    verify(&verifier(KEY, limit), ID, SIGNATURE, BODY).unwrap();
    verify(&verifier(KEY, -limit), ID, SIGNATURE, BODY).unwrap();
    assert!(matches!(
        verify(&verifier(KEY, limit + 1), ID, SIGNATURE, BODY),
        Err(WebhookError::TooOld(_))
    ));
    assert!(matches!(
        verify(&verifier(KEY, -limit - 1), ID, SIGNATURE, BODY),
        Err(WebhookError::TooNew(_))
    ));
    let tight = verifier(KEY, 11).tolerance(Duration::from_secs(10));
    assert!(matches!(
        verify(&tight, ID, SIGNATURE, BODY),
        Err(WebhookError::TooOld(_))
    ));
    let v = verifier(KEY, 0);
    for bad in ["", "soon", "1614265330.5", "99999999999999999999999"] {
        assert!(
            matches!(
                v.verify_signature(ID, bad, SIGNATURE, BODY),
                Err(WebhookError::InvalidTimestamp)
            ),
            "{bad}"
        );
    }
}

#[test]
fn one_matching_signature_among_several_is_enough() {
    let v = verifier(KEY, 0);
    let rotated = format!("v1,bm90IGl0 v2,{} garbage {SIGNATURE}", &SIGNATURE[3..]);
    verify(&v, ID, &rotated, BODY).unwrap();
    // The right signature under another version is not a v1 signature.
    let versioned = format!("v2,{}", &SIGNATURE[3..]);
    assert!(matches!(
        verify(&v, ID, &versioned, BODY),
        Err(WebhookError::NoMatchingSignature)
    ));
    assert!(matches!(
        verify(&v, ID, "", BODY),
        Err(WebhookError::NoMatchingSignature)
    ));
}

#[test]
fn keys_that_are_not_keys_are_refused_and_never_shown() {
    for bad in ["", "whsec_", "whsec_not base64!"] {
        assert!(
            matches!(WebhookVerifier::new(bad), Err(WebhookError::InvalidKey(_))),
            "{bad:?}"
        );
    }
    let shown = format!("{:?}", verifier(KEY, 0));
    assert!(!shown.contains("MfKQ9r8G"), "{shown}");
}

#[test]
fn a_verified_delivery_is_read_as_an_event_with_an_open_type() {
    let v = WebhookVerifier::new(KEY).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let headers = |body: &[u8], id: &str| {
        let mut h = http::HeaderMap::new();
        h.insert("webhook-id", id.parse().unwrap());
        h.insert("webhook-timestamp", now.to_string().parse().unwrap());
        h.insert("webhook-signature", v.sign(id, now, body).parse().unwrap());
        h
    };
    let body = br#"{"type":"event","id":"wevt_1","created_at":"2026-12-01T00:00:00Z","data":{"type":"session.status_run_started","id":"sesn_1","organization_id":"org_1","workspace_id":"wrkspc_1","added_later":true}}"#;
    let event = v.verify(&headers(body, "msg_1"), body).unwrap();
    assert_eq!(event.id, "wevt_1");
    assert_eq!(event.data.type_, WebhookEventType::SessionStatusRunStarted);
    assert_eq!(event.data.id, "sesn_1");
    let body = br#"{"type":"event","id":"wevt_2","created_at":"2026-12-01T00:00:00Z","data":{"type":"session.new_kind","id":"sesn_1"}}"#;
    let event = v.verify(&headers(body, "msg_2"), body).unwrap();
    assert!(event.data.type_.is_unknown());
    assert_eq!(event.data.type_.as_str(), "session.new_kind");
    // Signed but not an event: told apart from a forgery.
    let err = v.verify(&headers(b"[]", "msg_3"), b"[]").unwrap_err();
    assert!(matches!(err, WebhookError::InvalidEvent(_)) && !err.is_unauthenticated());
    let mut missing = headers(body, "msg_2");
    missing.remove("webhook-signature");
    let err = v.verify(&missing, body).unwrap_err();
    assert!(
        matches!(err, WebhookError::MissingHeader("webhook-signature")) && err.is_unauthenticated()
    );
}

proptest! {
    #[test]
    fn verification_never_panics(
        id in ".{0,40}",
        timestamp in ".{0,24}",
        signatures in ".{0,200}",
        body in proptest::collection::vec(any::<u8>(), 0..256),
        key in ".{0,60}",
    ) {
        if let Ok(v) = WebhookVerifier::new(&key) {
            let _ = v.verify_signature(&id, &timestamp, &signatures, &body);
        }
        let _ = verifier(KEY, 0).verify_signature(&id, &timestamp, &signatures, &body);
    }

    #[test]
    fn what_is_signed_verifies_and_any_changed_byte_does_not(
        body in proptest::collection::vec(any::<u8>(), 1..256),
        flip in any::<prop::sample::Index>(),
        id in "[a-z_0-9]{1,30}",
    ) {
        let v = verifier(KEY, 0);
        let signature = v.sign(&id, TIMESTAMP, &body);
        prop_assert!(verify(&v, &id, &signature, &body).is_ok());
        let mut changed = body.clone();
        let i = flip.index(changed.len());
        changed[i] ^= 0x01;
        prop_assert!(matches!(verify(&v, &id, &signature, &changed), Err(WebhookError::NoMatchingSignature)));
    }
}
