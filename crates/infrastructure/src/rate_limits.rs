//! Rate-limit buckets in Redis, shared by every instance (`RATE_LIMIT_REDIS_URL`): one Lua
//! script a check, so reading and moving a bucket is one atomic step however many instances
//! ask at once. The rule is GCRA, the in-memory limiter's: a bucket holds `burst` requests and
//! gains one every `period`. Redis's own clock (`TIME`) is the only clock, so instances whose
//! clocks differ still agree. Keys expire when their bucket is full again, so Redis holds only
//! the clients seen within one refill time.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Takes one request from bucket `KEYS[1]` (`ARGV[1]`: milliseconds a request refills,
/// `ARGV[2]`: the burst); answers 0 when it had room, else the milliseconds until it has.
/// The stored value is the bucket's theoretical arrival time in milliseconds.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat + period - period * burst
if now < allow_at then return allow_at - now end
local next_tat = tat + period
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 0
";

/// Every key this service writes starts with this.
const PREFIX: &str = "shop:rate:";

/// The shared buckets on one Redis server. It connects on first use (a Redis that is down at
/// start does not stop the service) and reconnects by itself after a failure.
pub struct RedisLimits {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<ConnectionManager>>,
    take: redis::Script,
}

impl RedisLimits {
    /// Buckets on the Redis server at `url` (`redis://host:port/db`).
    ///
    /// # Errors
    /// A message when the URL is not one.
    pub fn new(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            connection: tokio::sync::Mutex::new(None),
            take: redis::Script::new(TAKE),
        })
    }

    /// Takes one request from bucket `key` (`burst` at once, one more every `period`):
    /// `Ok(Ok(()))` when it had room, `Ok(Err(seconds))` to wait (whole, at least 1).
    ///
    /// # Errors
    /// A message when Redis cannot be reached or answers with an error.
    pub async fn take(
        &self,
        key: &str,
        period: Duration,
        burst: u32,
    ) -> Result<Result<(), u64>, String> {
        let mut connection = self.connection().await?;
        let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
        let answer: Result<u64, _> = self
            .take
            .key(format!("{PREFIX}{key}"))
            .arg(period_ms)
            .arg(burst)
            .invoke_async(&mut connection)
            .await;
        let wait_ms = match answer {
            Ok(ms) => ms,
            Err(e) => {
                // The next call connects afresh, at once, rather than waiting on a reconnect
                // that began while the server was away.
                *self.connection.lock().await = None;
                return Err(e.to_string());
            }
        };
        Ok(if wait_ms == 0 {
            Ok(())
        } else {
            Err(wait_ms.div_ceil(1000).max(1))
        })
    }

    /// The connection, made now when there is none yet.
    async fn connection(&self) -> Result<ConnectionManager, String> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(|e| e.to_string())?;
        *slot = Some(connection.clone());
        Ok(connection)
    }
}
