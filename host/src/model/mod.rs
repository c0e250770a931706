//! The data model: messages, users and groups.
pub mod message;
pub mod user;

pub use message::{Address, Channel, Direction, DlrRequest, Message, Part, Tlv};
pub use user::{Group, User};
