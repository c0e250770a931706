//! The data model: messages, users and groups.
pub mod message;
pub mod user;

pub use message::{
    Address, Callback, CallbackKind, Channel, Direction, DlrRequest, Message, Part, Tlv,
};
pub use user::{Group, User};
