//! Users, groups and password checks.
//!
//! Passwords are stored as argon2id hashes. Verifying argon2 on every request would cap
//! throughput (tens of ms each), so a successful verification is cached as a keyed SHA-256
//! digest of (hash, password) under a per-process random key and compared in constant time;
//! a password change (new hash) invalidates it. Failed checks are rate-limited per user and
//! source address, and argon2 runs on a bounded pool, so guessing cannot exhaust the CPU.
//!
//! Users imported from Jasmin keep its MD5 digest (`md5:<hex>`) until they log in: the first
//! successful login (HTTP, REST or SMPP) hashes the password with argon2 and hands the new
//! hash to whoever listens on [`Auth::on_upgrade`] (the configuration manager, which replaces
//! the digest in the live and persisted profiles).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use smsgate_core::config::{AuthConfig, GroupConfig, UserConfig};
use smsgate_core::model::{Group, User};

/// Why authentication failed. Callers answer all of them the same way to the client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("authentication failure")]
    Failed,
    #[error("too many failed attempts")]
    RateLimited,
}

/// The argon2id parameters new hashes get: OWASP's m = 7 MiB, t = 5, p = 1, one of its
/// equivalent recommended sets (the crate's default is 19 MiB, t = 2: about the same CPU, but
/// each hash then holds 19 MiB, which the allocator keeps resident after the start-up hashes).
/// Existing hashes verify with the parameters they carry.
fn hasher() -> Argon2<'static> {
    match argon2::Params::new(7 * 1024, 5, 1, None) {
        Ok(p) => Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p),
        Err(_) => Argon2::default(),
    }
}

/// Hash a password with argon2id (PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string());
    // Its 7 MiB block is freed: give it back (see `smsgate_core::memory`).
    smsgate_core::memory::release_unused();
    hash
}

/// True when `password` matches the argon2 PHC string `phc` (with the parameters it carries;
/// false when it is not one). Slow by design: run it off the async threads.
pub fn argon2_verify(phc: &str, password: &[u8]) -> bool {
    let ok = PasswordHash::new(phc)
        .map(|h| Argon2::default().verify_password(password, &h).is_ok())
        .unwrap_or(false);
    smsgate_core::memory::release_unused();
    ok
}

/// Prefix of a Jasmin MD5 digest kept as a user's password (`md5:` + 32 hex digits).
pub const MD5_PREFIX: &str = "md5:";

/// The stored hash of a configured user's password: an argon2 PHC string or a Jasmin MD5
/// digest is kept (after a syntax check), anything else is a plain password and is hashed.
pub fn password_hash_of(u: &UserConfig) -> Result<String, String> {
    if let Some(hex) = u.password.strip_prefix(MD5_PREFIX) {
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "user {}: an md5: password is Jasmin's digest, 32 hex digits",
                u.username
            ));
        }
        return Ok(format!("{MD5_PREFIX}{}", hex.to_ascii_lowercase()));
    }
    if u.password.starts_with("$argon2") {
        PasswordHash::new(&u.password)
            .map_err(|e| format!("user {}: invalid argon2 hash: {e}", u.username))?;
        Ok(u.password.clone())
    } else {
        hash_password(&u.password)
    }
}

/// A user's Jasmin MD5 digest replaced by an argon2 hash after a successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordUpgrade {
    pub username: String,
    /// The `md5:` digest it replaces (the upgrade applies only while it is still the password).
    pub old: String,
    /// The argon2 PHC string.
    pub new: String,
}

/// True when `password` hashes to the `md5:<hex>` digest `stored` (constant time).
fn md5_matches(stored: &str, password: &[u8]) -> bool {
    use md5::Digest as _;
    let Some(want) = stored.strip_prefix(MD5_PREFIX) else {
        return false;
    };
    let typed = hex::encode(md5::Md5::digest(password));
    bool::from(typed.as_bytes().ct_eq(want.as_bytes()))
}

/// Registry of users and groups with password verification.
pub struct Auth {
    users: RwLock<HashMap<String, Arc<User>>>,
    groups: RwLock<HashMap<String, Group>>,
    cache: Mutex<HashMap<String, [u8; 32]>>,
    key: [u8; 32],
    failures: Mutex<HashMap<(String, IpAddr), (Instant, u32)>>,
    pool: Semaphore,
    /// One slow verification per user at a time: concurrent logins of the same user wait
    /// for the first and then hit the cache (a burst of new connections costs one argon2).
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    max_failures: u32,
    dummy_hash: String,
    upgrades: Mutex<Option<tokio::sync::mpsc::UnboundedSender<PasswordUpgrade>>>,
}

impl Auth {
    /// Build the registry from configuration (plain passwords are hashed here).
    pub fn from_config(
        cfg: &AuthConfig,
        groups: &[GroupConfig],
        users: &[UserConfig],
    ) -> Result<Auth, String> {
        let mut key = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut key[..]);
        let auth = Auth {
            users: RwLock::new(HashMap::new()),
            groups: RwLock::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            key,
            failures: Mutex::new(HashMap::new()),
            pool: Semaphore::new(cfg.verify_workers.max(1)),
            inflight: Mutex::new(HashMap::new()),
            max_failures: cfg.max_failures_per_minute,
            dummy_hash: hash_password("smsgate-dummy-password")?,
            upgrades: Mutex::new(None),
        };
        auth.reload(groups, users)?;
        Ok(auth)
    }

    /// Replace every group and user (jCli changes, a loaded profile, another node's change).
    /// Plain passwords are hashed here; argon2 PHC strings are kept as they are. Nothing
    /// changes if any user is invalid.
    pub fn reload(&self, groups: &[GroupConfig], users: &[UserConfig]) -> Result<(), String> {
        let groups: HashMap<String, Group> = groups
            .iter()
            .map(|g| {
                (
                    g.gid.clone(),
                    Group {
                        gid: g.gid.clone(),
                        enabled: g.enabled,
                    },
                )
            })
            .collect();
        let mut by_name = HashMap::with_capacity(users.len());
        for u in users {
            let password_hash = password_hash_of(u)?;
            by_name.insert(
                u.username.clone(),
                Arc::new(User {
                    uid: u.uid.clone().unwrap_or_else(|| u.username.clone()),
                    username: u.username.clone(),
                    gid: u.gid.clone(),
                    password_hash,
                    enabled: u.enabled,
                    content_encoding: u.content_encoding,
                    unrepresentable: u.unrepresentable,
                    callback_policy: u.callback_policy,
                    mt_cred: u.mt_messaging_cred.clone(),
                    smpps_cred: u.smpps_cred.clone(),
                }),
            );
        }
        *self.groups.write() = groups;
        *self.users.write() = by_name;
        Ok(())
    }

    /// Where MD5 digests replaced at login are sent (see the module docs). Without a
    /// listener, MD5 users still log in and keep their digest.
    pub fn on_upgrade(&self, tx: tokio::sync::mpsc::UnboundedSender<PasswordUpgrade>) {
        *self.upgrades.lock() = Some(tx);
    }

    /// A user by name.
    pub fn user(&self, username: &str) -> Option<Arc<User>> {
        self.users.read().get(username).cloned()
    }

    /// A group by id.
    pub fn group(&self, gid: &str) -> Option<Group> {
        self.groups.read().get(gid).cloned()
    }

    /// Every user.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    fn digest(&self, hash: &str, password: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update((hash.len() as u64).to_be_bytes());
        h.update(hash.as_bytes());
        h.update(password);
        h.finalize().into()
    }

    /// Check `username`/`password` coming from `source`.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &[u8],
        source: IpAddr,
    ) -> Result<Arc<User>, AuthError> {
        if let Some(u) = self.cached(username, password) {
            return Ok(u);
        }
        let gate = {
            let mut m = self.inflight.lock();
            if m.len() > 10_000 {
                m.retain(|_, g| Arc::strong_count(g) > 1);
            }
            m.entry(username.to_string()).or_default().clone()
        };
        let _turn = gate.lock().await;
        self.verify_slow(username, password, source).await
    }

    /// Hash `password` with argon2 and hand it to the upgrade listener, if any.
    async fn upgrade(&self, username: &str, old: &str, password: &[u8]) {
        let Some(tx) = self.upgrades.lock().clone() else {
            return;
        };
        let Ok(pw) = String::from_utf8(password.to_vec()) else {
            return;
        };
        let new = {
            let Ok(_permit) = self.pool.acquire().await else {
                return;
            };
            tokio::task::spawn_blocking(move || hash_password(&pw)).await
        };
        if let Ok(Ok(new)) = new {
            let _ = tx.send(PasswordUpgrade {
                username: username.to_string(),
                old: old.to_string(),
                new,
            });
        }
    }

    fn cached(&self, username: &str, password: &[u8]) -> Option<Arc<User>> {
        let u = self.user(username)?;
        let d = self.digest(&u.password_hash, password);
        let c = self.cache.lock().get(username).copied()?;
        bool::from(c.ct_eq(&d)).then_some(u)
    }

    async fn verify_slow(
        &self,
        username: &str,
        password: &[u8],
        source: IpAddr,
    ) -> Result<Arc<User>, AuthError> {
        let user = self.user(username);
        if let Some(u) = &user {
            let d = self.digest(&u.password_hash, password);
            if let Some(c) = self.cache.lock().get(username) {
                if bool::from(c.ct_eq(&d)) {
                    return Ok(u.clone());
                }
            }
        }
        let fkey = (username.to_string(), source);
        {
            let mut f = self.failures.lock();
            if let Some((since, n)) = f.get(&fkey) {
                if since.elapsed().as_secs() < 60 && *n >= self.max_failures {
                    return Err(AuthError::RateLimited);
                }
            }
            if f.len() > 100_000 {
                f.retain(|_, (since, _)| since.elapsed().as_secs() < 60);
            }
        }
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| self.dummy_hash.clone());
        let pw = password.to_vec();
        let is_md5 = hash.starts_with(MD5_PREFIX);
        let ok = {
            let _permit = self.pool.acquire().await.map_err(|_| AuthError::Failed)?;
            let hash = hash.clone();
            tokio::task::spawn_blocking(move || {
                if is_md5 {
                    return md5_matches(&hash, &pw);
                }
                argon2_verify(&hash, &pw)
            })
            .await
            .unwrap_or(false)
        };
        if ok && is_md5 && user.is_some() {
            self.upgrade(username, &hash, password).await;
        }
        match (ok, user) {
            (true, Some(u)) => {
                self.cache.lock().insert(
                    username.to_string(),
                    self.digest(&u.password_hash, password),
                );
                self.failures.lock().remove(&fkey);
                Ok(u)
            }
            _ => {
                let mut f = self.failures.lock();
                let e = f.entry(fkey).or_insert((Instant::now(), 0));
                if e.0.elapsed().as_secs() >= 60 {
                    *e = (Instant::now(), 0);
                }
                e.1 += 1;
                Err(AuthError::Failed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_hashes_use_owasps_7_mib_set_and_old_ones_still_verify() {
        let h = hash_password("s3cret").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        let parsed = PasswordHash::new(&h).expect("phc");
        assert!(Argon2::default()
            .verify_password(b"s3cret", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"other", &parsed)
            .is_err());
        // A hash made with the crate's default (19 MiB, t = 2) by an earlier version.
        let old = Argon2::default()
            .hash_password(b"s3cret", &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string();
        let parsed = PasswordHash::new(&old).expect("phc");
        assert!(hasher().verify_password(b"s3cret", &parsed).is_ok());
    }
}
