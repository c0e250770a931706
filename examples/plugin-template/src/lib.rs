//! A template filter plugin: matches messages whose text contains config `word`.
//! Change the trait (`Filter`, `Route`, `Interceptor`, `HlrLookup`, `Charging`) and the export
//! macro to write another kind of plugin.

use smsgate_sdk::{config, Filter, Routable, RoutableExt};

pub struct ContainsWord;

impl Filter for ContainsWord {
    fn matches(r: &Routable) -> bool {
        match config("word") {
            Some(w) => r.text().to_lowercase().contains(&w.to_lowercase()),
            None => false,
        }
    }
}

smsgate_sdk::export_filter!(ContainsWord);

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_sdk::testing;

    #[test]
    fn matches_the_configured_word() {
        testing::reset();
        testing::set_config("word", "promo");
        assert!(ContainsWord::matches(&testing::mt(
            "336",
            "Big PROMO today"
        )));
        assert!(!ContainsWord::matches(&testing::mt("336", "hello")));
    }
}
