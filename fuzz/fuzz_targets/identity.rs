//! Fuzzes identity-token verification (`identity::IdentityKeys::verify`), the one credential a
//! client presents.
//!
//! Invariants: verifying arbitrary text never panics; anything accepted is exactly the token
//! the server would issue for that user id (one spelling per token); a token issued for a
//! valid id always verifies back to it.
#![no_main]

use chatroom::identity;
use chatroom_core::UserId;
use identity::IdentityKeys;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzzing secret, 32 bytes long!!!";

fuzz_target!(|data: &[u8]| {
    let keys = IdentityKeys::new(SECRET);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(user) = keys.verify(text) {
        assert_eq!(keys.issue(&user), text, "accepted a non-canonical token");
    }
    if let Ok(user) = UserId::new(text) {
        let token = keys.issue(&user);
        if token.len() <= identity::MAX_TOKEN_BYTES {
            assert_eq!(keys.verify(&token), Ok(user));
        }
    }
});
