//! The built-in provider's signing key: one Ed25519 key per data directory, made on first start
//! and read back on every later one, so tokens survive restarts and every process sharing the
//! directory signs with the same key.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use jsonwebtoken::EncodingKey;
use sha2::{Digest, Sha256};

/// File name of the key inside the data directory.
pub(crate) const KEY_FILE: &str = "jwt-ed25519.pem";

/// The signing key, parsed once, with what is published about it.
pub(crate) struct SigningKeys {
    /// For `jsonwebtoken::encode`; PKCS#8 DER inside.
    pub(crate) encoding: EncodingKey,
    /// Key id: the first 16 hex digits of the SHA-256 of the public key.
    pub(crate) kid: String,
    /// The JWKS document holding the public key, ready to serve.
    pub(crate) jwks: String,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Reads `<dir>/jwt-ed25519.pem`, creating the directory and the key when missing.
///
/// Blocking file I/O: call it from `spawn_blocking`.
///
/// # Errors
/// When the directory or the file cannot be made or read, or the file holds no Ed25519 key.
pub(crate) fn load_or_create(dir: &Path) -> anyhow::Result<SigningKeys> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join(KEY_FILE);
    if !path.exists() {
        create(dir, &path)?;
    }
    // Also after creating: when another process won the race, its key is the one to use.
    load(&path)
}

/// Reads a key given from outside (a mounted secret), which must exist: making one here would
/// give each instance its own key.
///
/// # Errors
/// When the file is missing or unreadable, or holds no Ed25519 key.
pub(crate) fn load_given(path: &Path) -> anyhow::Result<SigningKeys> {
    anyhow::ensure!(
        path.is_file(),
        "the signing key file {} does not exist (make one with `openssl genpkey -algorithm ed25519`)",
        path.display()
    );
    load(path)
}

fn load(path: &Path) -> anyhow::Result<SigningKeys> {
    let pem = fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the signing key file is readable by other users; it should have mode 0600");
    }
    let key = SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{} holds no Ed25519 PKCS#8 key: {e}", path.display()))?;
    from_signing_key(&key)
}

/// Writes a new key with mode 0600 under a temporary name, then links it into place only if
/// nothing is there yet: a reader never sees a half-written file, and of two racing processes
/// the second keeps the first one's key.
fn create(dir: &Path, path: &Path) -> anyhow::Result<()> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| anyhow::anyhow!("no randomness for the signing key: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    // PKCS#8 v1 (no public key inside), the form `openssl genpkey -algorithm ed25519` writes.
    let pem = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| anyhow::anyhow!("cannot encode the signing key: {e}"))?;

    let tmp: PathBuf = dir.join(format!(
        ".{KEY_FILE}.{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    let written = (|| -> std::io::Result<bool> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(pem.as_bytes())?;
        file.sync_all()?;
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    // The temporary name goes in every case; the key lives on under its real name if linked.
    let _ = fs::remove_file(&tmp);
    let linked =
        written.with_context(|| format!("cannot write the signing key {}", path.display()))?;
    if linked {
        // Make the new directory entry durable too; failure here only risks a new key after a crash.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        tracing::info!(path = %path.display(), "created a new token signing key");
    }
    Ok(())
}

fn from_signing_key(key: &SigningKey) -> anyhow::Result<SigningKeys> {
    let public = key.verifying_key().to_bytes();
    let kid: String = hex(&Sha256::digest(public)).chars().take(16).collect();
    let der = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_der()
    .map_err(|e| anyhow::anyhow!("cannot encode the signing key: {e}"))?;
    let encoding = EncodingKey::from_ed_der(der.as_bytes());
    let jwks = serde_json::json!({
        "keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(public),
            "kid": kid,
            "use": "sig",
            "alg": "EdDSA",
        }]
    })
    .to_string();
    Ok(SigningKeys {
        encoding,
        kid,
        jwks,
    })
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_dir() -> PathBuf {
        std::env::temp_dir().join(format!("shop-keys-{}", uuid::Uuid::now_v7()))
    }

    #[test]
    fn racing_starts_end_with_one_key() {
        let dir = fresh_dir();
        let kids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| load_or_create(&dir).unwrap().kid))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(kids.iter().all(|k| k == &kids[0]), "{kids:?}");
        assert_eq!(load_or_create(&dir).unwrap().kid, kids[0]);
        // Only the key is left behind, no temporary files.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [KEY_FILE]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_given_key_is_read_and_never_made() {
        let dir = fresh_dir();
        let made = load_or_create(&dir).unwrap();
        let given = load_given(&dir.join(KEY_FILE)).unwrap();
        assert_eq!(given.kid, made.kid);
        let missing = dir.join("elsewhere.pem");
        let err = load_given(&missing).unwrap_err().to_string();
        assert!(err.contains("elsewhere.pem"), "{err}");
        assert!(!missing.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_key_stops_the_start() {
        let dir = fresh_dir();
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(KEY_FILE), "not a key").unwrap();
        let err = load_or_create(&dir).unwrap_err().to_string();
        assert!(err.contains(KEY_FILE), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
