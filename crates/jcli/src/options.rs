//! Command options as Jasmin's console parses them (Python's `optparse`): the same option
//! names, the same error wording, and help text laid out the same way.

use std::collections::HashMap;

/// One option of a command.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub short: Option<char>,
    pub long: &'static str,
    /// Name of its argument (`UID`), or `None` for a flag.
    pub metavar: Option<&'static str>,
    pub help: &'static str,
}

const fn flag(short: char, long: &'static str, help: &'static str) -> Opt {
    Opt {
        short: Some(short),
        long,
        metavar: None,
        help,
    }
}
const fn arg(short: char, long: &'static str, m: &'static str, help: &'static str) -> Opt {
    Opt {
        short: Some(short),
        long,
        metavar: Some(m),
        help,
    }
}
const fn long_arg(long: &'static str, m: &'static str, help: &'static str) -> Opt {
    Opt {
        short: None,
        long,
        metavar: Some(m),
        help,
    }
}
const fn long_flag(long: &'static str, help: &'static str) -> Opt {
    Opt {
        short: None,
        long,
        metavar: None,
        help,
    }
}

/// A console command.
#[derive(Debug)]
pub struct Command {
    pub name: &'static str,
    pub description: &'static str,
    pub options: &'static [Opt],
}

const PROFILE: Opt = arg(
    'p',
    "profile",
    "PROFILE",
    "Configuration profile, default: jcli-prod",
);

/// Every module, in the order `help` lists them.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "persist",
        description: "Persist current configuration profile to disk in PROFILE",
        options: &[PROFILE],
    },
    Command {
        name: "load",
        description: "Load configuration PROFILE profile from disk",
        options: &[PROFILE],
    },
    Command {
        name: "user",
        description: "User management",
        options: &[
            flag(
                'l',
                "list",
                "List all users or a group users when provided with GID",
            ),
            flag('a', "add", "Add user"),
            arg('e', "enable", "UID", "Enable user"),
            arg('d', "disable", "UID", "Disable user"),
            arg('u', "update", "UID", "Update user using it's UID"),
            arg('r', "remove", "UID", "Remove user using it's UID"),
            arg('s', "show", "UID", "Show user using it's UID"),
            long_arg(
                "smpp-unbind",
                "UID",
                "Unbind user from smpp server using it's UID",
            ),
            long_arg(
                "smpp-ban",
                "UID",
                "Unbind and ban user from smpp server using it's UID",
            ),
        ],
    },
    Command {
        name: "group",
        description: "Group management",
        options: &[
            flag('l', "list", "List groups"),
            flag('a', "add", "Add group"),
            arg('e', "enable", "GID", "Enable group"),
            arg('d', "disable", "GID", "Disable group"),
            arg('r', "remove", "GID", "Remove group using it's GID"),
        ],
    },
    Command {
        name: "filter",
        description: "Filter management",
        options: &[
            flag('l', "list", "List filters"),
            flag('a', "add", "Add filter"),
            arg('r', "remove", "FID", "Remove filter using it's FID"),
            arg('s', "show", "FID", "Show filter using it's FID"),
        ],
    },
    Command {
        name: "mointerceptor",
        description: "MO Interceptor management",
        options: &[
            flag('l', "list", "List MO interceptors"),
            flag('a', "add", "Add a new MO interceptor"),
            arg(
                'r',
                "remove",
                "ORDER",
                "Remove MO interceptor using it's ORDER",
            ),
            arg('s', "show", "ORDER", "Show MO interceptor using it's ORDER"),
            flag('f', "flush", "Flush MO interception table"),
        ],
    },
    Command {
        name: "mtinterceptor",
        description: "MT Interceptor management",
        options: &[
            flag('l', "list", "List MT interceptors"),
            flag('a', "add", "Add a new MT interceptor"),
            arg(
                'r',
                "remove",
                "ORDER",
                "Remove MT interceptor using it's ORDER",
            ),
            arg('s', "show", "ORDER", "Show MT interceptor using it's ORDER"),
            flag('f', "flush", "Flush MT interception table"),
        ],
    },
    Command {
        name: "morouter",
        description: "MO Router management",
        options: &[
            flag('l', "list", "List MO routes"),
            flag('a', "add", "Add a new MO route"),
            arg('r', "remove", "ORDER", "Remove MO route using it's ORDER"),
            arg('s', "show", "ORDER", "Show MO route using it's ORDER"),
            flag('f', "flush", "Flush MO routing table"),
        ],
    },
    Command {
        name: "mtrouter",
        description: "MT Router management",
        options: &[
            flag('l', "list", "List MT routes"),
            flag('a', "add", "Add a new MT route"),
            arg('r', "remove", "ORDER", "Remove MT route using it's ORDER"),
            arg('s', "show", "ORDER", "Show MT route using it's ORDER"),
            flag('f', "flush", "Flush MT routing table"),
        ],
    },
    Command {
        name: "smppccm",
        description: "SMPP connector management",
        options: &[
            flag('l', "list", "List SMPP connectors"),
            flag('a', "add", "Add SMPP connector"),
            arg(
                'u',
                "update",
                "CID",
                "Update SMPP connector configuration using it's CID",
            ),
            arg('r', "remove", "CID", "Remove SMPP connector using it's CID"),
            arg('s', "show", "CID", "Show SMPP connector using it's CID"),
            arg('1', "start", "CID", "Start SMPP connector using it's CID"),
            arg('0', "stop", "CID", "Stop SMPP connector using it's CID"),
        ],
    },
    Command {
        name: "httpccm",
        description: "HTTP client connector management",
        options: &[
            flag('l', "list", "List HTTP client connectors"),
            flag('a', "add", "Add a new HTTP client connector"),
            arg(
                'r',
                "remove",
                "CID",
                "Remove HTTP client connector using it's CID",
            ),
            arg(
                's',
                "show",
                "CID",
                "Show HTTP client connector using it's CID",
            ),
        ],
    },
    Command {
        name: "stats",
        description: "Stats management",
        options: &[
            long_arg("user", "UID", "Show user stats using it's UID"),
            long_flag("users", "Show all users stats"),
            long_arg("smppc", "CID", "Show smpp connector stats using it's CID"),
            long_flag("smppcs", "Show all smpp connectors stats"),
            long_flag("httpapi", "Show HTTP API stats"),
            long_flag("smppsapi", "Show SMPP Server API stats"),
            long_flag("scripts", "Show Python script stats (smsgate)"),
        ],
    },
    Command {
        name: "export",
        description: "Print the live configuration as TOML, secrets left out (smsgate)",
        options: &[long_flag(
            "json",
            "One JSON line with the secrets (what `smsgate export-config` reads)",
        )],
    },
    Command {
        name: "queue",
        description: "Connector queue management (smsgate)",
        options: &[
            flag('l', "list", "List the backlog of every SMPP connector"),
            arg(
                'p',
                "peek",
                "CID",
                "Show the first messages waiting for connector CID",
            ),
            long_arg(
                "count",
                "N",
                "How many messages --peek shows (default 10, at most 100)",
            ),
            long_arg(
                "move",
                "CID",
                "Move the messages waiting for connector CID to the connector named by --to",
            ),
            long_arg("to", "CID", "The connector --move gives the messages to"),
            long_arg(
                "purge",
                "CID",
                "End the messages waiting for connector CID with status PURGED",
            ),
        ],
    },
    Command {
        name: "plugin",
        description: "WebAssembly plugin management (smsgate)",
        options: &[
            flag('l', "list", "List loaded plugins"),
            arg('s', "show", "NAME", "Show plugin using its NAME"),
            arg('r', "reload", "NAME", "Reload plugin using its NAME"),
        ],
    },
];

/// Control commands, after the modules in `help`.
pub const CONTROL: &[(&str, &str)] = &[
    ("quit", "Disconnect from console"),
    (
        "help",
        "List available commands with \"help\" or detailed help with \"help cmd\".",
    ),
];

/// A command by name.
pub fn command(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Parsed options: long name → argument (empty for flags), and positional arguments.
#[derive(Debug, Default)]
pub struct Parsed {
    pub opts: HashMap<&'static str, String>,
    pub positional: Vec<String>,
}

impl Parsed {
    pub fn has(&self, long: &str) -> bool {
        self.opts.contains_key(long)
    }
    pub fn get(&self, long: &str) -> Option<&str> {
        self.opts.get(long).map(String::as_str)
    }
}

impl Command {
    /// Parse `args` like optparse; an error is the message optparse prints.
    pub fn parse(&self, args: &[&str]) -> Result<Parsed, String> {
        let mut p = Parsed::default();
        let mut i = 0;
        while i < args.len() {
            let a = args[i];
            i += 1;
            let (opt, inline, shown) = if let Some(rest) = a.strip_prefix("--") {
                let (name, inline) = match rest.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (rest, None),
                };
                let opt = self
                    .options
                    .iter()
                    .find(|o| o.long == name)
                    .ok_or_else(|| format!("no such option: --{name}"))?;
                (opt, inline, format!("--{name}"))
            } else if a.len() > 1 && a.starts_with('-') {
                let mut chars = a[1..].chars();
                let c = chars.next().unwrap_or('-');
                let opt = self
                    .options
                    .iter()
                    .find(|o| o.short == Some(c))
                    .ok_or_else(|| format!("no such option: -{c}"))?;
                let rest: String = chars.collect();
                let inline = (!rest.is_empty()).then_some(rest);
                (opt, inline, format!("-{c}"))
            } else {
                p.positional.push(a.to_string());
                continue;
            };
            let value = match (opt.metavar, inline) {
                (None, Some(_)) if shown.starts_with("--") => {
                    return Err(format!("{shown} option does not take a value"))
                }
                (None, _) => String::new(),
                (Some(_), Some(v)) => v,
                (Some(_), None) => {
                    let v = args
                        .get(i)
                        .ok_or_else(|| format!("{shown} option requires 1 argument"))?;
                    i += 1;
                    v.to_string()
                }
            };
            p.opts.insert(opt.long, value);
        }
        Ok(p)
    }

    /// `Usage: ...` and the option list, as optparse prints them.
    pub fn usage(&self) -> String {
        let mut out = format!("Usage: {} [options] \n\nOptions:\n", self.name);
        let forms: Vec<String> = self
            .options
            .iter()
            .map(|o| match (o.short, o.metavar) {
                (Some(s), Some(m)) => format!("-{s} {m}, --{}={m}", o.long),
                (Some(s), None) => format!("-{s}, --{}", o.long),
                (None, Some(m)) => format!("--{}={m}", o.long),
                (None, None) => format!("--{}", o.long),
            })
            .collect();
        let widest = forms.iter().map(String::len).max().unwrap_or(0);
        let help_at = (widest + 4).min(24);
        for (o, form) in self.options.iter().zip(&forms) {
            if form.len() + 4 > help_at {
                out.push_str(&format!("  {form}\n{}{}\n", " ".repeat(help_at), o.help));
            } else {
                out.push_str(&format!("  {form:<w$}{}\n", o.help, w = help_at - 2));
            }
        }
        out.push('\n');
        out
    }

    /// `help <cmd>`: the description and the usage.
    pub fn help(&self) -> String {
        format!("{}\n{}", self.description, self.usage())
    }
}

/// `help`: every command with its description.
pub fn help_all() -> String {
    let mut out = String::from("Available commands:\n===================\n");
    for c in COMMANDS {
        out.push_str(&format!("{:<20}{}\n", c.name, c.description));
    }
    out.push_str("\nControl commands:\n=================\n");
    for (name, d) in CONTROL {
        out.push_str(&format!("{name:<20}{d}\n"));
    }
    out
}

/// Split a command line into words; single and double quotes group words.
pub fn split(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_layout_matches_optparse() {
        let u = command("user").map(|c| c.help()).unwrap_or_default();
        assert!(u.starts_with("User management\nUsage: user [options] \n\nOptions:\n"));
        assert!(u.contains("  -e UID, --enable=UID  Enable user\n"));
        assert!(u.contains("  -d UID, --disable=UID\n                        Disable user\n"));
        let s = command("stats").map(|c| c.usage()).unwrap_or_default();
        assert!(s.contains("  --user=UID   Show user stats using it's UID\n"));
    }

    #[test]
    fn parse_forms_and_errors() {
        let c = command("user").expect("user");
        let p = c.parse(&["-s", "foo"]).expect("parsed");
        assert_eq!(p.get("show"), Some("foo"));
        let p = c.parse(&["--show=foo"]).expect("parsed");
        assert_eq!(p.get("show"), Some("foo"));
        assert_eq!(c.parse(&["-x"]).unwrap_err(), "no such option: -x");
        assert_eq!(
            c.parse(&["-s"]).unwrap_err(),
            "-s option requires 1 argument"
        );
        assert_eq!(split("a 'b c'  d"), vec!["a", "b c", "d"]);
    }
}
