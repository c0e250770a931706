//! Regular expressions as Jasmin's Python applies them: `re.match`, anchored at the start of
//! the text.
//!
//! Patterns compile with the `regex` crate (linear time) when they can. Python features it
//! lacks (look-ahead and look-behind, back-references), common in filters and value filters
//! written for Jasmin, fall back to `fancy-regex`, a backtracking engine with a step limit: a
//! pattern that exceeds it on some text does not match that text (and is counted as an error by
//! no one but the log), so a pathological pattern cannot stall the gateway.

/// A compiled pattern, anchored at the start of the text.
#[derive(Clone)]
pub struct Anchored {
    src: String,
    /// Shared by clones: cloning a `regex::Regex` would copy its pool of match caches.
    re: std::sync::Arc<Engine>,
}

enum Engine {
    Linear(regex::Regex),
    Backtracking(fancy_regex::Regex),
}

/// Backtracking steps allowed per match (fancy-regex's default is 1,000,000).
const BACKTRACK_LIMIT: usize = 100_000;

/// Compiled patterns by source: thousands of users share a few value filters (the defaults
/// above all), and a compiled regex carries its automata (tens of kB). Bounded: past
/// [`CACHE_MAX`] patterns, new ones are compiled and not kept here.
static CACHE: std::sync::OnceLock<parking_lot::Mutex<std::collections::HashMap<String, Anchored>>> =
    std::sync::OnceLock::new();
const CACHE_MAX: usize = 4096;

impl Anchored {
    /// Compile `src` (or share an earlier compilation of it); the error names what is wrong
    /// in one line.
    pub fn new(src: &str) -> Result<Anchored, String> {
        let cache = CACHE.get_or_init(Default::default);
        if let Some(a) = cache.lock().get(src) {
            return Ok(a.clone());
        }
        let a = Anchored::compile(src)?;
        let mut c = cache.lock();
        if c.len() < CACHE_MAX {
            c.insert(src.to_string(), a.clone());
        }
        Ok(a)
    }

    fn compile(src: &str) -> Result<Anchored, String> {
        let anchored = format!("^(?:{src})");
        let linear = regex::Regex::new(src).and_then(|_| regex::Regex::new(&anchored));
        let re = match linear {
            Ok(re) => Engine::Linear(re),
            Err(linear_err) => match fancy_regex::RegexBuilder::new(&anchored)
                .backtrack_limit(BACKTRACK_LIMIT)
                .build()
            {
                // Checked alone too, so that a pattern that only compiles inside the group
                // (an unbalanced `)`) is refused.
                Ok(re) if fancy_regex::Regex::new(src).is_ok() => Engine::Backtracking(re),
                _ => return Err(short(&linear_err.to_string())),
            },
        };
        Ok(Anchored {
            src: src.to_string(),
            re: std::sync::Arc::new(re),
        })
    }

    /// True when the text matches from its start.
    pub fn is_match(&self, text: &str) -> bool {
        match &*self.re {
            Engine::Linear(re) => re.is_match(text),
            Engine::Backtracking(re) => re.is_match(text).unwrap_or(false),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.src
    }
}

impl std::fmt::Debug for Anchored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.src)
    }
}

/// The regex crate's message spans several lines; keep the useful one.
fn short(msg: &str) -> String {
    msg.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or(msg.lines().next().unwrap_or(""))
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_like_re_match() {
        let p = Anchored::new("33").expect("re");
        assert!(p.is_match("331") && !p.is_match("4433"));
    }

    #[test]
    fn python_look_around_and_back_references() {
        let p = Anchored::new("(?!spam)").expect("look-ahead");
        assert!(p.is_match("ham") && !p.is_match("spam and eggs"));
        let p = Anchored::new(r"\d+(?<!0)$").expect("look-behind");
        assert!(p.is_match("3312") && !p.is_match("3310"));
        let p = Anchored::new(r"(\d)\1").expect("back-reference");
        assert!(p.is_match("335") && !p.is_match("345"));
    }

    #[test]
    fn bad_patterns_are_refused_and_pathological_ones_stop() {
        assert!(Anchored::new("a)").is_err());
        assert!(Anchored::new("(?P<x").is_err());
        // Exponential backtracking: gives up (no match) instead of running for ever.
        let p = Anchored::new(r"(a+)+\1b").expect("re");
        let t0 = std::time::Instant::now();
        assert!(!p.is_match(&"a".repeat(40)));
        assert!(t0.elapsed() < std::time::Duration::from_secs(2));
    }
}
