//! A Python pickle reader that executes nothing.
//!
//! It runs the pickle machine (protocols 0 to 5) over [`Value`]s: a class reference stays a
//! [`Value::Global`] naming its module and name, and calling it (`REDUCE`, `NEWOBJ`, `INST`,
//! `OBJ`) makes a [`Value::Object`] that keeps the class, its arguments and the state `BUILD`
//! gave it. Nothing is looked up or called, so nothing in a file can run code here; deciding
//! what a class means is the reader's caller's business (see `store.rs`, which accepts only an
//! allow-list of Jasmin's classes).
//!
//! Pickles share objects through their memo and mutate them after creation (`SETITEMS` on a
//! memoized dict, `BUILD` on a memoized object), so lists, dicts and objects are reference
//! counted cells while the machine runs; [`load`] returns them the same way and the accessors
//! borrow them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A decoded pickle value.
#[derive(Debug, Clone)]
pub enum Value {
    None,
    Bool(bool),
    /// Integers beyond 64 bits are refused (Jasmin's stores hold none).
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Rc<Vec<Value>>),
    List(Rc<RefCell<Vec<Value>>>),
    /// Insertion order kept, keys as they were (Jasmin's route tables use int keys).
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Set(Rc<RefCell<Vec<Value>>>),
    /// A class or function reference (`GLOBAL`, `STACK_GLOBAL`), never resolved.
    Global(Rc<(String, String)>),
    /// A class called with arguments (or a function applied to them), with its `BUILD` state.
    Object(Rc<RefCell<Object>>),
}

/// An instance: what made it and what it was given.
#[derive(Debug, Clone)]
pub struct Object {
    pub module: String,
    pub name: String,
    pub args: Vec<Value>,
    /// The state passed to `BUILD` (usually the instance `__dict__`), if any.
    pub state: Option<Value>,
}

/// Why a pickle could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PickleError {
    #[error("truncated at byte {0}")]
    Truncated(usize),
    #[error("unsupported opcode 0x{op:02x} at byte {at}")]
    Opcode { op: u8, at: usize },
    #[error("malformed pickle at byte {at}: {why}")]
    Malformed { at: usize, why: String },
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }
    /// The items of a list, tuple or set.
    pub fn items(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) | Value::Set(l) => Some(l.borrow().clone()),
            Value::Tuple(t) => Some(t.to_vec()),
            _ => None,
        }
    }
    /// The entries of a dict.
    pub fn entries(&self) -> Option<Vec<(Value, Value)>> {
        match self {
            Value::Dict(d) => Some(d.borrow().clone()),
            _ => None,
        }
    }
    /// A dict's value under the string key `key` (a `str`, or Python 2's byte string).
    pub fn get(&self, key: &str) -> Option<Value> {
        match self {
            Value::Dict(d) => d
                .borrow()
                .iter()
                .find(|(k, _)| k.key_is(key))
                .map(|(_, v)| v.clone()),
            _ => None,
        }
    }

    /// True for the text `key` as `str` or bytes.
    pub fn key_is(&self, key: &str) -> bool {
        match self {
            Value::Str(s) => s == key,
            Value::Bytes(b) => b == key.as_bytes(),
            _ => false,
        }
    }
    /// `module.name` of an object's class.
    pub fn class(&self) -> Option<String> {
        match self {
            Value::Object(o) => {
                let o = o.borrow();
                Some(format!("{}.{}", o.module, o.name))
            }
            _ => None,
        }
    }
    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => format!("{s:?}"),
            Value::Bytes(b) => format!("{} bytes", b.len()),
            Value::Tuple(_) => "a tuple".into(),
            Value::List(_) => "a list".into(),
            Value::Dict(_) => "a dict".into(),
            Value::Set(_) => "a set".into(),
            Value::Global(g) => format!("class {}.{}", g.0, g.1),
            Value::Object(_) => format!("a {}", self.class().unwrap_or_default()),
        }
    }
}

/// Read one pickle from `data` (the bytes after Jasmin's header line).
pub fn load(data: &[u8]) -> Result<Value, PickleError> {
    Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    }
    .run()
}

/// Limits that keep a hostile file from exhausting memory: no real store comes near them.
const MAX_STACK: usize = 1 << 20;
const MAX_MEMO: usize = 1 << 20;

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
}

impl<'a> Machine<'a> {
    fn err(&self, why: impl Into<String>) -> PickleError {
        PickleError::Malformed {
            at: self.pos,
            why: why.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or(PickleError::Truncated(self.data.len()))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PickleError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, PickleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, PickleError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn len64(&mut self) -> Result<usize, PickleError> {
        let n = self.u64()?;
        usize::try_from(n).map_err(|_| self.err("length out of range"))
    }
    /// A protocol-0 argument: the bytes up to the next newline.
    fn line(&mut self) -> Result<&'a [u8], PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(PickleError::Truncated(self.data.len()))?;
        let s = &rest[..n];
        self.pos += n + 1;
        Ok(s)
    }
    fn line_str(&mut self) -> Result<String, PickleError> {
        let l = self.line()?;
        String::from_utf8(l.to_vec()).map_err(|_| self.err("a text argument that is not UTF-8"))
    }
    fn utf8(&self, b: &[u8]) -> Result<String, PickleError> {
        String::from_utf8(b.to_vec()).map_err(|_| self.err("a string that is not UTF-8"))
    }

    fn push(&mut self, v: Value) -> Result<(), PickleError> {
        if self.stack.len() >= MAX_STACK {
            return Err(self.err("stack too deep"));
        }
        self.stack.push(v);
        Ok(())
    }
    fn pop(&mut self) -> Result<Value, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }
    fn top(&self) -> Result<&Value, PickleError> {
        self.stack.last().ok_or_else(|| self.err("empty stack"))
    }
    /// Everything above the last mark, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let m = self.marks.pop().ok_or_else(|| self.err("no mark"))?;
        if m > self.stack.len() {
            return Err(self.err("mark above the stack"));
        }
        Ok(self.stack.split_off(m))
    }
    fn memo_put(&mut self, key: u64) -> Result<(), PickleError> {
        if self.memo.len() >= MAX_MEMO {
            return Err(self.err("memo too large"));
        }
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }
    fn memo_get(&mut self, key: u64) -> Result<(), PickleError> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .ok_or_else(|| self.err(format!("memo key {key} unset")))?;
        self.push(v)
    }

    fn object(&mut self, class: Value, args: Vec<Value>) -> Result<Value, PickleError> {
        let Value::Global(g) = class else {
            return Err(self.err(format!("calling {}", class.describe())));
        };
        // Plain containers pickled as calls become the containers (nothing is called).
        match (g.0.as_str(), g.1.as_str(), args.as_slice()) {
            ("__builtin__" | "builtins", "set" | "frozenset", [items]) => {
                if let Some(items) = items.items() {
                    return Ok(Value::Set(Rc::new(RefCell::new(items))));
                }
            }
            ("__builtin__" | "builtins", "set" | "frozenset", []) => {
                return Ok(Value::Set(Rc::default()));
            }
            ("collections", "OrderedDict", []) => return Ok(Value::Dict(Rc::default())),
            ("collections", "OrderedDict", [pairs]) => {
                let d = Value::Dict(Rc::default());
                let mut flat = vec![];
                for p in pairs.items().unwrap_or_default() {
                    flat.extend(p.items().unwrap_or_default());
                }
                self.set_items(&d, flat)?;
                return Ok(d);
            }
            _ => {}
        }
        Ok(Value::Object(Rc::new(RefCell::new(Object {
            module: g.0.clone(),
            name: g.1.clone(),
            args,
            state: None,
        }))))
    }

    fn set_items(&mut self, dict: &Value, items: Vec<Value>) -> Result<(), PickleError> {
        let Value::Dict(d) = dict else {
            return Err(self.err(format!("setting items on {}", dict.describe())));
        };
        if !items.len().is_multiple_of(2) {
            return Err(self.err("odd number of dict items"));
        }
        let mut d = d.borrow_mut();
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            // Later keys win, as in Python.
            if let Some(slot) = d.iter_mut().find(|(old, _)| same_key(old, &k)) {
                slot.1 = v;
            } else {
                d.push((k, v));
            }
        }
        Ok(())
    }

    fn append(&mut self, list: &Value, items: Vec<Value>) -> Result<(), PickleError> {
        match list {
            Value::List(l) | Value::Set(l) => {
                l.borrow_mut().extend(items);
                Ok(())
            }
            // `list.extend` on an object (a list subclass): kept as its args.
            Value::Object(o) => {
                o.borrow_mut().args.extend(items);
                Ok(())
            }
            other => Err(self.err(format!("appending to {}", other.describe()))),
        }
    }

    fn run(mut self) -> Result<Value, PickleError> {
        loop {
            let at = self.pos;
            let op = self.u8()?;
            match op {
                // PROTO, FRAME
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return Err(self.err(format!("protocol {p}")));
                    }
                }
                0x95 => {
                    self.u64()?;
                }
                b'.' => {
                    let v = self.stack.pop().ok_or_else(|| self.err("empty at STOP"))?;
                    return Ok(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v)?;
                }
                // Integers.
                b'I' => {
                    let l = self.line_str()?;
                    let v = match l.as_str() {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        s => Value::Int(s.parse().map_err(|_| self.err("bad INT"))?),
                    };
                    self.push(v)?;
                }
                b'J' => {
                    let v = self.u32()? as i32 as i64;
                    self.push(Value::Int(v))?;
                }
                b'K' => {
                    let v = self.u8()? as i64;
                    self.push(Value::Int(v))?;
                }
                b'M' => {
                    let v = self.u16()? as i64;
                    self.push(Value::Int(v))?;
                }
                b'L' => {
                    let l = self.line_str()?;
                    let v = l
                        .trim_end_matches('L')
                        .parse()
                        .map_err(|_| self.err("LONG beyond 64 bits"))?;
                    self.push(Value::Int(v))?;
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    let v = long_le(b).ok_or_else(|| self.err("LONG1 beyond 64 bits"))?;
                    self.push(Value::Int(v))?;
                }
                0x8b => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?;
                    let v = long_le(b).ok_or_else(|| self.err("LONG4 beyond 64 bits"))?;
                    self.push(Value::Int(v))?;
                }
                b'F' => {
                    let l = self.line_str()?;
                    let v = l.parse().map_err(|_| self.err("bad FLOAT"))?;
                    self.push(Value::Float(v))?;
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Value::Float(f64::from_be_bytes(a)))?;
                }
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                // Strings: Python 2 `str` (STRING, BINSTRING, SHORT_BINSTRING) are bytes.
                b'S' => {
                    let l = self.line()?;
                    let v = unquote(l).ok_or_else(|| self.err("bad STRING"))?;
                    self.push(Value::Bytes(v))?;
                }
                b'T' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?;
                }
                b'U' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?;
                }
                b'V' => {
                    let l = self.line()?;
                    let s = raw_unicode_escape(l).ok_or_else(|| self.err("bad UNICODE"))?;
                    self.push(Value::Str(s))?;
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?;
                    let s = self.utf8(b)?;
                    self.push(Value::Str(s))?;
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    let s = self.utf8(b)?;
                    self.push(Value::Str(s))?;
                }
                0x8d => {
                    let n = self.len64()?;
                    let b = self.take(n)?;
                    let s = self.utf8(b)?;
                    self.push(Value::Str(s))?;
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?;
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?;
                }
                0x8e | 0x96 => {
                    let n = self.len64()?;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?;
                }
                // Containers.
                b']' => self.push(Value::List(Rc::default()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(Rc::new(RefCell::new(items))))?;
                }
                b'a' => {
                    let v = self.pop()?;
                    let list = self.top()?.clone();
                    self.append(&list, vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?.clone();
                    self.append(&list, items)?;
                }
                b')' => self.push(Value::Tuple(Rc::default()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(Rc::new(items)))?;
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Value::Tuple(Rc::new(items)))?;
                }
                b'}' => self.push(Value::Dict(Rc::default()))?,
                b'd' => {
                    let items = self.pop_mark()?;
                    let d = Value::Dict(Rc::default());
                    self.set_items(&d, items)?;
                    self.push(d)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let d = self.top()?.clone();
                    self.set_items(&d, vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let d = self.top()?.clone();
                    self.set_items(&d, items)?;
                }
                0x8f => self.push(Value::Set(Rc::default()))?,
                0x90 => {
                    let items = self.pop_mark()?;
                    let s = self.top()?.clone();
                    self.append(&s, items)?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Value::Set(Rc::new(RefCell::new(items))))?;
                }
                // Memo.
                b'p' => {
                    let l = self.line_str()?;
                    let k = l.parse().map_err(|_| self.err("bad PUT"))?;
                    self.memo_put(k)?;
                }
                b'q' => {
                    let k = self.u8()? as u64;
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = self.u32()? as u64;
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?;
                }
                b'g' => {
                    let l = self.line_str()?;
                    let k = l.parse().map_err(|_| self.err("bad GET"))?;
                    self.memo_get(k)?;
                }
                b'h' => {
                    let k = self.u8()? as u64;
                    self.memo_get(k)?;
                }
                b'j' => {
                    let k = self.u32()? as u64;
                    self.memo_get(k)?;
                }
                // Classes and instances: recorded, never resolved or called.
                b'c' => {
                    let module = self.line_str()?;
                    let name = self.line_str()?;
                    self.push(Value::Global(Rc::new((module, name))))?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(m), Some(n)) = (module.as_str(), name.as_str()) else {
                        return Err(self.err("STACK_GLOBAL of non-strings"));
                    };
                    self.push(Value::Global(Rc::new((m.to_string(), n.to_string()))))?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let class = self.pop()?;
                    let args = match args {
                        Value::Tuple(t) => t.to_vec(),
                        other => return Err(self.err(format!("REDUCE with {}", other.describe()))),
                    };
                    let o = self.object(class, args)?;
                    self.push(o)?;
                }
                0x81 => {
                    let args = self.pop()?;
                    let class = self.pop()?;
                    let args = args.items().unwrap_or_default();
                    let o = self.object(class, args)?;
                    self.push(o)?;
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let class = self.pop()?;
                    let args = args.items().unwrap_or_default();
                    let o = self.object(class, args)?;
                    self.push(o)?;
                }
                b'i' => {
                    let module = self.line_str()?;
                    let name = self.line_str()?;
                    let args = self.pop_mark()?;
                    let o = self.object(Value::Global(Rc::new((module, name))), args)?;
                    self.push(o)?;
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err(self.err("OBJ without a class"));
                    }
                    let class = items.remove(0);
                    let o = self.object(class, items)?;
                    self.push(o)?;
                }
                b'b' => {
                    let state = self.pop()?;
                    match self.top()? {
                        Value::Object(o) => o.borrow_mut().state = Some(state),
                        other => {
                            return Err(self.err(format!("BUILD on {}", other.describe())));
                        }
                    }
                }
                _ => return Err(PickleError::Opcode { op, at }),
            }
        }
    }
}

/// Dict keys compare by value for the scalar types Jasmin uses as keys.
fn same_key(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

/// A little-endian two's complement integer of up to 8 bytes.
fn long_le(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return Some(0);
    }
    if b.len() > 8 {
        return None;
    }
    let fill = if b[b.len() - 1] & 0x80 != 0 { 0xff } else { 0 };
    let mut a = [fill; 8];
    a[..b.len()].copy_from_slice(b);
    Some(i64::from_le_bytes(a))
}

/// A protocol-0 `STRING` argument: `'...'` or `"..."` with Python escapes.
fn unquote(l: &[u8]) -> Option<Vec<u8>> {
    let q = *l.first()?;
    if l.len() < 2 || (q != b'\'' && q != b'"') || *l.last()? != q {
        return None;
    }
    let body = &l[1..l.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *body.get(i + 1)?;
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'\\' | b'\'' | b'"' => out.push(e),
            b'x' => {
                let h = std::str::from_utf8(body.get(i..i + 2)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < body.len() && (b'0'..=b'7').contains(&body[i]) {
                    v = v * 8 + (body[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push(u8::try_from(v).ok()?);
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Some(out)
}

/// A protocol-0 `UNICODE` argument: Latin-1 text with `\uXXXX` and `\UXXXXXXXX` escapes.
fn raw_unicode_escape(l: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(l.len());
    let mut i = 0;
    while i < l.len() {
        if l[i] == b'\\' && matches!(l.get(i + 1), Some(b'u') | Some(b'U')) {
            let n = if l[i + 1] == b'u' { 4 } else { 8 };
            let h = std::str::from_utf8(l.get(i + 2..i + 2 + n)?).ok()?;
            out.push(char::from_u32(u32::from_str_radix(h, 16).ok()?)?);
            i += 2 + n;
        } else {
            out.push(l[i] as char);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_2_object_with_shared_memo() {
        // pickle.dumps([X(), X()], 2) for a class X with a dict state, second one memo-shared.
        let mut p = vec![0x80, 2, b']', b'q', 0, b'('];
        p.extend_from_slice(b"cm\nX\nq\x01)\x81q\x02}q\x03X\x01\x00\x00\x00aK\x05sbh\x02e.");
        let v = load(&p).expect("pickle");
        let items = v.items().expect("list");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].class().as_deref(), Some("m.X"));
        let Value::Object(o) = &items[1] else {
            panic!("object")
        };
        let st = o.borrow().state.clone().expect("state");
        assert_eq!(st.get("a").and_then(|v| v.as_int()), Some(5));
    }

    #[test]
    fn truncated_and_unknown_opcodes_are_errors() {
        assert!(matches!(
            load(&[0x80, 2, b']', b'q']),
            Err(PickleError::Truncated(_))
        ));
        assert!(matches!(
            load(&[0x80, 2, b'P']),
            Err(PickleError::Opcode { op: b'P', .. })
        ));
        assert!(load(&[0x80, 2, b'e']).is_err(), "APPENDS without a mark");
        assert!(load(b"").is_err());
    }

    #[test]
    fn protocol_0_values() {
        let v = load(b"(lp0\nI1\naS'a\\x41'\np1\naVh\\u00e9\np2\naL12L\na.").expect("pickle");
        let items = v.items().expect("list");
        assert_eq!(items[0].as_int(), Some(1));
        assert!(matches!(&items[1], Value::Bytes(b) if b == b"aA"));
        assert_eq!(items[2].as_str(), Some("hé"));
        assert_eq!(items[3].as_int(), Some(12));
    }

    #[test]
    fn longs_are_twos_complement() {
        assert_eq!(long_le(&[0xff]), Some(-1));
        assert_eq!(long_le(&[0x00, 0x80]), Some(-32768));
        assert_eq!(long_le(&[0x10, 0x27]), Some(10000));
        assert_eq!(long_le(&[1; 9]), None);
    }
}
