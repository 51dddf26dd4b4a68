//! argon2id password hashing with reused working memory.
//!
//! New hashes use m = 7 MiB, t = 5, p = 1: one of the argon2id settings OWASP's password
//! storage guidance lists as equally strong (with m = 19 MiB, t = 2, the argon2 crate's
//! default, which hashes made before still carry and still verify with). Equal CPU time per
//! hash, but under half the memory a sign-in holds, which is memory a server keeps.
//!
//! Each argon2id hash needs its whole working memory at once. Allocating it per hash lets the
//! allocator keep every freed block in the arena of whichever blocking thread ran it: a few
//! dozen sign-ins left a server at over 400 MiB resident. Here the blocks are allocated once
//! per concurrent hash (the caller bounds concurrency) and reused, so memory stays at
//! (concurrent hashes × 7 MiB) however many sign-ins come.

use std::sync::Mutex;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::{Error, Result};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The argon2id cost of new hashes: 7 MiB of memory, 5 passes, 1 lane.
fn hash_params() -> Result<Params> {
    Params::new(7 * 1024, 5, 1, None).map_err(Error::from)
}

/// Hashes and verifies PHC strings with argon2id, reusing working memory.
#[derive(Default)]
pub(crate) struct PasswordHasher {
    free: Mutex<Vec<Vec<Block>>>,
}

impl PasswordHasher {
    /// Runs `f` on `count` blocks of working memory taken from (and returned to) the pool.
    fn with_blocks<T>(&self, count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let reused = match self.free.lock() {
            Ok(mut free) => free.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        let mut blocks = match reused {
            Some(b) if b.len() >= count => b,
            _ => vec![Block::default(); count],
        };
        let result = f(&mut blocks[..count]);
        match self.free.lock() {
            Ok(mut free) => free.push(blocks),
            Err(poisoned) => poisoned.into_inner().push(blocks),
        }
        result
    }

    /// A PHC string of `password` with [`hash_params`] and a random salt.
    pub(crate) fn hash(&self, password: &[u8]) -> Result<String> {
        let params = hash_params()?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| Error::RngFailure)?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.with_blocks(params.block_count(), |blocks| {
            argon.hash_password_into_with_memory(password, &salt, &mut out, blocks)
        })?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(Salt::new(&salt)?),
            hash: Some(Output::new(&out)?),
        };
        Ok(hash.to_string())
    }

    /// Whether `password` matches the PHC string `phc`, compared in constant time.
    pub(crate) fn verify(&self, password: &[u8], phc: &str) -> Result<bool> {
        let hash = PasswordHash::new(phc)?;
        let algorithm = Algorithm::try_from(hash.algorithm.as_str())?;
        let version = hash
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&hash)?;
        let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
            return Err(Error::EncodingInvalid);
        };
        let argon = Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        self.with_blocks(params.block_count(), |blocks| {
            argon.hash_password_into_with_memory(password, salt, &mut out, blocks)
        })?;
        Ok(Output::new(&out)? == *expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    #[test]
    fn hashes_verify_here_and_with_the_argon2_crate() {
        let hasher = PasswordHasher::default();
        let phc = hasher.hash(b"correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"));
        assert!(hasher.verify(b"correct horse", &phc).unwrap());
        assert!(!hasher.verify(b"wrong horse", &phc).unwrap());
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", phc.as_str())
                .is_ok()
        );
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_verify() {
        use argon2::password_hash::PasswordHasher as _;
        let phc = Argon2::default()
            .hash_password(b"pw 12345")
            .unwrap()
            .to_string();
        let hasher = PasswordHasher::default();
        assert!(hasher.verify(b"pw 12345", &phc).unwrap());
        assert!(!hasher.verify(b"pw 12346", &phc).unwrap());
        assert_eq!(
            hasher.free.lock().unwrap().len(),
            1,
            "the working memory went back to the pool"
        );
    }
}
