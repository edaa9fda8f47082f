//! JWT sign-in (`--auth jwt`), verified with the `jsonwebtoken` crate (docs/AUTH.md says why):
//! exactly one algorithm is accepted per server — HS256 with `--auth-secret`, or RS256 with
//! `--jwt-public-key` — so `alg: none` and HS/RS confusion (an HS256 token "signed" with the
//! public key) are refused before any signature is looked at. `exp` is required and checked
//! without leeway (the server disconnects at `exp`, so accepting a token past it would be
//! inconsistent); `nbf` is honoured when present; a token naming an audience is refused,
//! since this server has none configured and must not accept tokens meant for another service.

use super::{SignInRefused, SignedIn};
use chatroom_core::{ChatError, Role, UserId, UserName};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Longest token looked at, in bytes (a JWT with a few claims is well under 2 KB).
pub const MAX_JWT_BYTES: usize = 8192;

/// Verifies tokens with one key and one algorithm. Cheap to clone.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

/// The claims this server reads; others are ignored.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    exp: u64,
}

impl JwtVerifier {
    /// HS256 with a shared secret (not empty).
    pub fn hs256(secret: &[u8]) -> Result<Self, String> {
        let key = DecodingKey::from_secret(secret).map_err(|e| format!("unusable secret: {e}"))?;
        Ok(Self::new(key, Algorithm::HS256))
    }

    /// RS256 with a PEM public key (`-----BEGIN PUBLIC KEY-----` or `BEGIN RSA PUBLIC KEY`).
    /// A private key is refused: it has no business on the chat server, and accepting it
    /// would hide that mistake.
    pub fn rs256(pem: &[u8]) -> Result<Self, String> {
        let text = String::from_utf8_lossy(pem);
        if !text.contains("-----BEGIN PUBLIC KEY-----")
            && !text.contains("-----BEGIN RSA PUBLIC KEY-----")
        {
            return Err("not a PEM public key (-----BEGIN PUBLIC KEY-----)".into());
        }
        let key =
            DecodingKey::from_rsa_pem(pem).map_err(|e| format!("not an RSA public key: {e}"))?;
        Ok(Self::new(key, Algorithm::RS256))
    }

    fn new(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        Self { key, validation }
    }

    /// The algorithm this server accepts, for logs.
    pub fn algorithm(&self) -> &'static str {
        match self.validation.algorithms.first() {
            Some(Algorithm::RS256) => "RS256",
            _ => "HS256",
        }
    }

    /// Who `token` says the client is, if it is a valid, unexpired token of this server's
    /// algorithm and key with usable claims.
    pub fn verify(&self, token: &str) -> Result<SignedIn, SignInRefused> {
        let refuse = |why: String| SignInRefused {
            error: ChatError::Unauthorized,
            why,
        };
        if token.len() > MAX_JWT_BYTES {
            return Err(refuse(format!("JWT longer than {MAX_JWT_BYTES} bytes")));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => SignInRefused {
                    error: ChatError::TokenExpired,
                    why: "JWT exp has passed".into(),
                },
                ErrorKind::InvalidAlgorithm => {
                    refuse(format!("JWT algorithm is not {}", self.algorithm()))
                }
                _ => refuse(format!("JWT refused: {e}")),
            },
        )?;
        let claims = data.claims;
        let user_id = UserId::new(&claims.sub)
            .map_err(|_| refuse("JWT sub is not a usable user id".into()))?;
        let name = UserName::new(claims.name.as_deref().unwrap_or(&claims.sub))
            .map_err(|_| refuse("JWT name (or sub) is not a valid name".into()))?;
        let role = match claims.role.as_deref() {
            None => Role::User,
            Some(raw) => Role::parse(raw).ok_or_else(|| {
                refuse(format!("JWT role {raw:?} is not user, moderator or admin"))
            })?,
        };
        let expires_at_ms = i64::try_from(claims.exp)
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .unwrap_or(i64::MAX);
        // The crate compares whole seconds and accepts a token during its `exp` second; the
        // RFC says "before", and the server disconnects at `exp` exactly, so: before, to the ms.
        if expires_at_ms <= crate::clock::now_ms() {
            return Err(SignInRefused {
                error: ChatError::TokenExpired,
                why: "JWT exp has passed".into(),
            });
        }
        Ok(SignedIn {
            user_id,
            name,
            role,
            expires_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn hs(claims: &Value, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret).unwrap(),
        )
        .unwrap()
    }

    fn code(result: Result<SignedIn, SignInRefused>) -> &'static str {
        result.unwrap_err().error.code()
    }

    /// A fresh RSA key pair made by `openssl` (private PEM, public PEM).
    fn rsa_pair() -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("key.pem");
        let public = dir.path().join("pub.pem");
        let run = |args: &[&str]| {
            let status = std::process::Command::new("openssl")
                .args(args)
                .stderr(std::process::Stdio::null())
                .status()
                .expect("openssl runs");
            assert!(status.success(), "openssl {args:?}");
        };
        run(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            private.to_str().unwrap(),
        ]);
        run(&[
            "pkey",
            "-in",
            private.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ]);
        (
            std::fs::read(private).unwrap(),
            std::fs::read(public).unwrap(),
        )
    }

    #[test]
    fn hs256_claims_become_the_user() {
        let verifier = JwtVerifier::hs256(SECRET).unwrap();
        let exp = now() + 60;
        let token = hs(
            &json!({"sub": "u-42", "name": "Ann", "role": "moderator", "exp": exp}),
            SECRET,
        );
        let user = verifier.verify(&token).unwrap();
        assert_eq!(user.user_id.as_str(), "u-42");
        assert_eq!(user.name.as_str(), "Ann");
        assert_eq!(user.role, Role::Moderator);
        assert_eq!(user.expires_at_ms, exp as i64 * 1000);
        // Without name and role: the name is sub, the role user.
        let plain = verifier
            .verify(&hs(&json!({"sub": "bob", "exp": exp}), SECRET))
            .unwrap();
        assert_eq!((plain.name.as_str(), plain.role), ("bob", Role::User));
    }

    #[test]
    fn hs256_refusals() {
        let verifier = JwtVerifier::hs256(SECRET).unwrap();
        let exp = now() + 60;
        let other_key = b"another secret of thirty-two b!!";
        for (what, token, want) in [
            (
                "wrong key",
                hs(&json!({"sub": "a", "exp": exp}), other_key),
                "unauthorized",
            ),
            ("no exp", hs(&json!({"sub": "a"}), SECRET), "unauthorized"),
            ("no sub", hs(&json!({"exp": exp}), SECRET), "unauthorized"),
            (
                "expired",
                hs(&json!({"sub": "a", "exp": now() - 1}), SECRET),
                "token_expired",
            ),
            (
                "expires this second",
                hs(&json!({"sub": "a", "exp": now()}), SECRET),
                "token_expired",
            ),
            (
                "bad role",
                hs(&json!({"sub": "a", "exp": exp, "role": "root"}), SECRET),
                "unauthorized",
            ),
            (
                "bad name",
                hs(&json!({"sub": "a", "exp": exp, "name": "\u{7}"}), SECRET),
                "unauthorized",
            ),
            (
                "audience",
                hs(&json!({"sub": "a", "exp": exp, "aud": "other-app"}), SECRET),
                "unauthorized",
            ),
            (
                "not yet",
                hs(&json!({"sub": "a", "exp": exp, "nbf": exp}), SECRET),
                "unauthorized",
            ),
            (
                "string exp",
                hs(&json!({"sub": "a", "exp": "never"}), SECRET),
                "unauthorized",
            ),
            ("garbage", "not.a.jwt".to_owned(), "unauthorized"),
            ("empty", String::new(), "unauthorized"),
            ("huge", "a".repeat(MAX_JWT_BYTES + 1), "unauthorized"),
        ] {
            assert_eq!(code(verifier.verify(&token)), want, "{what}");
        }
    }

    #[test]
    fn alg_none_is_refused() {
        let verifier = JwtVerifier::hs256(SECRET).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(json!({"sub": "a", "exp": now() + 60}).to_string());
        for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
            assert_eq!(code(verifier.verify(&token)), "unauthorized", "{token}");
        }
    }

    #[test]
    fn rs256_accepts_its_key_and_refuses_confusion() {
        let (private, public) = rsa_pair();
        let verifier = JwtVerifier::rs256(&public).unwrap();
        let claims = json!({"sub": "r-1", "name": "Rae", "exp": now() + 60});
        let signed = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_pem(&private).unwrap(),
        )
        .unwrap();
        assert_eq!(verifier.verify(&signed).unwrap().name.as_str(), "Rae");
        // HS/RS confusion: HS256 "signed" with the public key's PEM as the HMAC secret.
        let confused = hs(&claims, &public);
        assert_eq!(code(verifier.verify(&confused)), "unauthorized");
        // A token signed by another RSA key.
        let (other_private, _) = rsa_pair();
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_pem(&other_private).unwrap(),
        )
        .unwrap();
        assert_eq!(code(verifier.verify(&forged)), "unauthorized");
        // An HS256 server refuses RS256 tokens.
        assert_eq!(
            code(JwtVerifier::hs256(SECRET).unwrap().verify(&signed)),
            "unauthorized"
        );
        assert!(JwtVerifier::rs256(b"not a key").is_err());
        assert!(
            JwtVerifier::rs256(&private).is_err(),
            "a private key is not a public key"
        );
    }
}
