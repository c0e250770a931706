//! Blacklist filter: matches a message whose destination (MT) or source (MO) is one of the
//! numbers in config `numbers` (comma-separated, `+` ignored). Use it in a route to a
//! blackhole connector, or in an interceptor's filters to refuse those numbers.

use smsgate_sdk::{config, Direction, Filter, Routable};

pub struct Blacklist;

fn listed(number: &str) -> bool {
    let n = number.trim_start_matches('+');
    config("numbers").is_some_and(|l| l.split(',').any(|x| x.trim().trim_start_matches('+') == n))
}

impl Filter for Blacklist {
    fn matches(r: &Routable) -> bool {
        match r.direction {
            Direction::Mt => listed(&r.destination.addr),
            Direction::Mo => listed(&r.source.addr),
        }
    }
}

smsgate_sdk::export_filter!(Blacklist);

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_sdk::testing;

    #[test]
    fn matches_listed_numbers_only() {
        testing::reset();
        testing::set_config("numbers", "33600000001, +33600000002");
        assert!(Blacklist::matches(&testing::mt("33600000001", "hi")));
        assert!(Blacklist::matches(&testing::mt("+33600000002", "hi")));
        assert!(!Blacklist::matches(&testing::mt("33600000003", "hi")));
        assert!(Blacklist::matches(&testing::mo(
            "33600000002",
            "1234",
            "hi",
            "c"
        )));
    }
}
