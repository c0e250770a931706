//! Arbitrary bytes typed into the real jCli console (telnet negotiation included) of an
//! in-process gateway (see `support`; no login, so every input reaches the commands): the input
//! is written on a fresh connection, which is then half-closed. The console must end the
//! session (the client left) within the time limit without hanging, and keep taking new
//! sessions and serving the other APIs.
//!
//! Commands change the gateway's configuration (users, routes, connectors): later inputs run
//! against what earlier ones left, as a console does.
#![no_main]

mod support;

use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};

fuzz_target!(|data: &[u8]| {
    let f = support::gateway();
    let mut s = TcpStream::connect(f.jcli).expect("jCli accepts connections");
    s.set_read_timeout(Some(support::ANSWER_WITHIN))
        .expect("timeout");
    let _ = s.write_all(data);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // libFuzzer's timers interrupt reads: not the gateway's doing.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "jCli did not end the session within {:?} ({e}); got {:?}",
                support::ANSWER_WITHIN,
                String::from_utf8_lossy(&out)
            ),
        }
    }
    static N: AtomicU64 = AtomicU64::new(0);
    if N.fetch_add(1, Ordering::Relaxed) % 64 == 0 {
        support::still_serving(f.http);
    }
});
