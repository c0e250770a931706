//! Route: the connector named in config `prefer` (e.g. `smppc(cheap)`) when it is available,
//! else the first available candidate, else none (the table tries the next route).

use smsgate_sdk::{config, Candidate, Routable, Route};

pub struct Preferred;

impl Route for Preferred {
    fn pick(_r: &Routable, candidates: &[Candidate]) -> Option<u32> {
        let prefer = config("prefer");
        candidates
            .iter()
            .position(|c| c.available && Some(&c.connector) == prefer.as_ref())
            .or_else(|| candidates.iter().position(|c| c.available))
            .map(|i| i as u32)
    }
}

smsgate_sdk::export_route!(Preferred);

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_sdk::testing;

    fn c(name: &str, available: bool) -> Candidate {
        Candidate {
            connector: name.into(),
            available,
        }
    }

    #[test]
    fn prefers_then_falls_back() {
        testing::reset();
        testing::set_config("prefer", "smppc(b)");
        let r = testing::mt("336", "hi");
        assert_eq!(
            Preferred::pick(&r, &[c("smppc(a)", true), c("smppc(b)", true)]),
            Some(1)
        );
        assert_eq!(
            Preferred::pick(&r, &[c("smppc(a)", true), c("smppc(b)", false)]),
            Some(0)
        );
        assert_eq!(Preferred::pick(&r, &[c("smppc(a)", false)]), None);
    }
}
