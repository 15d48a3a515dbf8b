//! The stand-in's secrets and checks: authorization codes, traded once for
//! tokens by their client and callback with the PKCE `S256` verifier;
//! confirmation codes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Authorize, lock};

/// How long an authorization code can be traded (Cognito's own limit).
const CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// A token request, as the page posts it to `/oauth2/token`.
#[derive(Default, Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    code_verifier: String,
}

/// The authorization codes issued and not yet traded.
#[derive(Debug, Default)]
pub(super) struct Grants(Mutex<HashMap<String, Grant>>);

#[derive(Debug)]
struct Grant {
    issued: Instant,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    tokens: serde_json::Value,
}

/// An OAuth error code and its description.
pub(super) type Refusal = (&'static str, &'static str);

impl Grants {
    /// A new code for the tokens of a sign-in that `authorize` asked for.
    pub(super) fn issue(&self, authorize: &Authorize, tokens: serde_json::Value) -> String {
        let code = random_token(32);
        lock(&self.0).insert(
            code.clone(),
            Grant {
                issued: Instant::now(),
                client_id: authorize.client_id.clone(),
                redirect_uri: authorize.redirect_uri.clone(),
                code_challenge: authorize.code_challenge.clone(),
                tokens,
            },
        );
        code
    }

    /// Trades a code for its tokens, once.
    pub(super) fn redeem(&self, form: &TokenForm) -> Result<serde_json::Value, Refusal> {
        if form.grant_type != "authorization_code" {
            return Err((
                "unsupported_grant_type",
                "only authorization_code is served",
            ));
        }
        // A code is spent by its first presentation, whatever comes of it.
        let grant = lock(&self.0)
            .remove(&form.code)
            .ok_or(("invalid_grant", "the code is unknown or was already used"))?;
        if grant.issued.elapsed() > CODE_LIFETIME {
            return Err(("invalid_grant", "the code has expired"));
        }
        if form.client_id != grant.client_id {
            return Err(("invalid_client", "the code was issued to another client"));
        }
        if form.redirect_uri != grant.redirect_uri {
            return Err((
                "invalid_grant",
                "redirect_uri differs from the authorization's",
            ));
        }
        if pkce_challenge(&form.code_verifier).as_deref() != Some(grant.code_challenge.as_str()) {
            return Err((
                "invalid_grant",
                "the code_verifier does not match the code_challenge",
            ));
        }
        Ok(grant.tokens)
    }
}

/// `BASE64URL(SHA256(verifier))` for a verifier of RFC 7636's alphabet and
/// length, else `None`.
fn pkce_challenge(verifier: &str) -> Option<String> {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    valid.then(|| {
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        base64url(digest.as_ref())
    })
}

fn base64url(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    // The system's generator only fails where there is none at all.
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .unwrap_or_else(|_| panic!("the system has no random number generator"));
    bytes
}

pub(super) fn random_token(bytes: usize) -> String {
    let random: [u8; 48] = random_bytes();
    base64url(&random[..bytes.min(48)])
}

/// Six digits, as Cognito's emailed codes.
pub(super) fn confirmation_code() -> String {
    let bytes: [u8; 4] = random_bytes();
    format!("{:06}", u32::from_be_bytes(bytes) % 1_000_000)
}

pub(super) fn form_urlencoded(pairs: &[(&str, &String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636_s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").as_deref(),
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        );
        assert_eq!(pkce_challenge("too-short"), None);
        assert_eq!(pkce_challenge(&"a b".repeat(20)), None);
    }

    #[test]
    fn confirmation_codes_are_six_digits_and_tokens_url_safe() {
        for _ in 0..100 {
            let code = confirmation_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
            let token = random_token(32);
            assert_eq!(token.len(), 43);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
    }

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn authorize() -> Authorize {
        Authorize {
            client_id: "client".to_owned(),
            response_type: "code".to_owned(),
            redirect_uri: "http://127.0.0.1:4000/".to_owned(),
            state: "s".to_owned(),
            code_challenge: CHALLENGE.to_owned(),
            code_challenge_method: "S256".to_owned(),
            scope: "openid".to_owned(),
        }
    }

    fn trade(code: &str) -> TokenForm {
        TokenForm {
            grant_type: "authorization_code".to_owned(),
            client_id: "client".to_owned(),
            code: code.to_owned(),
            redirect_uri: "http://127.0.0.1:4000/".to_owned(),
            code_verifier: VERIFIER.to_owned(),
        }
    }

    #[test]
    fn a_code_is_traded_once_for_its_tokens() {
        let grants = Grants::default();
        let code = grants.issue(&authorize(), serde_json::json!({"id_token": "t"}));
        assert_eq!(
            grants.redeem(&trade(&code)),
            Ok(serde_json::json!({"id_token": "t"}))
        );
        assert_eq!(
            grants.redeem(&trade(&code)).map_err(|e| e.0),
            Err("invalid_grant")
        );
    }

    #[test]
    fn a_code_needs_its_verifier_client_and_callback_and_is_spent_by_a_wrong_one() {
        let grants = Grants::default();
        for (wrong, error) in [
            (
                TokenForm {
                    code_verifier: "x".repeat(43),
                    ..trade("")
                },
                "invalid_grant",
            ),
            (
                TokenForm {
                    client_id: "other".to_owned(),
                    ..trade("")
                },
                "invalid_client",
            ),
            (
                TokenForm {
                    redirect_uri: "https://evil.example/".to_owned(),
                    ..trade("")
                },
                "invalid_grant",
            ),
            (
                TokenForm {
                    grant_type: "password".to_owned(),
                    ..trade("")
                },
                "unsupported_grant_type",
            ),
        ] {
            let code = grants.issue(&authorize(), serde_json::json!({}));
            let form = TokenForm {
                code: code.clone(),
                ..wrong
            };
            assert_eq!(grants.redeem(&form).map_err(|e| e.0), Err(error));
            if error != "unsupported_grant_type" {
                assert!(
                    grants.redeem(&trade(&code)).is_err(),
                    "{error}: the code was not spent"
                );
            }
        }
    }

    #[test]
    fn an_expired_code_is_refused() {
        let grants = Grants::default();
        let code = grants.issue(&authorize(), serde_json::json!({}));
        if let Some(grant) = lock(&grants.0).get_mut(&code) {
            grant.issued = Instant::now()
                .checked_sub(CODE_LIFETIME + Duration::from_secs(1))
                .unwrap();
        }
        assert_eq!(
            grants.redeem(&trade(&code)),
            Err(("invalid_grant", "the code has expired"))
        );
    }

    #[test]
    fn query_values_are_encoded() {
        let state = "a b&c=d/é".to_owned();
        assert_eq!(
            form_urlencoded(&[("state", &state)]),
            "state=a+b%26c%3Dd%2F%C3%A9"
        );
    }
}
