//! HLR lookup over HTTP/JSON: POSTs `{"number": "<msisdn>"}` to config `url` and expects
//! `{"mcc": "208", "mnc": "01", "ported": false, "network": "Orange"}`. The host must be
//! granted in the plugin's `name.toml` (`allow_hosts`).

use smsgate_sdk::{config, http, HlrLookup, Network};

pub struct HlrHttp;

impl HlrLookup for HlrHttp {
    fn lookup(msisdn: &str) -> Result<Network, String> {
        let url = config("url").ok_or("no url configured")?;
        let body = serde_json::json!({ "number": msisdn }).to_string();
        let resp = http::post(&url, "application/json", body.as_bytes())?;
        if resp.status != 200 {
            return Err(format!("HLR service answered {}", resp.status));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&resp.body).map_err(|e| format!("bad JSON: {e}"))?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Ok(Network {
            mcc: s("mcc").ok_or("no mcc")?,
            mnc: s("mnc").ok_or("no mnc")?,
            ported: v.get("ported").and_then(|x| x.as_bool()).unwrap_or(false),
            name: s("network"),
        })
    }
}

smsgate_sdk::export_hlr_lookup!(HlrHttp);

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_sdk::testing;

    #[test]
    fn parses_the_service_answer() {
        testing::reset();
        testing::set_config("url", "http://hlr.test/lookup");
        testing::mock_http(|url, body| {
            assert_eq!(url, "http://hlr.test/lookup");
            assert_eq!(body, br#"{"number":"33600000000"}"#);
            Ok((200, br#"{"mcc":"208","mnc":"01","ported":true}"#.to_vec()))
        });
        let n = HlrHttp::lookup("33600000000").unwrap();
        assert_eq!(
            (n.mcc.as_str(), n.mnc.as_str(), n.ported),
            ("208", "01", true)
        );
        testing::mock_http(|_, _| Ok((500, vec![])));
        assert!(HlrHttp::lookup("1").is_err());
    }
}
