//! Jasmin's delivery-receipt maps, read from Jasmin's own Redis during a switch
//! (`[migration] jasmin_redis`).
//!
//! When Jasmin hands a message to a connector it writes `dlr:<msgid>` (a hash: `sc` =
//! `httpapi` with `url`, `level`, `method`, `connector`, or `smppsapi` with `system_id`, the
//! addresses and `rd_receipt`), and when the SMSC answers it writes `queue-msgid:<smsc id>`
//! (`msgid`, `connector_type`). Both expire after the connector's `dlr_expiry`. Values are
//! Python's `str()` of what Jasmin held (`AddrTon.NATIONAL`, `3`). smsgate only reads them,
//! and deletes `dlr:<msgid>` once a final receipt was thrown, as Jasmin does.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::open::OpenError;
use crate::store::StoreError;

/// One message Jasmin sent, as its maps describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct JasminDlr {
    /// Jasmin's message id (what its `/send` answered).
    pub msgid: String,
    /// `httpapi` or `smppsapi`.
    pub connector_type: String,
    /// The `dlr:<msgid>` hash.
    pub fields: HashMap<String, String>,
}

/// Read access to Jasmin's receipt maps.
#[async_trait]
pub trait JasminMaps: Send + Sync {
    /// The message whose SMSC id Jasmin coded as `key`; `None` when Jasmin has no map for it
    /// (not Jasmin's, expired, or already finished).
    async fn lookup(&self, key: &str) -> Result<Option<JasminDlr>, StoreError>;
    /// Delete `dlr:<msgid>` (a final receipt was thrown).
    async fn forget(&self, msgid: &str) -> Result<(), StoreError>;
}

/// The maps in the Redis at `url`. The connection is made in the background (again at most
/// every few seconds after a failure) and a lookup never waits for it: while Jasmin's Redis is
/// unreachable a lookup fails at once, so the receipt is answered and takes the retry path.
#[cfg(feature = "cluster")]
pub async fn open(url: &str) -> Result<Arc<dyn JasminMaps>, OpenError> {
    if !url.starts_with("redis://") {
        return Err(OpenError::Config(
            "key `migration.jasmin_redis`: expected redis://[:password@]host:port[/db]".into(),
        ));
    }
    let maps = Arc::new(
        redis_maps::RedisMaps::new(url)
            .map_err(|e| OpenError::Config(format!("key `migration.jasmin_redis`: {e}")))?,
    );
    let _ = maps.con();
    Ok(maps)
}

/// A build without the `cluster` feature has no Redis client: a configured
/// `migration.jasmin_redis` is an error, not silently ignored.
#[cfg(not(feature = "cluster"))]
pub async fn open(_url: &str) -> Result<Arc<dyn JasminMaps>, OpenError> {
    Err(OpenError::Config(
        "key `migration.jasmin_redis`: this smsgate was built embedded-only (without the `cluster` feature)".into(),
    ))
}

#[cfg(feature = "cluster")]
mod redis_maps {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use ::redis::aio::ConnectionManager;
    use ::redis::AsyncCommands;
    use async_trait::async_trait;

    use super::{JasminDlr, JasminMaps};
    use crate::store::StoreError;

    /// Wait this long after a failed connection before trying again.
    const RECONNECT_AFTER: Duration = Duration::from_secs(5);
    /// A lookup on a connection that stopped answering gives up after this long.
    const LOOKUP_TIMEOUT: Duration = Duration::from_millis(500);

    enum Link {
        Idle(Option<Instant>),
        Connecting,
        Up(ConnectionManager),
    }

    pub struct RedisMaps {
        client: ::redis::Client,
        link: Arc<parking_lot::Mutex<Link>>,
    }

    fn unavailable(e: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable(e.to_string())
    }

    impl RedisMaps {
        pub fn new(url: &str) -> Result<RedisMaps, ::redis::RedisError> {
            Ok(RedisMaps {
                client: ::redis::Client::open(url)?,
                link: Arc::new(parking_lot::Mutex::new(Link::Idle(None))),
            })
        }

        /// The connection when it is up; otherwise start connecting in the background (unless
        /// a recent attempt failed) and fail at once.
        pub fn con(&self) -> Result<ConnectionManager, StoreError> {
            let mut link = self.link.lock();
            match &*link {
                Link::Up(c) => return Ok(c.clone()),
                Link::Connecting => {}
                Link::Idle(Some(failed)) if failed.elapsed() < RECONNECT_AFTER => {}
                Link::Idle(_) => {
                    *link = Link::Connecting;
                    let (client, shared) = (self.client.clone(), self.link.clone());
                    tokio::spawn(async move {
                        let next = match crate::store::redis::connection_manager(&client).await {
                            Ok(c) => Link::Up(c),
                            Err(e) => {
                                tracing::warn!(error = %e, "Jasmin's Redis unreachable");
                                Link::Idle(Some(Instant::now()))
                            }
                        };
                        *shared.lock() = next;
                    });
                }
            }
            Err(unavailable("Jasmin's Redis is not connected"))
        }
    }

    #[async_trait]
    impl JasminMaps for RedisMaps {
        async fn lookup(&self, key: &str) -> Result<Option<JasminDlr>, StoreError> {
            tokio::time::timeout(LOOKUP_TIMEOUT, self.lookup_now(key))
                .await
                .map_err(|_| unavailable("Jasmin's Redis did not answer"))?
        }

        async fn forget(&self, msgid: &str) -> Result<(), StoreError> {
            let mut con = self.con()?;
            con.del::<_, ()>(format!("dlr:{msgid}"))
                .await
                .map_err(unavailable)
        }
    }

    impl RedisMaps {
        async fn lookup_now(&self, key: &str) -> Result<Option<JasminDlr>, StoreError> {
            let mut con = self.con()?;
            let q: HashMap<String, String> = con
                .hgetall(format!("queue-msgid:{key}"))
                .await
                .map_err(unavailable)?;
            let (Some(msgid), Some(connector_type)) = (q.get("msgid"), q.get("connector_type"))
            else {
                return Ok(None);
            };
            let fields: HashMap<String, String> = con
                .hgetall(format!("dlr:{msgid}"))
                .await
                .map_err(unavailable)?;
            // Jasmin drops a receipt whose map is gone or belongs to the other API.
            if fields.get("sc") != Some(connector_type) {
                return Ok(None);
            }
            Ok(Some(JasminDlr {
                msgid: msgid.clone(),
                connector_type: connector_type.clone(),
                fields,
            }))
        }
    }
}
