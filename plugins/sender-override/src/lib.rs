//! Sender-id override: every intercepted message gets config `sender` as its source address,
//! locked so the connector's default `src_addr`/TON/NPI do not overwrite it, and the tag
//! `sender-overridden`.

use smsgate_sdk::{
    config, log, modified, pass, Interceptor, Level, Routable, RoutableExt, Verdict,
};

pub struct SenderOverride;

impl Interceptor for SenderOverride {
    fn intercept(mut r: Routable) -> Verdict {
        let Some(sender) = config("sender") else {
            log(Level::Warn, "no sender configured: message unchanged");
            return pass();
        };
        r.set_source(&sender);
        r.add_tag("sender-overridden");
        modified(r)
    }
}

smsgate_sdk::export_interceptor!(SenderOverride);

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_sdk::testing;

    #[test]
    fn overrides_and_locks() {
        testing::reset();
        testing::set_config("sender", "BRAND");
        let v = SenderOverride::intercept(testing::mt("336", "hi"));
        let r = v.routable.expect("changed");
        assert_eq!(r.source.addr, "BRAND");
        assert_eq!(r.source.ton, 5);
        assert!(r.locked.contains(&"source_addr".to_string()));
        assert!(r.has_tag("sender-overridden"));
        assert_eq!(v.smpp_status, None);
    }

    #[test]
    fn passes_without_config() {
        testing::reset();
        let v = SenderOverride::intercept(testing::mt("336", "hi"));
        assert!(v.routable.is_none());
        assert_eq!(testing::logs().len(), 1);
    }
}
