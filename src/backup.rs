//! `smsgate backup` and `smsgate restore`: the embedded database copied while the gateway
//! runs, and put back into a stopped gateway's data dir (see `smsgate_queue::backup`).

use std::path::Path;

use crate::app::DataDirLock;
use crate::config::Config;

fn embedded_only(cfg: &Config) -> Result<(), String> {
    if cfg.broker.url.is_some() || cfg.store.url.is_some() {
        return Err(
            "cluster mode keeps messages in RabbitMQ and state in Redis and PostgreSQL: back those up with their own tools"
                .into(),
        );
    }
    Ok(())
}

/// Back up the database of `cfg`'s data dir to `out`; what it holds.
pub fn backup(cfg: &Config, out: &Path) -> Result<String, String> {
    embedded_only(cfg)?;
    let db = cfg.data_dir.join("smsgate.db");
    let s = smsgate_queue::backup::backup(&db, out).map_err(|e| e.to_string())?;
    Ok(format!(
        "backup written to {}: {} bytes, {} queued messages",
        out.display(),
        s.bytes,
        s.queued
    ))
}

/// Restore `from` into `cfg`'s data dir; the gateway must be stopped.
pub fn restore(cfg: &Config, from: &Path) -> Result<String, String> {
    embedded_only(cfg)?;
    let _lock = DataDirLock::take(&cfg.data_dir)
        .map_err(|e| format!("{e}: stop the gateway before restoring"))?;
    let db = cfg.data_dir.join("smsgate.db");
    let (s, kept) = smsgate_queue::backup::restore(from, &db).map_err(|e| e.to_string())?;
    let mut msg = format!(
        "restored {} into {}: {} queued messages will be delivered at the next start",
        from.display(),
        db.display(),
        s.queued
    );
    if let Some(k) = kept {
        msg.push_str(&format!(
            "; the replaced database is kept as {}",
            k.display()
        ));
    }
    Ok(msg)
}
