//! The real `shop` binary as a child process: started with the settings of a [`TestApp`]
//! (same database, same signing key), stopped with SIGTERM as an orchestrator stops it, and
//! killed when dropped (also when a test panics).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::TestApp;

/// A running `shop serve`.
pub struct ShopProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The port it listens on.
    pub port: u16,
    /// Its output (the log).
    pub log: PathBuf,
}

impl Drop for ShopProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to tell that a child process serving HTTP at `base` is ready.
pub struct Readiness<'a> {
    /// `http://host:port` of the process.
    pub base: &'a str,
    /// Who it is, in failures.
    pub name: &'a str,
    /// How long it may take.
    pub within: Duration,
    /// Its log, shown when it fails.
    pub log: &'a dyn Fn() -> String,
}

impl Readiness<'_> {
    /// Polls `/health/ready` until it answers 200; panics, with the log, when `child` exits
    /// or the time is up.
    pub async fn wait(&self, client: &reqwest::Client, child: &mut Child) {
        let deadline = Instant::now() + self.within;
        loop {
            if let Some(status) = child.try_wait().expect("cannot poll the process") {
                panic!("{} exited with {status}: {}", self.name, (self.log)());
            }
            if let Ok(resp) = client
                .get(format!("{}/health/ready", self.base))
                .send()
                .await
                && resp.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} was not ready within {} s: {}",
                self.name,
                self.within.as_secs(),
                (self.log)()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a free port");
    listener.local_addr().expect("no local address").port()
}

impl ShopProcess {
    /// Starts `shop serve` on a free port with `app`'s database and data folder, plus `env`
    /// (which wins), logging to `<data_dir>/<name>.log`.
    pub fn start(app: &TestApp, name: &str, env: &[(&str, String)]) -> Self {
        Self::launch(app, name, env, None)
    }

    /// [`ShopProcess::start`] with at most `open_files` file descriptors (`ulimit -n`).
    pub fn start_with_fd_limit(
        app: &TestApp,
        name: &str,
        env: &[(&str, String)],
        open_files: u32,
    ) -> Self {
        Self::launch(app, name, env, Some(open_files))
    }

    fn launch(app: &TestApp, name: &str, env: &[(&str, String)], open_files: Option<u32>) -> Self {
        let port = free_port();
        let log = app.settings.data_dir.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("cannot create the server log");
        let binary = env!("CARGO_BIN_EXE_shop");
        let mut cmd = match open_files {
            None => Command::new(binary),
            Some(n) => {
                // The shell lowers its own limit, then becomes the server.
                let mut sh = Command::new("sh");
                sh.args(["-c", &format!("ulimit -n {n} && exec \"$0\""), binary]);
                sh
            }
        };
        cmd.current_dir(&app.settings.data_dir)
            .env("DATABASE_URL", app.settings.database_url.expose())
            .env("DATA_DIR", &app.settings.data_dir)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("RATE_LIMIT_ENABLED", "false")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("cannot share the log file"))
            .stderr(log_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("cannot start the shop binary");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            log,
        }
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most 30 s) until `/health/ready` answers 200.
    pub async fn wait_ready(&mut self, client: &reqwest::Client) {
        let log = self.log.clone();
        let ready = Readiness {
            base: &self.base,
            name: &self.base,
            within: Duration::from_secs(30),
            log: &|| std::fs::read_to_string(&log).unwrap_or_default(),
        };
        ready.wait(client, &mut self.child).await;
    }

    /// Sends SIGTERM, as Kubernetes, systemd and `docker stop` do.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("cannot poll the server")
            .is_none()
    }

    /// Waits at most `limit` for the process to exit; `None` when it still runs.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot poll the server") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
