//! Charging against an external JSON-RPC service over HTTP, like the spec's CGRateS example:
//! POSTs `{"id":1,"method":"ApierV2.GetMaxUsage","params":[{...}]}` to config `url`; a
//! numeric `result` >= the number of parts authorizes, anything else (or an error) refuses
//! with ESME_RDELIVERYFAILURE. `settle` reports the SMSC's answer (`SmsGate.Settle`).

use smsgate_sdk::{config, http, status, Charging, Routable};

pub struct ChargingHttp;

fn call(method: &str, params: serde_json::Value) -> Result<serde_json::Value, String> {
    let url = config("url").ok_or("no url configured")?;
    let req = serde_json::json!({ "id": 1, "method": method, "params": [params] });
    let resp = http::post(&url, "application/json", req.to_string().as_bytes())?;
    let v: serde_json::Value =
        serde_json::from_slice(&resp.body).map_err(|e| format!("bad JSON: {e}"))?;
    if v.get("id").and_then(|i| i.as_i64()) != Some(1) {
        return Err("answer to another request".into());
    }
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        return Err(e.to_string());
    }
    Ok(v.get("result").cloned().unwrap_or(serde_json::Value::Null))
}

impl Charging for ChargingHttp {
    fn authorize(r: &Routable, parts: u32) -> Result<(), u32> {
        let account = r.user.clone().unwrap_or_default();
        let params = serde_json::json!({
            "Category": "sms-mt",
            "Usage": parts.to_string(),
            "Direction": "*outbound",
            "ReqType": "*subscribers",
            "TOR": "*sms-mt",
            "Account": account,
            "Tenant": config("tenant").unwrap_or_else(|| "*subscribers".into()),
            "Destination": r.destination.addr,
        });
        match call("ApierV2.GetMaxUsage", params) {
            Ok(v) if v.as_i64().is_some_and(|n| n >= parts.max(1) as i64) => Ok(()),
            _ => Err(status::ESME_RDELIVERYFAILURE),
        }
    }

    fn settle(message_id: &str, accepted: bool) {
        let _ = call(
            "SmsGate.Settle",
            serde_json::json!({ "Id": message_id, "Accepted": accepted }),
        );
    }
}

smsgate_sdk::export_charging!(ChargingHttp);

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_sdk::testing;

    #[test]
    fn authorizes_on_enough_usage_only() {
        testing::reset();
        testing::set_config("url", "http://cgr.test/jsonrpc");
        testing::mock_http(|_, body| {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            let ok = v["params"][0]["Account"] == "foo";
            Ok((
                200,
                format!(
                    r#"{{"id":1,"result":{},"error":null}}"#,
                    if ok { 5 } else { 0 }
                )
                .into_bytes(),
            ))
        });
        let mut r = testing::mt("336", "hi");
        assert_eq!(ChargingHttp::authorize(&r, 1), Ok(()));
        r.user = Some("bar".into());
        assert_eq!(
            ChargingHttp::authorize(&r, 1),
            Err(status::ESME_RDELIVERYFAILURE)
        );
        testing::mock_http(|_, _| Err("connection refused".into()));
        assert_eq!(
            ChargingHttp::authorize(&r, 1),
            Err(status::ESME_RDELIVERYFAILURE)
        );
    }
}
