//! The telnet side of the console: option negotiation and a server-side line editor.
//!
//! The server asks the client for character mode (`DO LINEMODE`, `DO NAWS`, `DO SGA`,
//! `WILL ECHO`, as Jasmin does) and echoes what is typed itself, so it can offer line editing
//! (backspace, left/right, Ctrl-A/E/U/W), history (up/down) and tab completion. A client
//! that negotiates nothing and sends whole lines (a script, `nc`) works the same way.
//!
//! Hostile input is bounded: a line longer than [`MAX_LINE`] is dropped with an error, option
//! subnegotiations are capped, and every answer to the client's negotiation is sent at most
//! once per option, so an option flood cannot make the server talk forever.

use std::collections::{HashSet, VecDeque};

/// Longest line accepted.
pub const MAX_LINE: usize = 8192;
const MAX_SB: usize = 256;
const MAX_HISTORY: usize = 100;

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const SE: u8 = 240;
const OPT_ECHO: u8 = 1;
const OPT_SGA: u8 = 3;
const OPT_NAWS: u8 = 31;
const OPT_LINEMODE: u8 = 34;

/// What the server sends first: Jasmin's negotiation, then a terminal reset.
pub const GREETING: &[u8] = &[
    IAC,
    DO,
    OPT_LINEMODE,
    IAC,
    DO,
    OPT_NAWS,
    IAC,
    DO,
    OPT_SGA,
    IAC,
    WILL,
    OPT_ECHO,
];

/// An event from the line editor.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete line (without its end).
    Line(String),
    /// Tab pressed with this line so far.
    Complete(String),
    /// The line was longer than [`MAX_LINE`] and was dropped.
    TooLong,
    /// Ctrl-D on an empty line.
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Iac,
    Opt(u8),
    Sb,
    SbIac,
    Cr,
    Esc,
    Csi,
}

/// The line editor of one connection.
#[derive(Debug)]
pub struct Editor {
    state: State,
    line: Vec<char>,
    cursor: usize,
    utf8: Vec<u8>,
    overflow: bool,
    sb_len: usize,
    csi: Vec<u8>,
    answered: HashSet<(u8, u8)>,
    history: VecDeque<String>,
    hist_pos: Option<usize>,
    /// Echo typed characters (off while a password is typed).
    pub echo: bool,
}

impl Default for Editor {
    fn default() -> Self {
        Editor {
            state: State::Data,
            line: vec![],
            cursor: 0,
            utf8: vec![],
            overflow: false,
            sb_len: 0,
            csi: vec![],
            answered: HashSet::new(),
            history: VecDeque::new(),
            hist_pos: None,
            echo: true,
        }
    }
}

impl Editor {
    /// Feed received bytes; what to send back (echo, negotiation answers) goes to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, events: &mut Vec<Event>) {
        for &b in input {
            self.byte(b, out, events);
        }
    }

    /// Remember a line for the up/down keys.
    pub fn remember(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.back().map(String::as_str) == Some(line) {
            return;
        }
        if self.history.len() == MAX_HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(line.to_string());
    }

    /// Replace the line being typed (tab completion); echoes the change.
    pub fn set_line(&mut self, text: &str, out: &mut Vec<u8>) {
        self.erase_shown(out);
        self.line = text.chars().collect();
        self.cursor = self.line.len();
        if self.echo {
            out.extend_from_slice(text.as_bytes());
        }
    }

    /// The line typed so far.
    pub fn current(&self) -> String {
        self.line.iter().collect()
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>, events: &mut Vec<Event>) {
        match self.state {
            State::Iac => {
                self.state = match b {
                    WILL | WONT | DO | DONT => State::Opt(b),
                    SB => {
                        self.sb_len = 0;
                        State::Sb
                    }
                    IAC => {
                        self.data(b, out, events);
                        State::Data
                    }
                    _ => State::Data,
                };
            }
            State::Opt(verb) => {
                self.negotiate(verb, b, out);
                self.state = State::Data;
            }
            State::Sb => {
                if b == IAC {
                    self.state = State::SbIac;
                } else {
                    self.sb_len += 1;
                    if self.sb_len > MAX_SB {
                        self.state = State::Data;
                    }
                }
            }
            State::SbIac => {
                self.state = if b == SE { State::Data } else { State::Sb };
            }
            State::Cr => {
                self.state = State::Data;
                if b != b'\n' && b != 0 {
                    self.byte(b, out, events);
                }
            }
            State::Esc => {
                self.state = if b == b'[' || b == b'O' {
                    self.csi.clear();
                    State::Csi
                } else {
                    State::Data
                };
            }
            State::Csi => {
                if (0x40..=0x7e).contains(&b) {
                    self.state = State::Data;
                    self.escape(b, out);
                } else if self.csi.len() < 16 {
                    self.csi.push(b);
                } else {
                    self.state = State::Data;
                }
            }
            State::Data => {
                if b == IAC {
                    self.state = State::Iac;
                } else {
                    self.data(b, out, events);
                }
            }
        }
    }

    fn negotiate(&mut self, verb: u8, opt: u8, out: &mut Vec<u8>) {
        // Answer each (verb, option) once: agreeing to what we asked for, refusing the rest.
        if !self.answered.insert((verb, opt)) {
            return;
        }
        let answer = match (verb, opt) {
            (WILL, OPT_LINEMODE | OPT_NAWS | OPT_SGA) => None,
            (DO, OPT_ECHO | OPT_SGA) => None,
            (WILL, _) => Some(DONT),
            (DO, _) => Some(WONT),
            _ => None,
        };
        if let Some(a) = answer {
            out.extend_from_slice(&[IAC, a, opt]);
        }
    }

    fn data(&mut self, b: u8, out: &mut Vec<u8>, events: &mut Vec<Event>) {
        match b {
            b'\r' | b'\n' => {
                if b == b'\r' {
                    self.state = State::Cr;
                }
                if self.echo {
                    out.extend_from_slice(b"\r\n");
                }
                self.hist_pos = None;
                let line: String = std::mem::take(&mut self.line).into_iter().collect();
                self.cursor = 0;
                self.utf8.clear();
                if std::mem::take(&mut self.overflow) {
                    events.push(Event::TooLong);
                } else {
                    events.push(Event::Line(line));
                }
            }
            0 => {}
            b'\t' => events.push(Event::Complete(self.current())),
            0x7f | 0x08 => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.line.remove(self.cursor);
                    if self.echo {
                        out.push(0x08);
                        self.redraw_tail(out, 1);
                    }
                }
            }
            0x01 => self.move_to(0, out),
            0x05 => self.move_to(self.line.len(), out),
            0x15 => {
                self.erase_shown(out);
                self.line.clear();
                self.cursor = 0;
            }
            0x17 => {
                let mut start = self.cursor;
                while start > 0 && self.line[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.line[start - 1] != ' ' {
                    start -= 1;
                }
                let n = self.cursor - start;
                self.move_to(start, out);
                self.line.drain(start..start + n);
                if self.echo {
                    self.redraw_tail(out, n);
                }
            }
            0x03 => {
                if self.echo {
                    out.extend_from_slice(b"^C\r\n");
                }
                self.line.clear();
                self.cursor = 0;
                events.push(Event::Line(String::new()));
            }
            0x04 => {
                if self.line.is_empty() {
                    events.push(Event::Eof);
                }
            }
            0x1b => self.state = State::Esc,
            b if b < 0x20 => {}
            b => {
                self.utf8.push(b);
                let s = match std::str::from_utf8(&self.utf8) {
                    Ok(s) => s.to_string(),
                    Err(e) if e.error_len().is_none() && self.utf8.len() < 4 => return,
                    Err(_) => String::from_utf8_lossy(&self.utf8).into_owned(),
                };
                self.utf8.clear();
                for c in s.chars() {
                    self.insert(c, out);
                }
            }
        }
    }

    fn insert(&mut self, c: char, out: &mut Vec<u8>) {
        if self.overflow || self.line.len() >= MAX_LINE {
            self.overflow = true;
            return;
        }
        self.line.insert(self.cursor, c);
        self.cursor += 1;
        if self.echo {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            if self.cursor < self.line.len() {
                self.redraw_tail(out, 0);
            }
        }
    }

    /// Rewrite from the cursor to the end, blank `extra` trailing cells, put the cursor back.
    fn redraw_tail(&self, out: &mut Vec<u8>, extra: usize) {
        let tail: String = self.line[self.cursor..].iter().collect();
        out.extend_from_slice(tail.as_bytes());
        out.extend(std::iter::repeat_n(b' ', extra));
        out.extend(std::iter::repeat_n(
            0x08,
            self.line.len() - self.cursor + extra,
        ));
    }

    fn move_to(&mut self, pos: usize, out: &mut Vec<u8>) {
        if !self.echo {
            self.cursor = pos;
            return;
        }
        if pos < self.cursor {
            out.extend(std::iter::repeat_n(0x08, self.cursor - pos));
        } else {
            let s: String = self.line[self.cursor..pos].iter().collect();
            out.extend_from_slice(s.as_bytes());
        }
        self.cursor = pos;
    }

    fn erase_shown(&mut self, out: &mut Vec<u8>) {
        if !self.echo {
            return;
        }
        let n = self.line.len();
        self.move_to(n, out);
        for _ in 0..n {
            out.extend_from_slice(b"\x08 \x08");
        }
        self.cursor = 0;
    }

    fn escape(&mut self, b: u8, out: &mut Vec<u8>) {
        match b {
            b'A' | b'B' => {
                if self.history.is_empty() {
                    return;
                }
                let pos = match (b, self.hist_pos) {
                    (b'A', None) => Some(self.history.len() - 1),
                    (b'A', Some(p)) => Some(p.saturating_sub(1)),
                    (_, Some(p)) if p + 1 < self.history.len() => Some(p + 1),
                    _ => None,
                };
                self.hist_pos = pos;
                let text = pos
                    .and_then(|p| self.history.get(p).cloned())
                    .unwrap_or_default();
                self.set_line(&text, out);
            }
            b'C' => self.move_to((self.cursor + 1).min(self.line.len()), out),
            b'D' => self.move_to(self.cursor.saturating_sub(1), out),
            b'H' => self.move_to(0, out),
            b'F' => self.move_to(self.line.len(), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ed: &mut Editor, input: &[u8]) -> (Vec<u8>, Vec<Event>) {
        let (mut out, mut ev) = (vec![], vec![]);
        ed.feed(input, &mut out, &mut ev);
        (out, ev)
    }

    #[test]
    fn lines_echo_and_negotiation() {
        let mut ed = Editor::default();
        let (out, ev) = run(&mut ed, b"help\r\n");
        assert_eq!(out, b"help\r\n");
        assert_eq!(ev, vec![Event::Line("help".into())]);
        // IAC WILL NAWS + subnegotiation are swallowed; unknown DO refused once.
        let (out, ev) = run(
            &mut ed,
            &[
                IAC, WILL, OPT_NAWS, IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE, IAC, DO, 99, IAC,
                DO, 99, b'x', b'\r', 0,
            ],
        );
        assert_eq!(out, vec![IAC, WONT, 99, b'x', b'\r', b'\n']);
        assert_eq!(ev, vec![Event::Line("x".into())]);
    }

    #[test]
    fn editing_history_and_limits() {
        let mut ed = Editor::default();
        let (_, ev) = run(&mut ed, b"usr\x08\x08ser -l\r");
        assert_eq!(ev, vec![Event::Line("user -l".into())]);
        ed.remember("user -l");
        let (_, ev) = run(&mut ed, b"\x1b[A\r");
        assert_eq!(ev, vec![Event::Line("user -l".into())]);
        let (_, ev) = run(&mut ed, b"ab\x1b[Dx\r");
        assert_eq!(ev, vec![Event::Line("axb".into())]);
        let long = vec![b'a'; MAX_LINE + 10];
        let (_, ev) = run(&mut ed, &long);
        assert!(ev.is_empty());
        let (_, ev) = run(&mut ed, b"\r\nok\r\n");
        assert_eq!(ev, vec![Event::TooLong, Event::Line("ok".into())]);
        let (_, ev) = run(&mut ed, b"us\t");
        assert_eq!(ev, vec![Event::Complete("us".into())]);
        let (_, ev) = run(&mut ed, "é\r".as_bytes());
        assert_eq!(ev, vec![Event::Line("usé".into())]);
    }
}
