//! File stores for product images: a folder on disk (the default) and Google Drive, both
//! through Apache OpenDAL, so that one adapter serves both and only its construction differs.

mod gdrive;

use std::future::Future;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use anyhow::Context;
use application::ports::{FileBody, FileStore, StorageError};
use async_trait::async_trait;
use domain::StoredFile;
use opendal::{Buffer, ErrorKind, Operator};

pub use gdrive::GdriveConfig;

/// The local store's folder for files being written, inside its root.
const TMP_DIR: &str = ".tmp/";

/// A file store on an OpenDAL operator: the `fs` service for a local folder, the `gdrive`
/// service for Google Drive.
pub struct OpendalStore {
    op: RwLock<Operator>,
    /// Drive only: builds the operator, knows the file ids Drive gave, sees refused tokens.
    drive: Option<gdrive::Drive>,
}

impl OpendalStore {
    /// Files under the folder `root` (created when missing). Each file is written to
    /// `root/.tmp/` first and renamed into place, so it is whole or absent.
    ///
    /// # Errors
    /// When the folder cannot be created or its path is not UTF-8.
    pub fn local(root: &Path) -> anyhow::Result<Self> {
        let tmp = root.join(TMP_DIR);
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create the file store folder {}", tmp.display()))?;
        let utf8 = |p: &Path| {
            p.to_str()
                .map(str::to_owned)
                .with_context(|| format!("the path {} is not UTF-8", p.display()))
        };
        let builder = opendal::services::Fs::default()
            .root(&utf8(root)?)
            .atomic_write_dir(&utf8(&tmp)?);
        Ok(Self {
            op: RwLock::new(Operator::new(builder)?),
            drive: None,
        })
    }

    /// Files in a Google Drive folder, signed in with an OAuth refresh token. Nothing is sent
    /// to Google before the first use.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS provider installed) or the configuration
    /// is incomplete.
    pub fn gdrive(config: GdriveConfig) -> anyhow::Result<Self> {
        let drive = gdrive::Drive::new(config)?;
        Ok(Self {
            op: RwLock::new(drive.operator()?),
            drive: Some(drive),
        })
    }

    fn operator(&self) -> Operator {
        self.op
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs `f` on the operator. OpenDAL renews Drive's access token only by its own clock, so
    /// a token Drive refuses earlier (revoked, or expired sooner than announced) would be
    /// refused until then: on a 401 the operator is rebuilt (a fresh token) and `f` run again.
    async fn run<T, F, Fut>(&self, f: F) -> opendal::Result<T>
    where
        F: Fn(Operator) -> Fut,
        Fut: Future<Output = opendal::Result<T>>,
    {
        let result = f(self.operator()).await;
        match &self.drive {
            Some(drive) if result.is_err() && drive.take_unauthorized() => {
                tracing::info!("Google Drive refused the access token; signing in again");
                let op = drive.operator()?;
                *self.op.write().unwrap_or_else(PoisonError::into_inner) = op.clone();
                f(op).await
            }
            _ => result,
        }
    }
}

fn unavailable(e: opendal::Error) -> StorageError {
    StorageError::Unavailable(Box::new(e))
}

fn read_error(e: opendal::Error) -> StorageError {
    match e.kind() {
        ErrorKind::NotFound => StorageError::NotFound,
        _ => unavailable(e),
    }
}

#[async_trait]
impl FileStore for OpendalStore {
    #[tracing::instrument(name = "store.put", skip_all, fields(key, size = body.len()))]
    async fn put(&self, key: &str, body: FileBody) -> Result<StoredFile, StorageError> {
        // The chunks as received: OpenDAL takes them without joining them into one copy.
        let buffer = Buffer::from(body.into_chunks());
        let written = self
            .run(|op| {
                let buffer = buffer.clone();
                async move { op.write(key, buffer).await }
            })
            .await;
        let file_id = self.drive.as_ref().and_then(|d| d.take_file_id(key));
        if let Err(e) = written {
            // Drive may have kept a file whose answer was lost; whole or nothing.
            if let Err(undo) = self.operator().delete(key).await {
                tracing::debug!(key, error = %undo, "removing what a failed write may have left failed too");
            }
            return Err(unavailable(e));
        }
        Ok(StoredFile {
            key: key.to_owned(),
            file_id,
        })
    }

    #[tracing::instrument(name = "store.get", skip_all, fields(key = %file.key))]
    async fn get(&self, file: &StoredFile) -> Result<FileBody, StorageError> {
        let buffer = self
            .run(|op| async move { op.read(&file.key).await })
            .await
            .map_err(read_error)?;
        let mut body = FileBody::default();
        for chunk in buffer {
            body.push(chunk);
        }
        Ok(body)
    }

    #[tracing::instrument(name = "store.delete", skip_all, fields(key = %file.key))]
    async fn delete(&self, file: &StoredFile) -> Result<(), StorageError> {
        // OpenDAL counts a file that is already gone as deleted.
        self.run(|op| async move { op.delete(&file.key).await })
            .await
            .map_err(unavailable)
    }

    #[tracing::instrument(name = "store.check", skip_all)]
    async fn check(&self) -> Result<(), StorageError> {
        let answered = match &self.drive {
            // Every write passes through the temporary folder: it must be there, as a folder.
            None => self.operator().stat(TMP_DIR).await.map(|_| ()),
            // A listing of the root folder goes to Drive (a stat of the root would not: OpenDAL
            // answers that itself). A root not made yet (the first upload makes it) is Drive
            // answering all the same.
            Some(_) => match self
                .run(|op| async move { op.list_with("/").limit(1).await })
                .await
            {
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                other => other.map(|_| ()),
            },
        };
        answered.map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: &[u8]) -> FileBody {
        FileBody::from(bytes.to_vec())
    }

    #[tokio::test]
    async fn a_local_store_keeps_bytes_under_their_key() {
        let dir = std::env::temp_dir().join(format!("shop-store-{}", uuid::Uuid::now_v7()));
        let store = OpendalStore::local(&dir).unwrap();
        store.check().await.unwrap();
        let file = store.put("images/a", body(b"abc")).await.unwrap();
        assert_eq!(file.key, "images/a");
        assert_eq!(file.file_id, None);
        assert_eq!(std::fs::read(dir.join("images/a")).unwrap(), b"abc");
        let read = store.get(&file).await.unwrap().into_chunks().concat();
        assert_eq!(read, b"abc");
        store.delete(&file).await.unwrap();
        store.delete(&file).await.unwrap();
        assert!(matches!(
            store.get(&file).await,
            Err(StorageError::NotFound)
        ));
        assert!(
            std::fs::read_dir(dir.join(".tmp"))
                .unwrap()
                .next()
                .is_none(),
            "no temporary file is left"
        );

        // A root that is no folder is a store that is down.
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, b"not a folder").unwrap();
        assert!(matches!(
            store.check().await,
            Err(StorageError::Unavailable(_))
        ));
        assert!(matches!(
            store.put("images/b", body(b"abc")).await,
            Err(StorageError::Unavailable(_))
        ));
        std::fs::remove_file(&dir).unwrap();
    }
}
