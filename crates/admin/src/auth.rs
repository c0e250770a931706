//! Who is calling: accounts (argon2 passwords, a session token after `POST /api/v1/login`),
//! tokens for automation (only their SHA-256 is configured), roles, and the limit on failed
//! logins per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHash;
use parking_lot::Mutex;
use rand::RngCore;
use sha2::{Digest, Sha256};
use smsgate_core::config::{AdminConfig, Role};
use subtle::ConstantTimeEq;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

struct Session {
    who: Principal,
    last_seen: Instant,
}

/// Why a login was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong name or password (which one is not told).
    Invalid,
    /// Too many failures from this address: try again after this long.
    Limited(Duration),
}

/// The credentials of the management API.
pub struct Authenticator {
    /// (name, argon2 PHC string, role)
    accounts: Vec<(String, String, Role)>,
    /// (name, SHA-256 of the token, role)
    tokens: Vec<(String, [u8; 32], Role)>,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    max_failures: u32,
    idle: Duration,
    /// Verified against when the name is unknown, so timing does not tell names apart.
    dummy: String,
    /// Keys the CSRF tokens of browser sessions (random per process).
    csrf_key: [u8; 32],
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

impl Authenticator {
    /// From `[admin]`: plain-text passwords are hashed here.
    pub fn new(cfg: &AdminConfig) -> Result<Authenticator, String> {
        let mut accounts = vec![];
        for a in &cfg.accounts {
            let hash = if a.password.starts_with("$argon2") {
                PasswordHash::new(&a.password)
                    .map_err(|e| format!("admin account {}: invalid argon2 hash: {e}", a.name))?;
                a.password.clone()
            } else {
                smsgate_policy::auth::hash_password(&a.password)?
            };
            accounts.push((a.name.clone(), hash, a.role));
        }
        let mut tokens = vec![];
        for t in &cfg.tokens {
            let mut h = [0u8; 32];
            hex::decode_to_slice(&t.sha256, &mut h)
                .map_err(|e| format!("admin token {}: {e}", t.name))?;
            tokens.push((t.name.clone(), h, t.role));
        }
        Ok(Authenticator {
            accounts,
            tokens,
            sessions: Default::default(),
            failures: Default::default(),
            max_failures: cfg.login_failures_per_minute.max(1),
            idle: Duration::from_secs(cfg.session_idle_secs.max(60)),
            dummy: smsgate_policy::auth::hash_password("not a password")?,
            csrf_key: {
                let mut k = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut k);
                k
            },
        })
    }

    /// The caller presenting bearer `token` (a configured token or a session's).
    pub fn bearer(&self, token: &str) -> Option<Principal> {
        let h = sha256(token.as_bytes());
        let mut found = None;
        // Every token compared, in constant time each.
        for (name, want, role) in &self.tokens {
            if bool::from(want.ct_eq(&h)) {
                found = Some(Principal {
                    name: name.clone(),
                    role: *role,
                });
            }
        }
        if found.is_some() {
            return found;
        }
        self.session(token)
    }

    /// Check `name`/`password` from `ip`: a new session token.
    pub fn login(
        &self,
        ip: IpAddr,
        name: &str,
        password: &str,
    ) -> Result<(String, Principal), LoginError> {
        let now = Instant::now();
        {
            let mut f = self.failures.lock();
            f.retain(|_, (since, _)| now.duration_since(*since) < Duration::from_secs(60));
            if let Some((since, n)) = f.get(&ip) {
                if *n >= self.max_failures {
                    return Err(LoginError::Limited(
                        Duration::from_secs(60).saturating_sub(now.duration_since(*since)),
                    ));
                }
            }
        }
        let account = self
            .accounts
            .iter()
            .find(|(n, _, _)| bool::from(n.as_bytes().ct_eq(name.as_bytes())));
        let hash = account.map(|(_, h, _)| h.as_str()).unwrap_or(&self.dummy);
        let ok = smsgate_policy::auth::argon2_verify(hash, password.as_bytes());
        let Some((name, _, role)) = account.filter(|_| ok) else {
            let mut f = self.failures.lock();
            let e = f.entry(ip).or_insert((now, 0));
            e.1 += 1;
            return Err(LoginError::Invalid);
        };
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let who = Principal {
            name: name.clone(),
            role: *role,
        };
        self.sessions.lock().insert(
            sha256(token.as_bytes()),
            Session {
                who: who.clone(),
                last_seen: now,
            },
        );
        Ok((token, who))
    }

    /// The caller of session `token` (a browser's cookie: sessions only, never a configured
    /// token, which a browser has no business holding).
    pub fn session(&self, token: &str) -> Option<Principal> {
        let h = sha256(token.as_bytes());
        let mut sessions = self.sessions.lock();
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last_seen) < self.idle);
        let s = sessions.get_mut(&h)?;
        s.last_seen = now;
        Some(s.who.clone())
    }

    /// The CSRF token of session `token`: what a page of the console sends back in
    /// `X-CSRF-Token` with every change (another site's page can make the browser send the
    /// cookie, but cannot read this).
    pub fn csrf(&self, token: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.csrf_key);
        h.update(token.as_bytes());
        hex::encode(h.finalize())
    }

    /// Is `given` the CSRF token of session `token` (compared in constant time)?
    pub fn csrf_ok(&self, token: &str, given: &str) -> bool {
        bool::from(self.csrf(token).as_bytes().ct_eq(given.as_bytes()))
    }

    /// End the session of bearer `token` (a configured token is not a session: no effect).
    pub fn logout(&self, token: &str) -> bool {
        self.sessions
            .lock()
            .remove(&sha256(token.as_bytes()))
            .is_some()
    }
}

/// A new random token and the line that configures it.
pub fn new_token() -> (String, String) {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let hash = hex::encode(sha256(token.as_bytes()));
    (token, hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_core::config::{AdminAccount, AdminToken};

    #[test]
    fn tokens_sessions_and_the_failure_limit() {
        let (token, hash) = new_token();
        let cfg = AdminConfig {
            accounts: vec![AdminAccount {
                name: "ops".into(),
                password: "secret".into(),
                role: Role::Operator,
            }],
            tokens: vec![AdminToken {
                name: "ci".into(),
                sha256: hash,
                role: Role::ReadOnly,
            }],
            login_failures_per_minute: 2,
            ..Default::default()
        };
        let a = Authenticator::new(&cfg).expect("auth");
        assert_eq!(a.bearer(&token).map(|p| p.role), Some(Role::ReadOnly));
        assert_eq!(a.bearer("nope"), None);
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        let (session, who) = a.login(ip, "ops", "secret").expect("login");
        assert_eq!(who.role, Role::Operator);
        assert_eq!(a.bearer(&session), Some(who));
        assert_eq!(a.session(&session).map(|p| p.role), Some(Role::Operator));
        assert_eq!(a.session(&token), None, "a configured token is no cookie");
        let csrf = a.csrf(&session);
        assert!(a.csrf_ok(&session, &csrf));
        assert!(!a.csrf_ok(&session, ""));
        assert!(!a.csrf_ok(&token, &csrf));
        assert!(a.logout(&session));
        assert_eq!(a.bearer(&session), None);
        assert_eq!(a.login(ip, "ops", "wrong"), Err(LoginError::Invalid));
        assert_eq!(a.login(ip, "nobody", "secret"), Err(LoginError::Invalid));
        // Two failures: even the right password is refused for a while.
        assert!(matches!(
            a.login(ip, "ops", "secret"),
            Err(LoginError::Limited(_))
        ));
        let other: IpAddr = "127.0.0.2".parse().expect("ip");
        assert!(a.login(other, "ops", "secret").is_ok());
    }
}
