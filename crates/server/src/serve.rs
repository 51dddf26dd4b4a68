//! The HTTP/1 connection loop: a bounded time to read each request head (which also bounds how
//! long a kept-alive connection may idle), a cap on connections served at once, and hyper's own
//! answers to unreadable heads (431, 414) rewritten as problem+json with the usual headers.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// How the connections are served.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Time to send a request head, or to start the next one on a kept-alive connection.
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// How often at most the log says the connection cap is reached.
const CAP_LOG_EVERY: Duration = Duration::from_secs(10);

/// File descriptors kept free of client connections, beside the database pool's: the
/// listener, the database and log files, and the outgoing connections to the identity
/// provider, the file store and webhook receivers.
const RESERVED_FILES: u64 = 64;

/// The fewest connections the cap is ever lowered to.
const MIN_CONNECTIONS: usize = 16;

impl ConnectionLimits {
    /// `configured` (`MAX_CONNECTIONS`), lowered where the process may not open that many
    /// files: a connection past the open-file limit would fail in `accept` (and the database
    /// pool and webhook sends with it), while one past the cap waits in the listen queue and
    /// is served when another closes. First the soft open-file limit is raised to the hard one
    /// (as Go's runtime does), so only a hard limit lowers the cap.
    pub(crate) fn within_open_file_limit(
        header_read_timeout: Duration,
        configured: usize,
        database_connections: u32,
    ) -> Self {
        let limit = raise_open_file_limit();
        let max_connections = connection_cap(configured, limit, database_connections);
        if max_connections < configured {
            tracing::warn!(
                configured,
                max_connections,
                open_file_limit = limit,
                "MAX_CONNECTIONS lowered to stay under the open-file limit (ulimit -n)"
            );
        }
        Self {
            header_read_timeout,
            max_connections,
        }
    }
}

/// The connection cap under an open-file limit of `open_files` (`None`: unlimited or unknown).
fn connection_cap(configured: usize, open_files: Option<u64>, database_connections: u32) -> usize {
    let Some(open_files) = open_files else {
        return configured;
    };
    let room = open_files.saturating_sub(RESERVED_FILES + u64::from(database_connections));
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    configured.min(room.max(MIN_CONNECTIONS))
}

/// Raises the soft open-file limit to the hard one and answers the limit now in force
/// (`None` when there is none, or it cannot be read).
#[cfg(unix)]
fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum
        && limit.current.is_some()
        && setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        )
        .is_ok()
    {
        return limit.maximum;
    }
    limit.current
}

#[cfg(not(unix))]
fn raise_open_file_limit() -> Option<u64> {
    None
}

/// Accepts from `listener` and serves `router` on each connection until `stop` completes;
/// then stops accepting, lets each connection finish the request it is serving (idle ones
/// close at once) and returns when all are closed.
pub(crate) async fn serve<L>(
    mut listener: L,
    router: axum::Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) where
    L: axum::serve::Listener<Io = TcpStream, Addr = SocketAddr>,
{
    let answers = Arc::new(HeadErrorAnswers::new().await);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut last_cap_log: Option<Instant> = None;
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if last_cap_log.is_none_or(|t| t.elapsed() >= CAP_LOG_EVERY) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached (MAX_CONNECTIONS): new connections wait until one closes"
                    );
                    last_cap_log = Some(Instant::now());
                }
                tokio::select! {
                    p = permits.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    () = &mut stop => break,
                }
            }
        };
        let (tcp, addr) = tokio::select! {
            conn = listener.accept() => conn,
            () = &mut stop => break,
        };
        let io = TokioIo::new(RewriteHeadErrors::new(tcp, answers.clone()));
        let service = TowerToHyperService::new(tower::Layer::layer(
            &axum::Extension(ConnectInfo(addr)),
            router.clone(),
        ));
        let conn = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The answers that replace hyper's bare ones to a request head it cannot read.
struct HeadErrorAnswers {
    too_large: Vec<u8>,
    uri_too_long: Vec<u8>,
}

impl HeadErrorAnswers {
    async fn new() -> Self {
        Self {
            too_large: render(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers-too-large",
                "the request's headers are too many or too large",
            )
            .await,
            uri_too_long: render(
                StatusCode::URI_TOO_LONG,
                "uri-too-long",
                "the request's path and query are too long",
            )
            .await,
        }
    }

    /// The replacement of `head`, when it is hyper's own answer to an unreadable request head:
    /// a short status line of 431 or 414, no body, and no content type.
    fn replacement<'a>(&'a self, head: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
        if head.len() > 512 || !head.ends_with(b"\r\n\r\n") {
            return None;
        }
        let answer = if head.starts_with(b"HTTP/1.1 431 ") || head.starts_with(b"HTTP/1.0 431 ") {
            &self.too_large
        } else if head.starts_with(b"HTTP/1.1 414 ") || head.starts_with(b"HTTP/1.0 414 ") {
            &self.uri_too_long
        } else {
            return None;
        };
        let text = std::str::from_utf8(head).ok()?.to_ascii_lowercase();
        if !text.contains("\r\ncontent-length: 0\r\n") || text.contains("\r\ncontent-type:") {
            return None;
        }
        // Keep hyper's `date` line.
        let date = text
            .find("\r\ndate: ")
            .and_then(|at| {
                let line = &head[at + 2..];
                let end = line.windows(2).position(|w| w == b"\r\n")?;
                Some(&line[..end + 2])
            })
            .unwrap_or(b"");
        Some((answer, date))
    }
}

/// A problem+json answer as bytes on the wire, with the headers every answer carries; the
/// connection closes after it.
async fn render(status: StatusCode, slug: &'static str, detail: &str) -> Vec<u8> {
    let response = api::ApiError::new(status, slug, detail).into_response();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    for (name, value) in [
        ("content-security-policy", api::response_headers::API_CSP),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("connection", "close"),
        ("content-length", &body.len().to_string()),
    ] {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&body);
    bytes
}

/// A TCP stream whose writes of hyper's bare 431 and 414 answers become problem+json ones.
struct RewriteHeadErrors {
    inner: TcpStream,
    answers: Arc<HeadErrorAnswers>,
    /// Bytes of a replacement still to be written.
    pending: Vec<u8>,
    written: usize,
}

impl RewriteHeadErrors {
    fn new(inner: TcpStream, answers: Arc<HeadErrorAnswers>) -> Self {
        Self {
            inner,
            answers,
            pending: Vec::new(),
            written: 0,
        }
    }

    /// Takes `buf` as a replacement when it is one of hyper's bare answers.
    fn intercept(&mut self, buf: &[u8]) -> bool {
        let Some((answer, date)) = self.answers.replacement(buf) else {
            return false;
        };
        // The status line, then hyper's date, then the rest of the prepared answer.
        let split = answer
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(0, |p| p + 2);
        let mut bytes = Vec::with_capacity(answer.len() + date.len());
        bytes.extend_from_slice(&answer[..split]);
        bytes.extend_from_slice(date);
        bytes.extend_from_slice(&answer[split..]);
        self.pending = bytes;
        self.written = 0;
        true
    }

    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for RewriteHeadErrors {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for RewriteHeadErrors {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if self.intercept(buf) {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let non_empty: Vec<&io::IoSlice<'_>> = bufs.iter().filter(|b| !b.is_empty()).collect();
        if let [only] = non_empty.as_slice()
            && self.intercept(only)
        {
            return Poll::Ready(Ok(only.len()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::connection_cap;

    #[test]
    fn the_cap_leaves_room_for_the_pool_and_the_reserve_under_the_open_file_limit() {
        // No limit: as configured.
        assert_eq!(connection_cap(1024, None, 16), 1024);
        // A limit with room to spare: as configured.
        assert_eq!(connection_cap(1024, Some(1_048_576), 16), 1024);
        assert_eq!(connection_cap(1024, Some(1024 + 64 + 16), 16), 1024);
        // One file short: one connection fewer.
        assert_eq!(connection_cap(1024, Some(1024 + 64 + 15), 16), 1023);
        // `ulimit -n 256` with a pool of 10: 256 - 64 - 10.
        assert_eq!(connection_cap(1024, Some(256), 10), 182);
        // Never below the floor, even when the limit leaves no room at all.
        assert_eq!(connection_cap(1024, Some(64), 10), 16);
        // A configured cap below the floor stays as configured.
        assert_eq!(connection_cap(4, Some(64), 10), 4);
    }
}
