//! Users and groups as the gateway sees them at runtime. Money (balance, sms_count) is not
//! here: it lives in the store's ledger so that configuration reloads never roll it back.

use crate::config::{CallbackPolicy, ContentEncoding, MtMessagingCred, SmppsCred};

/// A group of users.
#[derive(Debug, Clone)]
pub struct Group {
    pub gid: String,
    pub enabled: bool,
}

/// A user.
#[derive(Debug, Clone)]
pub struct User {
    pub uid: String,
    pub username: String,
    pub gid: String,
    /// argon2 PHC string.
    pub password_hash: String,
    pub enabled: bool,
    pub content_encoding: ContentEncoding,
    /// What is done with characters the coding cannot carry.
    pub unrepresentable: crate::config::Unrepresentable,
    /// Overrides `[callbacks] policy` for this user's callback URLs.
    pub callback_policy: Option<CallbackPolicy>,
    /// `mt_messaging_cred` (the quota's money part is only the ledger's seed).
    pub mt_cred: MtMessagingCred,
    /// `smpps_cred`.
    pub smpps_cred: SmppsCred,
}
