//! The live state of an SMPP client connector, as routing, the console and the cluster see it.

/// Live state of a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorState {
    /// Its service is stopped (not started, or stopped by the operator).
    Stopped,
    /// Connecting or binding.
    Connecting,
    /// Bound: it takes messages.
    Bound,
    /// The connection was lost; it reconnects after its back-off.
    Disconnected,
}
