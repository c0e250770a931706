//! The cluster implementations chosen by the configuration: RabbitMQ when `broker.url` is
//! set, Redis (and PostgreSQL history) when `store.url` is set. `None`: the caller uses the
//! embedded ones.

use std::sync::Arc;
#[cfg(feature = "cluster")]
use std::time::Duration;

use smsgate_core::config::Config;

#[cfg(feature = "cluster")]
use crate::broker::amqp::{AmqpBroker, AmqpConfig};
use crate::broker::Broker;
#[cfg(feature = "cluster")]
use crate::store::redis::{RedisConfig, RedisStore};
use crate::store::Store;

/// Why a configured broker or store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is not one this build understands (the message names the key).
    #[error("configuration: {0}")]
    Config(String),
    /// The service did not answer or refused us.
    #[error("storage: {0}")]
    Unreachable(String),
}

/// The AMQP broker when `broker.url` is set.
#[cfg(feature = "cluster")]
pub async fn open_broker(cfg: &Config) -> Result<Option<Arc<dyn Broker>>, OpenError> {
    let Some(acfg) = AmqpConfig::from_config(&cfg.broker) else {
        return Ok(None);
    };
    let urls = crate::broker::amqp::broker_urls(&acfg.url);
    if urls.is_empty() || !urls.iter().all(|u| u.starts_with("amqp://")) {
        return Err(OpenError::Config(
            "key `broker.url`: expected amqp://user:pass@host:port/vhost (several nodes: separated by commas)".into(),
        ));
    }
    let b = AmqpBroker::connect(acfg)
        .await
        .map_err(|e| OpenError::Unreachable(format!("RabbitMQ: {e}")))?;
    Ok(Some(b))
}

/// The Redis store when `store.url` is set.
#[cfg(feature = "cluster")]
pub async fn open_store(cfg: &Config) -> Result<Option<Arc<dyn Store>>, OpenError> {
    let Some(url) = cfg.store.url.clone() else {
        return Ok(None);
    };
    if !url.starts_with("redis://") {
        return Err(OpenError::Config(
            "key `store.url`: expected redis://host:port[/db]".into(),
        ));
    }
    let s = RedisStore::connect(RedisConfig {
        url,
        prefix: cfg.store.prefix.clone(),
        history_url: cfg.store.history_url.clone(),
        record_ttl: Duration::from_secs(cfg.store.message_record_ttl.max(1)),
    })
    .await
    .map_err(|e| OpenError::Unreachable(e.to_string()))?;
    Ok(Some(s))
}

/// A build without the `cluster` feature (embedded only): a configured `broker.url` is an
/// error, not silently ignored.
#[cfg(not(feature = "cluster"))]
pub async fn open_broker(cfg: &Config) -> Result<Option<Arc<dyn Broker>>, OpenError> {
    match cfg.broker.url {
        Some(_) => Err(OpenError::Config(NO_CLUSTER.replace("{key}", "broker.url"))),
        None => Ok(None),
    }
}

/// A build without the `cluster` feature (embedded only): a configured `store.url` is an
/// error, not silently ignored.
#[cfg(not(feature = "cluster"))]
pub async fn open_store(cfg: &Config) -> Result<Option<Arc<dyn Store>>, OpenError> {
    match cfg.store.url {
        Some(_) => Err(OpenError::Config(NO_CLUSTER.replace("{key}", "store.url"))),
        None => Ok(None),
    }
}

#[cfg(not(feature = "cluster"))]
const NO_CLUSTER: &str =
    "key `{key}`: this smsgate was built embedded-only (without the `cluster` feature)";
