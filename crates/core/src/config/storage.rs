//! Where messages and state live: `[store]`, `[broker]`, `[cluster]` and `[queue]`.

use super::de::*;
use super::*;

/// `[store]`: shared state (balances, DLR maps, message records). No URL = embedded SQLite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `redis://...` for cluster mode; unset for the embedded store.
    pub url: Option<String>,
    /// SQLite durability: `full` (fsync every group commit: survives power loss) or `normal`
    /// (survives a crash of the gateway process, not of the machine).
    pub sync: SyncMode,
    /// Maximum operations folded into one group commit.
    pub group_commit_max: usize,
    /// How long message status records are kept, in seconds.
    pub message_record_ttl: u64,
    /// Cluster mode: prefix of every Redis key and of the change channel (per deployment or
    /// per test).
    pub prefix: String,
    /// Cluster mode: `postgres://...` for the message history (`query_sm`, reports); unset
    /// keeps the records in Redis with `message_record_ttl`.
    pub history_url: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: None,
            sync: SyncMode::Full,
            group_commit_max: 4096,
            message_record_ttl: 7 * 86400,
            prefix: "smsgate:".into(),
            history_url: None,
        }
    }
}

/// `[broker]`: message queues. No URL = embedded queues in the store's database file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// `amqp://...` for cluster mode; unset for the embedded queue. The nodes of a RabbitMQ
    /// cluster may be listed, separated by commas: the gateway connects to the first that
    /// answers and moves to another when it goes away.
    pub url: Option<String>,
    /// Prefix of the exchange and queue names (empty: Jasmin's names exactly).
    pub prefix: String,
    /// Deliveries a consumer holds at most (AMQP prefetch) per queue.
    pub prefetch: u16,
    /// `classic` or `quorum` queues.
    pub queue_type: QueueType,
    /// Channels publishing in parallel (each with publisher confirms).
    pub publish_channels: usize,
    /// Publish Jasmin's informational routing keys for third-party consumers
    /// (`submit.sm.resp.<cid>`, `deliver.sm.<cid>`, `dlr.*`, `billing`). Off by default: each
    /// event is one more publish RabbitMQ routes.
    pub events: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            url: None,
            prefix: String::new(),
            prefetch: 256,
            queue_type: QueueType::Classic,
            publish_channels: 4,
            events: false,
        }
    }
}

/// `[cluster]`: how nodes share SMPP client connectors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// This node's name in leases (default: host name and process id).
    pub node_id: Option<String>,
    /// A connector's lease lasts this long (ms) unless renewed; a dead node's connectors
    /// move to another node after it.
    pub lease_ttl_ms: u64,
    /// Connectors that bind from every node (SMSCs that accept several binds); `"*"` = all.
    pub bind_everywhere: Vec<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_id: None,
            lease_ttl_ms: 5000,
            bind_everywhere: vec![],
        }
    }
}

/// `[queue]`: message lifecycle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// A message without a validity period expires after this many seconds in the queue.
    pub max_age: u64,
    /// Attempts before a message that keeps failing temporarily is given up.
    pub max_retries: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_age: 86400,
            max_retries: 5,
        }
    }
}

names! {
    /// `store.sync`: when the embedded database's writes reach the disk.
    SyncMode {
        /// Every accepted message is on disk before it is acknowledged (fsync).
        Full = "full",
        /// Written at once, synced by the OS (a power cut may lose the last instant).
        Normal = "normal",
    }
}

names! {
    /// `broker.queue_type`: the RabbitMQ queue type.
    QueueType {
        /// Classic queues (durable, one node).
        Classic = "classic",
        /// Quorum queues (replicated over the RabbitMQ cluster).
        Quorum = "quorum",
    }
}
