//! Message content: character sets, transliteration, splitting into `submit_sm` parts, and
//! reassembly of long received messages. See `docs/content.md`.
pub mod charset;
pub mod content;
pub mod gsm;
pub mod reassembly;
pub mod time;
pub mod translit;
