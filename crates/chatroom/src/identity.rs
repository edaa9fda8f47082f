//! Identity tokens: how a browser proves on reconnect that it is the same user as before, so it
//! gets its name back (and its messages stay attributed to it) without accounts or passwords.
//! The server hands out `v1.<user id>.<signature>`, the signature being
//! base64url(HMAC-SHA256(secret, "v1." + user id)) without padding; the secret comes from
//! `Store::secret`, so every node sharing a database accepts every node's tokens and a
//! restart invalidates none.
//!
//! No clock, no expiry, no I/O: a token is a bearer credential for a random id, nothing more.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chatroom_core::UserId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// The only token version this server issues and accepts.
const VERSION: &str = "v1";
/// Longest token [`IdentityKeys::verify`] looks at, in bytes.
pub const MAX_TOKEN_BYTES: usize = 512;
/// Shortest secret [`IdentityKeys::new`] accepts, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// Why a token was refused. Clients should get one answer for all of them (a new identity);
/// the variants are for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("identity token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    /// Not `<version>.<user id>.<signature>`, or the user id or signature cannot be read.
    #[error("identity token is malformed")]
    Malformed,
    /// A version other than `v1`.
    #[error("identity token has an unknown version")]
    WrongVersion,
    /// Well formed, but not signed with this server's secret.
    #[error("identity token signature does not match")]
    BadSignature,
}

/// Issues and verifies identity tokens with one secret. Cheap to clone; `Debug` does not show
/// the secret.
#[derive(Clone)]
pub struct IdentityKeys {
    /// HMAC state with the key already absorbed; cloned per token.
    mac: HmacSha256,
}

impl IdentityKeys {
    /// Keys from `secret` (use `Store::secret`, 32 random bytes).
    ///
    /// # Panics
    /// If `secret` is shorter than [`MIN_SECRET_BYTES`]: a startup bug, never client input.
    pub fn new(secret: &[u8]) -> Self {
        assert!(
            secret.len() >= MIN_SECRET_BYTES,
            "identity secret must be at least {MIN_SECRET_BYTES} bytes"
        );
        let mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Self { mac }
    }

    /// A token for `user`. Meant for random hex ids ([`UserId::random`]); since
    /// [`IdentityKeys::verify`] splits on the last `.` and the signature has none, an id with
    /// dots would still round-trip.
    pub fn issue(&self, user: &UserId) -> String {
        let signed = format!("{VERSION}.{}", user.as_str());
        let tag = self.tag(&signed).finalize().into_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The user a token was issued for, if this server's secret signed it. Compares the
    /// signature in constant time.
    pub fn verify(&self, token: &str) -> Result<UserId, IdentityError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(IdentityError::TooLong);
        }
        let (signed, signature) = token.rsplit_once('.').ok_or(IdentityError::Malformed)?;
        let (version, user) = signed.split_once('.').ok_or(IdentityError::Malformed)?;
        if version != VERSION {
            return Err(IdentityError::WrongVersion);
        }
        let user = UserId::new(user).map_err(|_| IdentityError::Malformed)?;
        // Strict decoding: non-canonical trailing bits are refused, so a token has one spelling.
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| IdentityError::Malformed)?;
        self.tag(signed)
            .verify_slice(&signature)
            .map_err(|_| IdentityError::BadSignature)?;
        Ok(user)
    }

    fn tag(&self, signed: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        mac
    }
}

impl fmt::Debug for IdentityKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeys").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> IdentityKeys {
        IdentityKeys::new(&[7; 32])
    }

    fn user() -> UserId {
        UserId::random([0x5a; 16])
    }

    #[test]
    fn round_trip_and_shape() {
        let token = keys().issue(&user());
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "{token}");
        assert_eq!(parts[0], "v1");
        assert_eq!(parts[1], user().as_str());
        assert_eq!(parts[2].len(), 43, "32 bytes in unpadded base64");
        assert_eq!(keys().verify(&token), Ok(user()));
    }

    #[test]
    fn matches_a_known_hmac() {
        // HMAC-SHA256 with key = 32 × 0x07 over "v1.abc", computed independently
        // (python3 hmac.new(b"\x07"*32, b"v1.abc", "sha256"), base64url, no padding).
        let token = keys().issue(&UserId::new("abc").unwrap());
        assert_eq!(token, "v1.abc.SjYPLbjulgiYLcUwKn2KxFt39Ez4i_Lvr93IvJzT9Xs");
    }

    #[test]
    fn another_key_refuses() {
        let token = keys().issue(&user());
        let other = IdentityKeys::new(&[8; 32]);
        assert_eq!(other.verify(&token), Err(IdentityError::BadSignature));
    }

    #[test]
    fn tampering_is_refused() {
        let token = keys().issue(&user());
        let other_user = UserId::random([0x5b; 16]);
        let swapped = token.replacen(user().as_str(), other_user.as_str(), 1);
        assert_eq!(keys().verify(&swapped), Err(IdentityError::BadSignature));

        // Flip each signature character to another base64url character.
        let sig_start = token.rfind('.').unwrap() + 1;
        for i in sig_start..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert!(keys().verify(&tampered).is_err(), "{tampered}");
        }
    }

    #[test]
    fn truncation_is_refused() {
        let token = keys().issue(&user());
        for end in 0..token.len() {
            assert!(keys().verify(&token[..end]).is_err(), "{}", &token[..end]);
        }
    }

    #[test]
    fn malformed_and_wrong_versions() {
        let token = keys().issue(&user());
        let sig = token.rsplit_once('.').unwrap().1;
        let uid = user();
        let cases = [
            ("", IdentityError::Malformed),
            ("v1", IdentityError::Malformed),
            ("v1.", IdentityError::Malformed),
            ("v1..", IdentityError::Malformed),
            ("nodots", IdentityError::Malformed),
            (&*format!("v1.{sig}"), IdentityError::Malformed),
            (&*format!("v1..{sig}"), IdentityError::Malformed),
            (&*format!("v1.{uid}.{sig}="), IdentityError::Malformed),
            (&*format!("v1.{uid}.{sig}!"), IdentityError::Malformed),
            (&*format!("v1.{uid}\n.{sig}"), IdentityError::Malformed),
            (&*format!("v2.{uid}.{sig}"), IdentityError::WrongVersion),
            (&*format!("V1.{uid}.{sig}"), IdentityError::WrongVersion),
            (&*format!(".{uid}.{sig}"), IdentityError::WrongVersion),
            (&*format!("v1.{uid}."), IdentityError::BadSignature),
        ];
        for (token, want) in cases {
            assert_eq!(keys().verify(token), Err(want), "{token:?}");
        }
        let long = format!("v1.{}.{sig}", "a".repeat(MAX_TOKEN_BYTES));
        assert_eq!(keys().verify(&long), Err(IdentityError::TooLong));
    }

    #[test]
    fn non_canonical_signature_spelling_is_refused() {
        let token = keys().issue(&user());
        let (signed, sig) = token.rsplit_once('.').unwrap();
        // 43 characters carry 258 bits: the last character's two low bits must be zero.
        let last = sig.as_bytes()[sig.len() - 1];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let pos = alphabet.iter().position(|&c| c == last).unwrap();
        let twin = alphabet[pos ^ 1] as char;
        let respelled = format!("{signed}.{}{twin}", &sig[..sig.len() - 1]);
        assert_ne!(respelled, token);
        assert!(keys().verify(&respelled).is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        assert_eq!(format!("{:?}", keys()), "IdentityKeys { .. }");
    }

    #[test]
    #[should_panic(expected = "at least 16 bytes")]
    fn short_secrets_are_a_startup_bug() {
        IdentityKeys::new(b"short");
    }

    proptest! {
        #[test]
        fn verify_inverts_issue(bytes in any::<[u8; 16]>()) {
            let user = UserId::random(bytes);
            prop_assert_eq!(keys().verify(&keys().issue(&user)), Ok(user));
        }

        #[test]
        fn ids_with_dots_round_trip_too(raw in "[a-z0-9.|@-]{1,40}") {
            let user = UserId::new(&raw).unwrap();
            prop_assert_eq!(keys().verify(&keys().issue(&user)), Ok(user));
        }

        #[test]
        fn verify_never_panics(s in "\\PC{0,600}|v1\\.[a-f0-9]{0,40}\\.[A-Za-z0-9_-]{0,50}") {
            let _ = keys().verify(&s);
        }
    }
}
