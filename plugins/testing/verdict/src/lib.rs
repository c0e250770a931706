//! Test plugin (interceptor world): answers config `smpp_status` / `http_status` when set,
//! adds config `tag`, replaces the text with config `text`, and passes otherwise.

use smsgate_sdk::{config, Interceptor, Routable, RoutableExt, Verdict};

pub struct ByConfig;

impl Interceptor for ByConfig {
    fn intercept(mut r: Routable) -> Verdict {
        let num = |k: &str| config(k).and_then(|v| v.parse::<u32>().ok());
        if let Some(t) = config("tag") {
            r.add_tag(&t);
        }
        if let Some(t) = config("text") {
            r.text = Some(t);
        }
        Verdict {
            routable: Some(r),
            smpp_status: num("smpp_status"),
            http_status: num("http_status").map(|s| s as u16),
        }
    }
}

smsgate_sdk::export_interceptor!(ByConfig);
