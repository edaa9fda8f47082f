//! Who may connect (`--auth`): the sign-in the handshake demands before a client gets a name.
//! Deployments behind an existing sign-in hand the browser a signed token and the server must
//! trust that token and nothing else; small private rooms share one secret; the default stays
//! open. This module turns the operator's settings into an [`AuthMode`] and checks a
//! handshake's `auth.token` against it; `socket::auth` does the rest of the handshake.
//!
//! - `open`: no token; the client picks its name (the identity token keeps its user id).
//! - `token`: `auth.token` must equal `--auth-secret` (compared in constant time); the client
//!   still picks its name.
//! - `jwt`: `auth.token` is a JWT verified by [`jwt::JwtVerifier`]; it alone decides the user
//!   id (`sub`), the name (`name`, else `sub`), the role (`role`) and when the session ends
//!   (`exp`).
//!
//! Every refusal is `unauthorized` or `token_expired`; the reason in detail only goes to the
//! log, so a prober learns nothing about which check failed.

pub mod jwt;

use chatroom_core::{ChatError, Role, UserId, UserName};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use subtle::ConstantTimeEq;

/// Shortest `--auth-secret` for `--auth token`, in bytes.
pub const MIN_TOKEN_SECRET_BYTES: usize = 16;
/// Shortest `--auth-secret` for `--auth jwt` (HS256 wants a key as long as its hash, RFC 7518).
pub const MIN_HS256_SECRET_BYTES: usize = 32;
/// Shortest `--admin-token`, in bytes.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 16;

/// `--auth` as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthKind {
    /// Anyone who reaches the port.
    #[default]
    Open,
    /// A shared secret.
    Token,
    /// A signed JWT.
    Jwt,
}

impl FromStr for AuthKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "open" => Ok(Self::Open),
            "token" => Ok(Self::Token),
            "jwt" => Ok(Self::Jwt),
            other => Err(format!("must be open, token or jwt, got {other:?}")),
        }
    }
}

/// A secret compared in constant time; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Whether `offered` is this secret, in time independent of where they differ.
    pub fn matches(&self, offered: &[u8]) -> bool {
        // `ct_eq` on slices of different lengths is false without looking at the bytes; the
        // length of the secret is not what it protects.
        bool::from(self.0.as_slice().ct_eq(offered))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The admin API's bearer token (`--admin-token`).
pub type AdminToken = Secret;

/// The validated `--auth` setting with its key material.
#[derive(Clone, Default)]
pub enum AuthMode {
    /// `--auth open`.
    #[default]
    Open,
    /// `--auth token --auth-secret S`.
    Token(Secret),
    /// `--auth jwt` with `--auth-secret` (HS256) or `--jwt-public-key` (RS256); boxed, it is
    /// ten times the size of the others.
    Jwt(Box<jwt::JwtVerifier>),
}

impl fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::Open => f.write_str("Open"),
            AuthMode::Token(_) => f.write_str("Token(..)"),
            AuthMode::Jwt(v) => write!(f, "Jwt({})", v.algorithm()),
        }
    }
}

impl AuthMode {
    /// The mode `kind` with its settings, or what is wrong with them (one line, for the
    /// operator). The key file is read and parsed here, so a bad key stops the start.
    pub fn from_settings(
        kind: AuthKind,
        secret: Option<&str>,
        public_key: Option<&Path>,
    ) -> Result<Self, (&'static str, String)> {
        match (kind, secret, public_key) {
            (AuthKind::Open, None, None) => Ok(AuthMode::Open),
            (AuthKind::Open, _, _) => Err((
                "--auth",
                "--auth-secret and --jwt-public-key need --auth token or --auth jwt".into(),
            )),
            (AuthKind::Token, Some(secret), None) => {
                if secret.len() < MIN_TOKEN_SECRET_BYTES {
                    return Err((
                        "--auth-secret",
                        format!("must be at least {MIN_TOKEN_SECRET_BYTES} bytes"),
                    ));
                }
                Ok(AuthMode::Token(Secret(secret.as_bytes().to_vec())))
            }
            (AuthKind::Token, None, _) => {
                Err(("--auth-secret", "--auth token needs --auth-secret".into()))
            }
            (AuthKind::Token, Some(_), Some(_)) => {
                Err(("--jwt-public-key", "only applies to --auth jwt".into()))
            }
            (AuthKind::Jwt, Some(secret), None) => {
                if secret.len() < MIN_HS256_SECRET_BYTES {
                    return Err((
                        "--auth-secret",
                        format!("must be at least {MIN_HS256_SECRET_BYTES} bytes for HS256"),
                    ));
                }
                jwt::JwtVerifier::hs256(secret.as_bytes())
                    .map(|v| AuthMode::Jwt(Box::new(v)))
                    .map_err(|e| ("--auth-secret", e))
            }
            (AuthKind::Jwt, None, Some(path)) => {
                let pem = std::fs::read(path).map_err(|e| {
                    (
                        "--jwt-public-key",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                jwt::JwtVerifier::rs256(&pem)
                    .map(|v| AuthMode::Jwt(Box::new(v)))
                    .map_err(|e| ("--jwt-public-key", format!("{}: {e}", path.display())))
            }
            (AuthKind::Jwt, None, None) => Err((
                "--auth",
                "--auth jwt needs --auth-secret (HS256) or --jwt-public-key (RS256)".into(),
            )),
            (AuthKind::Jwt, Some(_), Some(_)) => Err((
                "--auth",
                "give --auth-secret (HS256) or --jwt-public-key (RS256), not both".into(),
            )),
        }
    }

    /// An admin token from `--admin-token`, checked for length.
    pub fn admin_token(raw: &str) -> Result<AdminToken, (&'static str, String)> {
        if raw.len() < MIN_ADMIN_TOKEN_BYTES {
            return Err((
                "--admin-token",
                format!("must be at least {MIN_ADMIN_TOKEN_BYTES} bytes"),
            ));
        }
        Ok(Secret(raw.as_bytes().to_vec()))
    }

    /// Checks the handshake's `auth.token` (`None`: absent). `Ok(None)`: the client may go
    /// on and choose its name as in open mode; `Ok(Some(user))`: the token decided who it is.
    pub fn sign_in(&self, token: Option<&str>) -> Result<Option<SignedIn>, SignInRefused> {
        match self {
            AuthMode::Open => Ok(None),
            AuthMode::Token(secret) => match token {
                Some(token) if secret.matches(token.as_bytes()) => Ok(None),
                Some(_) => Err(SignInRefused::unauthorized("wrong shared token")),
                None => Err(SignInRefused::unauthorized("no auth.token")),
            },
            AuthMode::Jwt(verifier) => {
                let token = token.ok_or_else(|| SignInRefused::unauthorized("no auth.token"))?;
                verifier.verify(token).map(Some)
            }
        }
    }

    /// Whether names come from the sign-in (JWT) rather than from the client.
    pub fn names_from_token(&self) -> bool {
        matches!(self, AuthMode::Jwt(_))
    }
}

/// Who a verified JWT says the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// From `sub`.
    pub user_id: UserId,
    /// From `name`, else `sub`.
    pub name: UserName,
    /// From `role`, else `user`.
    pub role: Role,
    /// `exp`, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

/// A refused sign-in: the code the client sees and, for the log only, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRefused {
    /// `Unauthorized` or `TokenExpired`.
    pub error: ChatError,
    /// The precise reason, for the operator's log.
    pub why: String,
}

impl SignInRefused {
    fn unauthorized(why: impl Into<String>) -> Self {
        Self {
            error: ChatError::Unauthorized,
            why: why.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse() {
        assert_eq!("open".parse(), Ok(AuthKind::Open));
        assert_eq!(" jwt ".parse(), Ok(AuthKind::Jwt));
        assert_eq!("token".parse(), Ok(AuthKind::Token));
        assert!("JWT".parse::<AuthKind>().is_err());
        assert!("".parse::<AuthKind>().is_err());
    }

    #[test]
    fn settings_are_checked() {
        let secret = "s".repeat(32);
        assert!(AuthMode::from_settings(AuthKind::Open, None, None).is_ok());
        assert!(AuthMode::from_settings(AuthKind::Open, Some(&secret), None).is_err());
        assert!(AuthMode::from_settings(AuthKind::Token, None, None).is_err());
        assert!(AuthMode::from_settings(AuthKind::Token, Some("short"), None).is_err());
        assert!(AuthMode::from_settings(AuthKind::Token, Some(&secret[..16]), None).is_ok());
        assert!(AuthMode::from_settings(AuthKind::Jwt, None, None).is_err());
        assert!(AuthMode::from_settings(AuthKind::Jwt, Some(&secret[..31]), None).is_err());
        assert!(AuthMode::from_settings(AuthKind::Jwt, Some(&secret), None).is_ok());
        let missing = Path::new("/nonexistent/key.pem");
        assert!(AuthMode::from_settings(AuthKind::Jwt, None, Some(missing)).is_err());
        assert!(AuthMode::from_settings(AuthKind::Jwt, Some(&secret), Some(missing)).is_err());
        assert!(AuthMode::admin_token("short").is_err());
        assert!(AuthMode::admin_token(&secret).is_ok());
    }

    #[test]
    fn shared_token_mode() {
        let secret = "a shared secret!";
        let mode = AuthMode::from_settings(AuthKind::Token, Some(secret), None).unwrap();
        assert_eq!(mode.sign_in(Some(secret)), Ok(None));
        for wrong in [
            None,
            Some(""),
            Some("a shared secret"),
            Some("a shared secret!!"),
        ] {
            assert_eq!(
                mode.sign_in(wrong).unwrap_err().error,
                ChatError::Unauthorized,
                "{wrong:?}"
            );
        }
        assert_eq!(format!("{mode:?}"), "Token(..)");
    }

    #[test]
    fn open_mode_ignores_tokens() {
        assert_eq!(AuthMode::Open.sign_in(None), Ok(None));
        assert_eq!(AuthMode::Open.sign_in(Some("x")), Ok(None));
    }
}
