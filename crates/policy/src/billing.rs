//! Billing (spec 3.12): the route rate is charged per `submit_sm` part on the user's balance,
//! and `sms_count` is decreased per part whether the route is rated or not. With
//! `quota.early_percent` set (asynchronous billing), only that percentage of the rate is
//! charged at submission; the rest of each part is charged when the SMSC acknowledges it
//! (`submit_sm_resp` ESME_ROK).

use smsgate_core::model::Message;
use smsgate_queue::store::{Charge, Store, StoreError};

/// What to charge for a message at submission.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bill {
    /// Charged on the balance now.
    pub now: f64,
    /// Parts (sms_count) charged now.
    pub parts: i64,
    /// Owed per acknowledged part.
    pub rest_per_part: f64,
}

/// Round to the ledger's precision (1e-6) so that 0.3 + 0.9 is 1.2.
fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The bill of `parts` parts through a route rated `rate`, with the user's `early_percent`.
pub fn bill(rate: f64, parts: usize, early_percent: Option<f64>) -> Bill {
    let total = rate * parts as f64;
    match early_percent {
        Some(p) if rate > 0.0 => {
            let p = p.clamp(0.0, 100.0) / 100.0;
            Bill {
                now: round(total * p),
                parts: parts as i64,
                rest_per_part: round(rate * (1.0 - p)),
            }
        }
        _ => Bill {
            now: round(total),
            parts: parts as i64,
            rest_per_part: 0.0,
        },
    }
}

/// Charge the submission part of a bill atomically (nothing is charged when the balance or
/// sms_count is insufficient).
pub async fn charge_submit(store: &dyn Store, user: &str, b: &Bill) -> Result<Charge, StoreError> {
    store.balance_charge(user, b.now, b.parts).await
}

/// The SMSC acknowledged `acked` more parts of `m`: charge what is still owed for them.
/// The submission was already allowed, so this debit is unconditional (the balance may go
/// below zero, as in Jasmin).
pub async fn charge_acknowledged(
    store: &dyn Store,
    broker: &dyn smsgate_queue::broker::Broker,
    m: &Message,
    acked: usize,
) {
    if m.bill_rest <= 0.0 || acked == 0 {
        return;
    }
    let Some(user) = m.user.as_deref() else {
        return;
    };
    let amount = round(m.bill_rest * acked as f64);
    match store.balance_credit(user, -amount, 0).await {
        Ok(_) => smsgate_queue::broker::events::bill_request(broker, m, user, amount, acked),
        Err(e) => {
            tracing::error!(id = %m.id, user, amount, error = %e, "asynchronous billing failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(bill(1.2, 1, None).now, 1.2);
        assert_eq!(bill(0.2, 5, None).now, 1.0);
        let b = bill(1.2, 1, Some(25.0));
        assert_eq!((b.now, b.rest_per_part), (0.3, 0.9));
        let b = bill(0.2, 5, Some(25.0));
        assert_eq!((b.now, b.rest_per_part), (0.25, 0.15));
        let b = bill(0.0, 3, Some(25.0));
        assert_eq!((b.now, b.parts, b.rest_per_part), (0.0, 3, 0.0));
    }
}
