//! `smsgate-bench content`: encoding + splitting throughput on one thread, no network.
//!
//! A mixed corpus (GSM short and long, GSM extension characters, UCS2 with emoji, Latin-1,
//! Cyrillic) goes through exactly what `/send` runs per message: read the content, encode it
//! for the connector, split it (UDH by default) with a per-destination reference. Prints
//! parts/s and messages/s, then a JSON line.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use smsgate::config::{ContentEncoding, DefaultAlphabet, Unrepresentable};
use smsgate::sms::content::{self, SplitMethod};

/// Arguments of the `content` mode.
#[derive(Parser, Debug)]
#[command(
    name = "smsgate-bench content",
    about = "Encoding + splitting throughput (one thread)"
)]
struct ContentArgs {
    /// Measurement duration in seconds (after a 0.5 s warm-up).
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Split with SAR TLVs instead of a UDH.
    #[arg(long)]
    sar: bool,
    /// Pack GSM septets (connector `default_alphabet = "gsm0338-packed"`).
    #[arg(long)]
    packed: bool,
}

/// One corpus entry: content bytes as the client sends them, how they are read, the coding.
struct Item {
    name: &'static str,
    bytes: Vec<u8>,
    encoding: ContentEncoding,
    coding: Option<u8>,
}

fn corpus() -> Vec<Item> {
    let utf8 = |name, s: String, coding| Item {
        name,
        bytes: s.into_bytes(),
        encoding: ContentEncoding::Utf8,
        coding,
    };
    let long_gsm = "Dear customer, your parcel 4711 is on its way and will arrive tomorrow \
                    between 9:00 and 12:00. Reply STOP to opt out. "
        .repeat(4);
    let ext = "Promo {today}: 5€ off [all] items ~ use code |SAVE| ^now^ \\o/ ".repeat(5);
    let emoji_short = "Happy birthday! 🎉🎂 See you tonight 😀".to_string();
    let emoji_long = "Merci pour votre commande 😀 — livraison prévue demain 🚚 ".repeat(5);
    let latin1: Vec<u8> = "Café crème à la française, façade, naïve — größer "
        .repeat(4)
        .chars()
        .filter_map(|c| u8::try_from(u32::from(c)).ok())
        .collect();
    vec![
        utf8("gsm-short", "Your code is 123456".into(), None),
        utf8("gsm-long", long_gsm, None),
        utf8("gsm-extension", ext, None),
        utf8("ucs2-emoji-short", emoji_short, None),
        utf8("ucs2-emoji-long", emoji_long, None),
        Item {
            name: "latin1-raw-coding3",
            bytes: latin1.clone(),
            encoding: ContentEncoding::Raw,
            coding: Some(3),
        },
        Item {
            name: "latin1-raw-gsm",
            bytes: latin1
                .into_iter()
                .filter(|&b| b != 0xE7 && b != 0xEF && b != 0xEB)
                .collect(),
            encoding: ContentEncoding::Raw,
            coding: None,
        },
        utf8(
            "cyrillic-coding6",
            "Ваш код подтверждения: 123456. Никому его не сообщайте. ".repeat(3),
            Some(6),
        ),
    ]
}

/// Run the `content` mode with the arguments after `content`.
pub fn run(args: impl Iterator<Item = String>) -> Result<()> {
    let a =
        ContentArgs::parse_from(std::iter::once("smsgate-bench content".to_string()).chain(args));
    let method = if a.sar {
        SplitMethod::Sar
    } else {
        SplitMethod::Udh
    };
    let alphabet = if a.packed {
        DefaultAlphabet::Gsm0338Packed
    } else {
        DefaultAlphabet::Gsm0338
    };
    let items = corpus();
    let destinations: Vec<String> = (0..64).map(|i| format!("3360000{i:04}")).collect();
    let one = |item: &Item, dest: &str| -> Result<usize> {
        let read = content::read_text(
            &item.bytes,
            item.encoding,
            item.coding,
            Unrepresentable::Refuse,
        )
        .with_context(|| format!("reading {}", item.name))?;
        let payload = content::encode(read, alphabet, Unrepresentable::Refuse)
            .with_context(|| format!("encoding {}", item.name))?;
        let parts =
            content::split_with_reference(&payload, method, 255, content::next_reference(dest))
                .with_context(|| format!("splitting {}", item.name))?;
        Ok(black_box(parts).len())
    };
    println!("corpus ({} messages per round):", items.len());
    let mut per_round = 0;
    for item in &items {
        let n = one(item, "1")?;
        per_round += n;
        println!(
            "  {:<20} {:>4} bytes  {} part(s)",
            item.name,
            item.bytes.len(),
            n
        );
    }
    // Warm-up, then measure whole rounds until the duration is over.
    let run_for = |d: Duration| -> Result<(u64, u64, Duration)> {
        let start = Instant::now();
        let (mut msgs, mut parts, mut k) = (0u64, 0u64, 0usize);
        while start.elapsed() < d {
            for _ in 0..64 {
                for item in &items {
                    parts += one(item, &destinations[k % destinations.len()])? as u64;
                    msgs += 1;
                    k += 1;
                }
            }
        }
        Ok((msgs, parts, start.elapsed()))
    };
    run_for(Duration::from_millis(500))?;
    let (msgs, parts, el) = run_for(Duration::from_secs_f64(a.duration.max(0.1)))?;
    let secs = el.as_secs_f64();
    let parts_s = parts as f64 / secs;
    let msgs_s = msgs as f64 / secs;
    println!(
        "split: {}  alphabet: {}  parts per round: {per_round}",
        if a.sar { "sar" } else { "udh" },
        if a.packed {
            "gsm0338-packed"
        } else {
            "gsm0338"
        }
    );
    println!("messages: {msgs} in {secs:.2} s = {msgs_s:.0} msgs/s");
    println!("parts:    {parts} in {secs:.2} s = {parts_s:.0} parts/s (one thread)");
    println!(
        "{{\"mode\":\"content\",\"split\":\"{}\",\"packed\":{},\"msgs_per_s\":{msgs_s:.0},\"parts_per_s\":{parts_s:.0}}}",
        if a.sar { "sar" } else { "udh" },
        a.packed
    );
    Ok(())
}
