//! The data model: messages, users and groups.
pub mod connector;
pub mod message;
pub mod user;

pub use connector::ConnectorState;
pub use message::{
    Address, Callback, CallbackKind, Channel, Direction, DlrRequest, Message, Part, Tlv,
};
pub use user::{Group, User};
