//! Arbitrary bytes through the gateway's SMPP PDU decoding path.
//!
//! 1. rusmpp's `CommandCodec` exactly as the session reader configures it (64 KiB cap),
//!    decoding frame after frame from the input; every decoded command is encoded again.
//! 2. A real `smsgate::smpp::session` on one end of an in-memory `tokio::io::duplex`: the
//!    input is the byte stream the peer sends (with one request of ours outstanding, so
//!    responses in the input can match it), the application side answers every request that
//!    comes out with `generic_nack`. The session may close for any reason; it must never
//!    panic (libfuzzer-sys turns a panic in any task into an abort) nor hang (the runtime's
//!    clock is paused and auto-advances, so every timer fires as soon as all is idle).
#![no_main]

use std::time::Duration;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::{CommandStatus, Pdu};
use smsgate::smpp::session::{self, SessionConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Decoder, Encoder};

/// The session reader's cap (`SessionConfig::default().max_pdu_len`, the server's setting).
const MAX_PDU: usize = 64 * 1024;

fn codec_path(data: &[u8]) {
    let mut codec = CommandCodec::new().with_max_length(MAX_PDU);
    let mut buf = BytesMut::from(data);
    // At most one decode per 16 bytes of input plus one: the codec never loops on a frame.
    for _ in 0..=data.len() / 16 {
        match codec.decode(&mut buf) {
            Ok(Some(cmd)) => {
                let mut out = BytesMut::new();
                let _ = codec.encode(&cmd, &mut out);
                let _ = cmd.pdu();
            }
            Ok(None) | Err(_) => break,
        }
    }
}

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
}

fn session_path(data: &[u8]) {
    RT.with(|rt| {
        rt.block_on(async {
            let (ours, mut peer) = tokio::io::duplex(16 * 1024);
            let cfg = SessionConfig {
                response_timeout: Duration::from_secs(5),
                enquire_link_interval: Some(Duration::from_secs(30)),
                inactivity_timeout: Some(Duration::from_secs(60)),
                pdu_read_timeout: Duration::from_secs(10),
                max_pdu_len: MAX_PDU,
                ..SessionConfig::default()
            };
            let (s, mut requests) = session::start(ours, cfg);
            // One request outstanding (sequence number 1).
            let s1 = s.clone();
            let outstanding = tokio::spawn(async move {
                let _ = s1.request(Pdu::EnquireLink).await;
            });
            // The application: answers every request with generic_nack.
            let s2 = s.clone();
            let app = tokio::spawn(async move {
                while let Some(cmd) = requests.recv().await {
                    s2.nack(cmd.sequence_number, CommandStatus::EsmeRsyserr)
                        .await;
                }
            });
            let (mut rd, mut wr) = tokio::io::split(&mut peer);
            let input = data.to_vec();
            let feeder = async move {
                let _ = wr.write_all(&input).await;
                let _ = wr.shutdown().await;
            };
            let drain = async move {
                let mut sink = Vec::new();
                let _ = rd.read_to_end(&mut sink).await;
            };
            let done = async {
                tokio::join!(feeder, drain);
                s.closed().await;
            };
            // Paused clock: this only passes once everything else is stuck; the session
            // must have closed by then (end of input), so a timeout here is a hang.
            if tokio::time::timeout(Duration::from_secs(3600), done)
                .await
                .is_err()
            {
                panic!("session did not close after the end of input");
            }
            let _ = outstanding.await;
            let _ = app.await;
        })
    });
}

fuzz_target!(|data: &[u8]| {
    codec_path(data);
    session_path(data);
});
