//! A static site baked into `serve` (`cargo xtask dist --program serve --site
//! DIR`): its tables, and what a request's target and four header values
//! select from them. Pure functions over bytes, no system calls, so that the
//! xtask's tests compile this file on the host and check each rule
//! (xtask/tests/site/rules.rs); `serve` keeps a [`State`] per connection,
//! feeds it the bytes its parser reads, and asks [`answer`] at the head's end.
//!
//! The tables (xtask/src/build/site/bake.rs writes them as Rust, hello/build.rs
//! puts them in OUT_DIR):
//! - every URL path the site answers is a [`Key`]: `/a/b.css` a file, `/` and
//!   `/dir/` the directory's index.html, `/dir` a `301` to `/dir/`; found
//!   through an open-addressed hash table ([`Site::slots`], FNV-1a, linear
//!   probing), then compared byte for byte;
//! - a file has one [`Var`] (its bytes), or two when a gzipped copy is baked
//!   too; each has its body in [`Site::content`] and two header blocks in
//!   [`Site::text`]: validators (ETag, Vary, Cache-Control: also in a `304`)
//!   and representation (Content-Type, Content-Encoding, Accept-Ranges).
//!
//! Rules (RFC 9110): the target is percent-decoded up to `?` and matched
//! exactly (no dot-segment is resolved: `..` matches no key); If-None-Match is
//! a list compared weakly (section 13.1.2), or `*`; Accept-Encoding picks the
//! gzipped copy unless gzip (or `*` when gzip is not named) has `q=0`; a
//! single byte range on a GET gets `206` or `416`, several get the whole file
//! (section 14.2 lets a server ignore Range), If-Range with another ETag too.

/// A URL path the site answers.
#[derive(Clone, Copy)]
pub struct Key {
    /// The decoded path, at `path..path + len` in [`Site::text`].
    pub path: u32,
    pub len: u32,
    /// [`FILE`] or [`MOVED`].
    pub kind: u32,
    /// The [`Var`]s: the file's bytes and its gzipped copy (the same index
    /// when there is none). A `301`'s Var has its Location as validators.
    pub plain: u32,
    pub gzip: u32,
}

pub const FILE: u32 = 0;
pub const MOVED: u32 = 1;

/// One copy of a file: its body and its two header blocks.
#[derive(Clone, Copy)]
pub struct Var {
    /// The body: `body..body + len` in [`Site::content`].
    pub body: u32,
    pub len: u32,
    /// Validators at `head..head + val` in [`Site::text`], starting with the
    /// ETag line (`ETag: "` + [`ETAG`] bytes + `"`).
    pub head: u32,
    pub val: u32,
    /// Representation headers at `rep..rep + rep_len`.
    pub rep: u32,
    pub rep_len: u32,
}

/// Bytes of an ETag's opaque tag inside its quotes: 16 hex digits.
pub const ETAG: usize = 16;
/// `None` in [`Site::fallback`].
pub const NONE: u32 = u32::MAX;

/// The whole site.
pub struct Site {
    /// Key index + 1 by hash, or 0; a power of two long.
    pub slots: &'static [u32],
    pub keys: &'static [Key],
    pub vars: &'static [Var],
    pub text: &'static [u8],
    pub content: &'static [u8],
    /// The Var of the 404 page (the site's 404.html, or a built-in one).
    pub not_found: u32,
    /// The key served for an unknown path without an extension, or [`NONE`].
    pub fallback: u32,
}

/// What a request's head carries that the site needs: `V` bytes of each value.
pub const V: usize = 128;
/// The header fields kept, by index in [`State::vals`].
pub const IF_NONE_MATCH: usize = 0;
pub const RANGE: usize = 1;
pub const ACCEPT_ENCODING: usize = 2;
pub const IF_RANGE: usize = 3;
/// `field` for a byte that is not kept; the target is field [`TARGET`].
pub const SKIP: usize = 5;
pub const TARGET: usize = 4;

/// One request's target (up to `?`) and header values, as they arrive: `T`
/// bytes of target (the xtask sizes it so that any longer target can match no
/// key), [`V`] of each value. `len[i]` past its region's size means cut short.
#[derive(Clone, Copy)]
pub struct State<const T: usize> {
    pub target: [u8; T],
    pub vals: [[u8; V]; 4],
    /// Bytes kept of each value, then of the target.
    pub len: [u32; 5],
    /// The target's `?` came: the rest is the query, not kept.
    pub query: bool,
    /// Set by [`State::answer`]: what to send.
    pub answer: Answer,
}

impl<const T: usize> State<T> {
    pub const NEW: Self = State {
        target: [0; T],
        vals: [[0; V]; 4],
        len: [0; 5],
        query: false,
        answer: Answer::NONE,
    };

    /// Forgets the last request (its answer too); the buffers keep their
    /// bytes, which `len` makes unread.
    pub fn clear(&mut self) {
        self.len = [0; 5];
        self.query = false;
    }

    /// Keeps byte `b` of `field` (a target byte, or a value byte of a header
    /// line whose name is that field). A second line of the same field is
    /// joined to the first with a comma, as a list (RFC 9110 section 5.3).
    pub fn byte(&mut self, field: usize, b: u8) {
        let (buf, n): (&mut [u8], _) = match field {
            TARGET if !self.query && b != b'?' => (&mut self.target, &mut self.len[TARGET]),
            TARGET => {
                self.query = true;
                return;
            }
            f if f < TARGET => (&mut self.vals[f], &mut self.len[f]),
            _ => return,
        };
        if let Some(slot) = buf.get_mut(*n as usize) {
            *slot = b;
        }
        *n = n.saturating_add(1);
    }

    /// A header line of `field` begins: after an earlier one, a comma.
    pub fn line(&mut self, field: usize) {
        if field < TARGET && self.len[field] > 0 {
            self.byte(field, b',');
        }
    }

    /// Decides the response to a GET (`get`) or HEAD for what was kept.
    pub fn answer(&mut self, site: &Site, get: bool) {
        let len = self.len;
        // A value cut short counts as absent (a 200 is always right).
        let v = |f: usize| self.vals[f].get(..len[f] as usize).unwrap_or_default();
        let (inm, range, ae, if_range) = (v(0), v(1), v(2), v(3));
        let path = self.target.get_mut(..len[TARGET] as usize).and_then(|t| {
            let t = origin(t);
            let n = decode(t)?;
            Some(&t[..n])
        });
        let a = answer(site, path, inm, range, ae, if_range, get);
        self.answer = a;
    }
}

/// What to send: a reply ([`OK`] and the others below), the Var whose headers
/// and body it uses, and the part of its body.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Answer {
    pub reply: u32,
    pub var: u32,
    pub start: u32,
    pub end: u32,
}

impl Answer {
    pub const NONE: Answer = Answer {
        reply: OK,
        var: 0,
        start: 0,
        end: 0,
    };
}

pub const OK: u32 = 0;
pub const PARTIAL: u32 = 1;
pub const NOT_MODIFIED: u32 = 2;
pub const MOVED_PERMANENTLY: u32 = 3;
pub const NOT_FOUND: u32 = 4;
pub const RANGE_NOT_SATISFIABLE: u32 = 5;

/// The status lines after `HTTP/1.1 `, by reply, one after another (offsets
/// in [`STATUS_AT`]).
const STATUS: &[u8] = b"200 OK\r\n\
206 Partial Content\r\n\
304 Not Modified\r\n\
301 Moved Permanently\r\n\
404 Not Found\r\n\
416 Range Not Satisfiable\r\n";
const STATUS_AT: [u8; 7] = [0, 8, 29, 47, 70, 85, 112];

/// The answer for a decoded path (`None`: too long to be a key, or with a bad
/// `%`) and header values (empty: absent or cut short).
pub fn answer(
    site: &Site,
    path: Option<&[u8]>,
    inm: &[u8],
    range: &[u8],
    ae: &[u8],
    if_range: &[u8],
    get: bool,
) -> Answer {
    let key = path.and_then(|p| {
        lookup(site, p).or_else(|| {
            // An SPA's route: no `.` after the last `/`.
            let last = p.rsplit(|&b| b == b'/').next().unwrap_or_default();
            site.keys
                .get(site.fallback as usize)
                .filter(|_| !last.contains(&b'.'))
        })
    });
    let (reply, n) = match key {
        None => (NOT_FOUND, site.not_found),
        Some(k) if k.kind == MOVED => (MOVED_PERMANENTLY, k.plain),
        Some(k) if gzip_ok(ae) => (OK, k.gzip),
        Some(k) => (OK, k.plain),
    };
    let var = &site.vars[n as usize];
    let mut a = Answer {
        reply,
        var: n,
        start: 0,
        end: var.len,
    };
    if reply != OK {
        return a;
    }
    let tag = etag(site, var);
    if none_match_fails(inm, tag) {
        a.reply = NOT_MODIFIED;
        a.end = 0;
    } else if get && (if_range.is_empty() || same(trim(if_range), tag)) {
        // If-Range: the range only for this very copy (strong comparison);
        // a date, or another tag, gets the whole file.
        match byte_range(range, var.len) {
            Range::Whole => {}
            Range::Part(start, end) => {
                a = Answer {
                    reply: PARTIAL,
                    start,
                    end,
                    ..a
                }
            }
            Range::Unsatisfiable => {
                a.reply = RANGE_NOT_SATISFIABLE;
                a.end = 0;
            }
        }
    }
    a
}

/// The quoted ETag of a Var: the validators start `ETag: "…"`.
pub fn etag<'a>(site: &'a Site, var: &Var) -> &'a [u8] {
    let at = var.head as usize + 6;
    &site.text[at..at + ETAG + 2]
}

/// The path of a request target: itself in origin-form (`/a/b`); after the
/// authority in absolute-form (`http://host/a/b`, which RFC 9112 section 3.2.2
/// says a server MUST accept), `/` when it has no path there.
pub fn origin(t: &mut [u8]) -> &mut [u8] {
    // The path starts at the first `/`, or at the third (after `scheme://host`).
    let mut slashes = 0;
    for i in 0..t.len() {
        if t[i] == b'/' {
            slashes += 1;
            if i == 0 || slashes == 3 {
                return &mut t[i..];
            }
        }
    }
    let n = t.len();
    if slashes == 2 {
        // `http://host`: the root; its last byte becomes that `/`.
        t[n - 1] = b'/';
        return &mut t[n - 1..];
    }
    // `*`, or no form at all: nothing.
    &mut t[..0]
}

/// Percent-decodes `t` in place (a decoded byte never takes more room than
/// its `%XX`); the decoded length, or `None` for a `%` without two hex
/// digits after it, which no path is (nginx answers it `400`).
pub fn decode(t: &mut [u8]) -> Option<usize> {
    let (mut i, mut o) = (0, 0);
    while i < t.len() {
        let mut b = t[i];
        if b == b'%' {
            b = hex(t.get(i + 1))? << 4 | hex(t.get(i + 2))?;
            i += 2;
        }
        t[o] = b;
        o += 1;
        i += 1;
    }
    Some(o)
}

fn hex(b: Option<&u8>) -> Option<u8> {
    (*b? as char).to_digit(16).map(|d| d as u8)
}

/// FNV-1a, 32 bits: the slots' hash of a path (the xtask computes the same).
pub fn hash(path: &[u8]) -> u32 {
    path.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The key whose path is exactly `path`.
pub fn lookup<'a>(site: &'a Site, path: &[u8]) -> Option<&'a Key> {
    let mask = site.slots.len() - 1;
    let mut i = hash(path) as usize;
    loop {
        let key = site
            .keys
            .get(site.slots[i & mask].checked_sub(1)? as usize)?;
        let at = key.path as usize;
        if same(&site.text[at..at + key.len as usize], path) {
            return Some(key);
        }
        i += 1;
    }
}

/// Byte slices equal: a loop, not `==`, which would call `bcmp` (no libc here).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// `s` without spaces and tabs at either end.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Calls `f` on each element of a comma-separated list (RFC 9110 section
/// 5.6.1), trimmed, empty ones too, until it returns true; whether one did.
/// (`dyn`: one copy of the loop for both lists.)
fn any(list: &[u8], f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    let mut start = 0;
    for i in 0..=list.len() {
        if list.get(i).is_none_or(|&b| b == b',') {
            if f(trim(&list[start..i])) {
                return true;
            }
            start = i + 1;
        }
    }
    false
}

/// If-None-Match `list` is false for `tag` (so the answer is `304`): `*`, or
/// an element equal to `tag` once a `W/` is taken off (weak comparison, RFC
/// 9110 section 13.1.2).
pub fn none_match_fails(list: &[u8], tag: &[u8]) -> bool {
    any(list, &mut |e| {
        same(e, b"*") || same(e.strip_prefix(b"W/").unwrap_or(e), tag)
    })
}

/// Whether Accept-Encoding `value` takes gzip: `gzip` (or `x-gzip`) with a
/// q above 0, or, with neither named, `*` with a q above 0 (RFC 9110 section
/// 12.5.3). Codings and `q` without case.
pub fn gzip_ok(value: &[u8]) -> bool {
    let mut star = false;
    let mut ok = false;
    let named = any(value, &mut |e| {
        let semi = e.iter().position(|&b| b == b';').unwrap_or(e.len());
        let coding = trim(&e[..semi]);
        // `q=0`, `q=0.`, `q=0.000`: zero; any other weight is not.
        let q = trim(e.get(semi + 1..).unwrap_or_default());
        let taken = !(q.len() > 2
            && q[0] | 0x20 == b'q'
            && q[1] == b'='
            && q[2..].iter().all(|&b| b == b'0' || b == b'.'));
        if same(coding, b"*") {
            star = taken;
        }
        ok = taken;
        eq_lower(coding, b"gzip") || eq_lower(coding, b"x-gzip")
    });
    if named { ok } else { star }
}

/// `a` equals lower-case `b` without case.
fn eq_lower(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x | 0x20 == *y)
}

/// What a Range value asks of a body of `size` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Range {
    /// Not one valid byte range: send the whole file (RFC 9110 section 14.2).
    Whole,
    /// `start..end`.
    Part(u32, u32),
    /// `416`.
    Unsatisfiable,
}

/// Reads a Range value: `bytes=a-b`, `bytes=a-` or `bytes=-n`, one of them.
pub fn byte_range(value: &[u8], size: u32) -> Range {
    let v = trim(value);
    if v.len() < 6 || !eq_lower(&v[..6], b"bytes=") {
        return Range::Whole;
    }
    // The numbers before and after the one dash, each `None` when empty;
    // saturating far above any file's size.
    let mut num = [None::<u64>; 2];
    let mut k = 0;
    for &b in trim(&v[6..]) {
        match b {
            b'0'..=b'9' => {
                num[k] = Some((num[k].unwrap_or(0) * 10 + u64::from(b - b'0')).min(1 << 40))
            }
            b'-' if k == 0 => k = 1,
            _ => return Range::Whole,
        }
    }
    let size = u64::from(size);
    let (start, end) = match (k, num) {
        (1, [Some(a), Some(b)]) if a <= b => (a, (b + 1).min(size)),
        (1, [Some(a), None]) => (a, size),
        (1, [None, Some(n)]) => (size.saturating_sub(n), size),
        _ => return Range::Whole,
    };
    if start >= end {
        return Range::Unsatisfiable;
    }
    Range::Part(start as u32, end as u32)
}

/// The head of answer `a` up to the date: the status line (after `HTTP/1.1 `), the validators,
/// the representation headers and the lengths (their text in `num`), each a
/// part; then the body's bytes.
pub fn head<'a>(site: &'a Site, a: &Answer, num: &'a mut [u8; 96]) -> ([&'a [u8]; 4], &'a [u8]) {
    let r = a.reply;
    let status = &STATUS[STATUS_AT[r as usize] as usize..STATUS_AT[r as usize + 1] as usize];
    let var = &site.vars[a.var as usize];
    let text = |at: u32, len: u32| &site.text[at as usize..(at + len) as usize];
    let val = text(var.head, var.val);
    let no_rep = r == NOT_MODIFIED || r == RANGE_NOT_SATISFIABLE;
    let rep = if no_rep {
        &[][..]
    } else {
        text(var.rep, var.rep_len)
    };
    let mut out = Out {
        buf: &mut *num,
        n: 0,
    };
    if r == PARTIAL || r == RANGE_NOT_SATISFIABLE {
        out.put(b"Content-Range: bytes ");
        if r == PARTIAL {
            out.num(a.start);
            out.put(b"-");
            out.num(a.end - 1);
        } else {
            out.put(b"*");
        }
        out.put(b"/");
        out.num(var.len);
        out.put(b"\r\n");
    }
    if r != NOT_MODIFIED {
        out.put(b"Content-Length: ");
        out.num(a.end - a.start);
        out.put(b"\r\n");
    }
    out.put(b"Date: ");
    let n = out.n;
    let num: &'a [u8; 96] = num;
    let body = &site.content[(var.body + a.start) as usize..(var.body + a.end) as usize];
    ([status, val, rep, &num[..n]], body)
}

/// Text written into a buffer.
struct Out<'a> {
    buf: &'a mut [u8; 96],
    n: usize,
}

impl Out<'_> {
    fn put(&mut self, s: &[u8]) {
        for &b in s {
            self.buf[self.n] = b;
            self.n += 1;
        }
    }

    /// `n` in decimal.
    fn num(&mut self, mut n: u32) {
        let mut d = [0u8; 10];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&d[i..]);
    }
}
