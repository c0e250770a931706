//! Receipts for messages Jasmin sent, during a switch: looked up in Jasmin's Redis maps (see
//! [`smsgate_queue::jasmin_dlr`]) and thrown as Jasmin's `DLRLookup` would have
//! (`jasmin/managers/dlr.py`, `deliver_sm_dlr_callback`): a level-2 HTTP callback when level
//! 2 or 3 was asked, a `deliver_sm` to the SMPP user when its `registered_delivery` asks for
//! this outcome; the map is deleted at a final state.
//!
//! One difference on purpose: Jasmin's callback carries the receipt's id in `connector`; this
//! one carries the connector Jasmin recorded (what smsgate's own callbacks carry).

use smsgate_core::jasmin::{code_of, NPI, RECEIPT, TON};
use smsgate_core::model::{Address, CallbackKind};
use smsgate_queue::jasmin_dlr::JasminDlr;
use smsgate_smpp::receipt::Receipt;

use super::{callback_message, level2_params, yymmddhhmm, Dlr, DLR_HTTP_QUEUE};
use smsgate_core::model::message::now_ms;

/// States after which Jasmin forgets a message.
const FINAL: [&str; 5] = ["DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "REJECTD"];
/// States Jasmin counts as success for `registered_delivery` 2 (failure only).
const SUCCESS: [&str; 2] = ["ACCEPTD", "DELIVRD"];

/// The key Jasmin files the receipt id `id` under, for a connector whose `dlr_msg_id_bases`
/// is `mode` (`listeners.py`, `code_dlr_msgid`; the `submit_sm_resp` side is upper-cased
/// with leading zeros stripped).
pub fn jasmin_key(id: &str, mode: u8) -> String {
    let id = id.trim();
    let plain = || id.to_ascii_uppercase().trim_start_matches('0').to_string();
    match mode {
        1 => id
            .parse::<u128>()
            .map(|n| format!("{n:X}").trim_start_matches('0').to_string())
            .unwrap_or_else(|_| plain()),
        2 => u128::from_str_radix(id, 16)
            .map(|n| n.to_string())
            .unwrap_or_else(|_| plain()),
        _ => plain(),
    }
}

/// `YYMMDDhhmm` of Python's `str(datetime)` (`2026-12-06 09:10:03.123456`).
fn python_date_stamp(s: &str) -> Option<String> {
    let d: Vec<&str> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .collect();
    match d.as_slice() {
        [y, mo, da, h, mi, ..] if y.len() == 4 => Some(format!("{}{mo}{da}{h}{mi}", &y[2..])),
        _ => None,
    }
}

fn address(f: &JasminDlr, addr: &str, ton: &str, npi: &str) -> Address {
    let get = |k: &str| f.fields.get(k).map(String::as_str).unwrap_or("");
    Address {
        addr: get(addr).to_string(),
        ton: code_of(get(ton), &TON).unwrap_or(0),
        npi: code_of(get(npi), &NPI).unwrap_or(0),
    }
}

impl Dlr {
    /// A receipt this gateway does not track: thrown if Jasmin's maps know it. False when
    /// they do not (or none are configured).
    pub(super) async fn jasmin_receipt(&self, cid: &str, mode: u8, r: &Receipt) -> bool {
        let Some(maps) = &self.jasmin else {
            return false;
        };
        let key = jasmin_key(&r.id, mode);
        let found = match maps.lookup(&key).await {
            Ok(Some(f)) => f,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(%cid, smsc_id = %r.id, error = %e, "Jasmin's receipt maps unavailable");
                return false;
            }
        };
        let get = |k: &str| found.fields.get(k).map(String::as_str).unwrap_or("");
        tracing::debug!(%cid, smsc_id = %r.id, msgid = %found.msgid, sc = %found.connector_type, "receipt for a message Jasmin sent");
        match found.connector_type.as_str() {
            "httpapi" => {
                if matches!(get("level"), "2" | "3") {
                    let params = level2_params(&found.msgid, get("connector"), &key, r);
                    let method = match get("method") {
                        "" => "POST",
                        m => m,
                    };
                    let job =
                        callback_message(CallbackKind::Dlr, get("url"), method, params, None, cid);
                    if let Err(e) = self.queue(DLR_HTTP_QUEUE, &job).await {
                        tracing::error!(msgid = %found.msgid, error = %e, "cannot queue the DLR of a Jasmin message");
                        return false;
                    }
                }
            }
            "smppsapi" => {
                let rd = code_of(get("rd_receipt"), &RECEIPT).unwrap_or(0);
                let success = SUCCESS.contains(&r.stat.as_str());
                if (success && rd == 1) || (!success && matches!(rd, 1 | 2)) {
                    let source =
                        address(&found, "source_addr", "source_addr_ton", "source_addr_npi");
                    let destination =
                        address(&found, "destination_addr", "dest_addr_ton", "dest_addr_npi");
                    // Jasmin's text (`operations.py`, `getReceipt`): the submission time it
                    // recorded, the time it throws, no sub/dlvrd/text.
                    let receipt = Receipt {
                        submit_date: python_date_stamp(get("sub_date"))
                            .unwrap_or_else(|| r.submit_date.clone()),
                        done_date: yymmddhhmm(now_ms()),
                        sub: String::new(),
                        dlvrd: String::new(),
                        text: String::new(),
                        ..r.clone()
                    };
                    self.deliver_receipt(
                        get("system_id"),
                        &found.msgid,
                        &source,
                        &destination,
                        &receipt,
                    )
                    .await;
                }
            }
            other => {
                tracing::warn!(msgid = %found.msgid, sc = other, "Jasmin's receipt map names an unknown API: receipt not thrown");
                return false;
            }
        }
        if FINAL.contains(&r.stat.as_str()) {
            if let Err(e) = maps.forget(&found.msgid).await {
                tracing::warn!(msgid = %found.msgid, error = %e, "cannot delete Jasmin's receipt map");
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_jasmin_codes_them() {
        assert_eq!(jasmin_key("00ab12", 0), "AB12");
        assert_eq!(jasmin_key("255", 1), "FF");
        assert_eq!(jasmin_key("ff", 2), "255");
        assert_eq!(jasmin_key("x1", 1), "X1");
    }

    #[test]
    fn python_dates() {
        assert_eq!(
            python_date_stamp("2026-12-06 09:10:03.123456").as_deref(),
            Some("2612060910")
        );
        assert_eq!(python_date_stamp("nonsense"), None);
    }
}
