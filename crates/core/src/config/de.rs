//! Serde helpers: the spellings the configuration accepts (jCli's `yes`/`no`, `;`-separated
//! lists, numbers as strings) and closed sets of names ([`names!`]).

use serde::{Deserialize, Deserializer};

pub(crate) fn yes() -> bool {
    true
}

pub(crate) fn de_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        F(f64),
        S(String),
    }
    match Option::<V>::deserialize(d)? {
        None => Ok(None),
        Some(V::F(f)) => Ok(Some(f)),
        Some(V::S(s)) if s.eq_ignore_ascii_case("none") || s == "ND" => Ok(None),
        Some(V::S(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("invalid number {s:?}"))),
    }
}

pub(crate) fn de_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        I(i64),
        S(String),
    }
    match Option::<V>::deserialize(d)? {
        None => Ok(None),
        Some(V::I(i)) => Ok(Some(i)),
        Some(V::S(s)) if s.eq_ignore_ascii_case("none") || s == "ND" => Ok(None),
        Some(V::S(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("invalid integer {s:?}"))),
    }
}

/// `yes`/`no` as jCli writes them, or a TOML boolean.
pub(crate) fn de_yes_no<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        B(bool),
        S(String),
    }
    match V::deserialize(d)? {
        V::B(b) => Ok(b),
        V::S(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" => Ok(true),
            "no" | "false" | "0" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "expected yes or no, got {other:?}"
            ))),
        },
    }
}

/// `None` as jCli writes it means unset.
pub(crate) fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty() && s != "None"))
}

/// A list of strings, or one string of `;`-separated items (as jCli writes them).
pub(crate) fn de_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        L(Vec<String>),
        S(String),
    }
    Ok(match V::deserialize(d)? {
        V::L(l) => l,
        V::S(s) => s
            .split(';')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// A string or an integer, as a string.
pub(crate) fn de_opt_string_or_int<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        I(i64),
        S(String),
    }
    Ok(Option::<V>::deserialize(d)?.map(|v| match v {
        V::I(i) => i.to_string(),
        V::S(s) => s,
    }))
}

/// A closed set of names in the configuration: read from its name, written as its name, and
/// refused with the names it accepts.
macro_rules! names {
    ($(#[$doc:meta])* $ty:ident { $($(#[$vdoc:meta])* $var:ident = $name:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $ty {
            $($(#[$vdoc])* $var,)+
        }

        impl $ty {
            /// The name the configuration uses.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$var => $name,)+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl From<$ty> for &'static str {
            fn from(v: $ty) -> &'static str {
                v.name()
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(s: String) -> Result<$ty, String> {
                match s.as_str() {
                    $($name => Ok($ty::$var),)+
                    other => Err(format!(
                        "expected {}, got {other:?}",
                        [$($name),+].join(" or ")
                    )),
                }
            }
        }
    };
}

pub(crate) use names;
