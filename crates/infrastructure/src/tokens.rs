//! The guest tokens of carts and orders: 32 bytes from the system's randomness, base64url.

use application::checkout::TokenMaker;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Tokens from `getrandom`.
pub struct RandomTokens;

impl TokenMaker for RandomTokens {
    fn new_token(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_random_bytes_in_base64url() {
        let a = RandomTokens.new_token().unwrap();
        let b = RandomTokens.new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
