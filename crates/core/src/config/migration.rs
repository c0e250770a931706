//! `[migration]`: settings for the weeks of a switch from Jasmin.

use super::*;

/// `[migration]`: running after Jasmin on the same SMSCs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MigrationConfig {
    /// Jasmin's Redis (`redis://[:password@]host:port[/db]`). A receipt for an id smsgate does
    /// not track is looked up in Jasmin's receipt maps there (`queue-msgid:<id>`, then
    /// `dlr:<msgid>`) and thrown as Jasmin would have: an HTTP callback to the `dlr-url` Jasmin
    /// was given, or a `deliver_sm` to the SMPP user who submitted. Remove it once Jasmin's
    /// `dlr_expiry` has passed since the switch. Needs a build with the `cluster` feature.
    pub jasmin_redis: Option<String>,
}
