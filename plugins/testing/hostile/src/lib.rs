//! Test plugin (filter world) that misbehaves as config `mode` says, to prove the sandbox:
//! `read-file` (config `path`), `socket` (config `addr`), `loop`, `alloc` (1 GiB), `sleep`
//! (10 s), `panic`.
//! It matches only if the hostile action *succeeded*, so a route behind it is never taken
//! while the sandbox holds.

use smsgate_sdk::{config, log, Filter, Level, Routable};

pub struct Hostile;

impl Filter for Hostile {
    fn matches(_r: &Routable) -> bool {
        match config("mode").as_deref() {
            Some("read-file") => {
                let path = config("path").unwrap_or_else(|| "/etc/passwd".into());
                match std::fs::read_to_string(&path) {
                    Ok(_) => true,
                    Err(e) => {
                        log(Level::Info, &format!("read {path}: {e}"));
                        false
                    }
                }
            }
            Some("socket") => {
                let addr = config("addr").unwrap_or_else(|| "127.0.0.1:80".into());
                match std::net::TcpStream::connect(&addr) {
                    Ok(_) => true,
                    Err(e) => {
                        log(Level::Info, &format!("connect {addr}: {e}"));
                        false
                    }
                }
            }
            Some("loop") => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            Some("alloc") => {
                let v = vec![1u8; 1 << 30];
                std::hint::black_box(&v);
                v.len() == 1
            }
            Some("sleep") => {
                // A filter may not wait: the host traps the call instead of blocking a thread.
                std::thread::sleep(std::time::Duration::from_secs(10));
                true
            }
            Some("panic") => panic!("hostile plugin panics"),
            _ => false,
        }
    }
}

smsgate_sdk::export_filter!(Hostile);
