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

/// The maps in the Redis at `url`. The connection is made at the first lookup (and again
/// after a failure): Jasmin's Redis being down never stops the gateway, its receipts are then
/// retried and counted unknown as any other.
#[cfg(feature = "cluster")]
pub async fn open(url: &str) -> Result<Arc<dyn JasminMaps>, OpenError> {
    if !url.starts_with("redis://") {
        return Err(OpenError::Config(
            "key `migration.jasmin_redis`: expected redis://[:password@]host:port[/db]".into(),
        ));
    }
    let maps = redis_maps::RedisMaps::new(url)
        .map_err(|e| OpenError::Config(format!("key `migration.jasmin_redis`: {e}")))?;
    Ok(Arc::new(maps))
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

    use ::redis::aio::ConnectionManager;
    use ::redis::AsyncCommands;
    use async_trait::async_trait;

    use super::{JasminDlr, JasminMaps};
    use crate::store::StoreError;

    pub struct RedisMaps {
        client: ::redis::Client,
        con: tokio::sync::OnceCell<ConnectionManager>,
    }

    fn unavailable(e: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable(e.to_string())
    }

    impl RedisMaps {
        pub fn new(url: &str) -> Result<RedisMaps, ::redis::RedisError> {
            Ok(RedisMaps {
                client: ::redis::Client::open(url)?,
                con: tokio::sync::OnceCell::new(),
            })
        }

        async fn con(&self) -> Result<ConnectionManager, StoreError> {
            self.con
                .get_or_try_init(|| crate::store::redis::connection_manager(&self.client))
                .await
                .cloned()
        }
    }

    #[async_trait]
    impl JasminMaps for RedisMaps {
        async fn lookup(&self, key: &str) -> Result<Option<JasminDlr>, StoreError> {
            let mut con = self.con().await?;
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

        async fn forget(&self, msgid: &str) -> Result<(), StoreError> {
            let mut con = self.con().await?;
            con.del::<_, ()>(format!("dlr:{msgid}"))
                .await
                .map_err(unavailable)
        }
    }
}
