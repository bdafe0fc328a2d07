//! Who is calling. Every caller sends `Authorization: Bearer TOKEN`, or
//! nothing:
//!
//! - `fps_…` is a staff token: looked up by its SHA-256 in the store;
//! - `fpc_…` is a customer's capability for one session: 32 random bytes,
//!   base64url without padding. Only its SHA-256 is stored with the session,
//!   so it is checked against the session it is used on, not here;
//! - no header: anonymous (may list scripts and start a customer session).
//!
//! Anything else (another scheme, another prefix, an unknown staff token, a
//! customer token of the wrong shape) is 401: a typo in a token should say
//! so, not silently act as anonymous.

use super::AppState;
use super::error::ApiError;
use crate::store::{Role, User};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Prefix of a staff API token.
pub const STAFF_PREFIX: &str = "fps_";
/// Prefix of a customer's session token.
pub const CUSTOMER_PREFIX: &str = "fpc_";

/// A freshly minted token: the text handed out once, and the hash stored.
#[derive(Debug, Clone)]
pub struct Token {
    pub plain: String,
    pub hash: String,
}

/// Mints a token: `prefix` + base64url (no padding) of 32 random bytes.
pub fn mint_token(prefix: &str) -> Result<Token, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let plain = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&plain);
    Ok(Token { plain, hash })
}

/// SHA-256 (lowercase hex) of the whole token text, prefix included: what
/// the store keeps instead of the token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A password could not be hashed (no random numbers for its salt).
#[derive(Debug, thiserror::Error)]
#[error("could not hash the password: {0}")]
pub struct HashError(String);

/// An Argon2id PHC string (default parameters, random salt): what the store
/// keeps of a password. Slow on purpose; a server runs it through
/// [`super::limits::HashGate`], as it does the check at sign-in.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError(format!("no random numbers: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Compares two hashes without stopping at the first difference, so the
/// time taken says nothing about how much of a guess was right.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An id: `prefix` + 16 bytes in hex, the first 6 the time in milliseconds
/// and the other 10 random (80 bits). Time-ordered ids put new rows next to
/// each other in the database's index instead of on random pages (half the
/// page writes per request under load). Ids are not secrets: a session opens
/// only with its token.
pub fn random_id(prefix: &str) -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes[6..])?;
    // Wall-clock order for the database's index, not logic: a fixed test
    // clock would only make ids collide on their prefix.
    #[allow(clippy::disallowed_methods)]
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    let mut out = String::with_capacity(prefix.len() + 32);
    out.push_str(prefix);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    Ok(out)
}

/// The caller of one request.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    /// Holds a customer token; `token_hash` is checked against the session
    /// the call names (a token of another session opens nothing).
    Customer {
        token_hash: String,
    },
    Staff(User),
}

impl Caller {
    pub fn staff(&self) -> Option<&User> {
        match self {
            Caller::Staff(u) => Some(u),
            _ => None,
        }
    }

    /// Requires a staff user with one of `roles`: anonymous is 401,
    /// everyone else 403.
    pub fn require_role(&self, roles: &[Role], what: &str) -> Result<&User, ApiError> {
        match self {
            Caller::Anonymous => Err(ApiError::Unauthorized(format!(
                "{what} needs a staff token (`Authorization: Bearer fps_…`)"
            ))),
            Caller::Customer { .. } => Err(ApiError::Forbidden(format!(
                "{what} is for {}; a customer token does not open it",
                role_names(roles)
            ))),
            Caller::Staff(u) if roles.contains(&u.role) => Ok(u),
            Caller::Staff(u) => Err(ApiError::Forbidden(format!(
                "{what} is for {}; `{}` is {}",
                role_names(roles),
                u.name,
                u.role.as_str()
            ))),
        }
    }
}

fn role_names(roles: &[Role]) -> String {
    let names: Vec<String> = roles.iter().map(|r| format!("{}s", r.as_str())).collect();
    names.join(" and ")
}

/// Is this a customer token of the right shape (`fpc_` + 32 bytes)?
fn well_formed_customer_token(token: &str) -> bool {
    token
        .strip_prefix(CUSTOMER_PREFIX)
        .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
        .is_some_and(|bytes| bytes.len() == 32)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let unauthorized = |why: &str| ApiError::Unauthorized(why.to_owned());
        let value = value
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not readable text"))?;
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return Err(unauthorized(
                "the Authorization header must read `Bearer TOKEN`",
            ));
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized(
                "the Authorization header must read `Bearer TOKEN`",
            ));
        }
        let token = token.trim();
        if token.starts_with(STAFF_PREFIX) {
            let hash = hash_token(token);
            return match state.store.user_by_token(&hash, state.clock.now()).await? {
                Some(user) => Ok(Caller::Staff(user)),
                None => Err(unauthorized("the staff token is not valid")),
            };
        }
        if well_formed_customer_token(token) {
            return Ok(Caller::Customer {
                token_hash: hash_token(token),
            });
        }
        Err(unauthorized(
            "the bearer token is neither a staff token (`fps_…`) nor a session token (`fpc_…`)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_customer_tokens_are_well_formed() {
        let t = mint_token(CUSTOMER_PREFIX).unwrap();
        assert!(t.plain.starts_with("fpc_"));
        assert_eq!(t.plain.len(), 4 + 43);
        assert!(well_formed_customer_token(&t.plain));
        assert_eq!(t.hash, hash_token(&t.plain));
        assert_eq!(t.hash.len(), 64);
        assert!(!well_formed_customer_token("fpc_short"));
        assert!(!well_formed_customer_token(
            &t.plain.replace("fpc_", "fpx_")
        ));
    }

    #[test]
    fn hashes_compare_in_full() {
        let a = hash_token("fpc_a");
        let b = hash_token("fpc_b");
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, &b));
        assert!(!constant_time_eq(&a, &a[..63]));
    }

    #[test]
    fn ids_have_their_prefix_and_32_hex_digits() {
        let id = random_id("ses_").unwrap();
        assert_eq!(id.len(), 4 + 32);
        assert!(id[4..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn passwords_are_argon2id_and_salted() {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b);
        let parsed = PasswordHash::new(&a).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }
}
