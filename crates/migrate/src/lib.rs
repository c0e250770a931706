//! Moving from Jasmin: its persisted configuration read without Python and turned into
//! smsgate's.
//!
//! - [`pickle`]: a pickle reader that records classes instead of resolving them.
//! - [`store`]: a profile's files (`jcli-prod.router-users`, ...), with a class allow-list.
//! - [`convert`]: Jasmin's objects as smsgate's configuration sections, with a line for
//!   everything that has no equivalent.
//! - [`daemon_cfg`]: `jasmin.cfg` settings that have an equivalent.
//!
//! Writing the result (TOML, scripts, a data dir's profile and ledger) is the binary's job
//! (`smsgate import-jasmin`).

pub mod convert;
pub mod daemon_cfg;
pub mod pickle;
pub mod store;

pub use convert::{convert, Import, Note};
pub use store::{JasminStore, StoreError};
