//! A differential fuzz of `serve`'s request parser (issue 18): 100,000
//! requests, each a valid one mutated (split points, header case, whitespace,
//! CR and LF, lengths, bodies, Host, bytes), sent to the running server and
//! judged by a reference: the `httparse` crate for the request head, and the
//! rules RFC 9112 and issue 18 set for the rest (Host, framing, limits, methods,
//! keep-alive), written out in [`reference`].
//!
//! A request the reference accepts must get 200 (405 for a method other than
//! GET and HEAD); one it rejects an error (4xx, or 501 for an unknown transfer
//! coding), and the connection closed. A pipelined sentinel (`HEAD /sentinel`
//! with `Connection: close`) after each case shows whether the server framed it
//! as the reference did: a smuggled request answered, or a body read as a
//! request, changes the responses. The server must never die.
//!
//! Each disagreement that stands is listed in [`STANDING`], with the words of
//! the RFC that allow our side; any other fails the test, printed with the
//! request's bytes. Deterministic: the generator is a seeded PRNG.
#[path = "../common/mod.rs"]
mod common;

use common::*;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CASES: usize = 100_000;
const SEED: u64 = 0x5eed_0018;
/// Client threads: each holds one connection at a time.
const THREADS: usize = 4;
/// Keep-alive cases one connection carries before its sentinel.
const PER_CONNECTION: usize = 16;
/// serve's limits (hello/src/bin/serve.rs, issue 18).
const MAX_HEAD: usize = 8 * 1024;
const MAX_BODY: u64 = 1 << 20;
/// Ends every connection: a HEAD that asks to close.
const SENTINEL: &[u8] = b"HEAD /sentinel HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n";

// ---------------------------------------------------------------------------
// The generator.

/// splitmix64: small, seeded, and good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// A request before it becomes bytes.
struct Req {
    method: Vec<u8>,
    target: Vec<u8>,
    version: Vec<u8>,
    /// Whole header lines, without line ends.
    headers: Vec<Vec<u8>>,
    body: Vec<u8>,
    /// The line end.
    eol: Vec<u8>,
    /// Bytes before the request line.
    pre: Vec<u8>,
    /// Leave out the empty line that ends the head.
    no_end: bool,
    /// The bytes, once a byte mutation has made them raw.
    raw: Option<Vec<u8>>,
}

impl Req {
    fn bytes(&self) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut out = self.pre.clone();
        out.extend_from_slice(&self.method);
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.push(b' ');
        out.extend_from_slice(&self.version);
        out.extend_from_slice(&self.eol);
        for h in &self.headers {
            out.extend_from_slice(h);
            out.extend_from_slice(&self.eol);
        }
        if !self.no_end {
            out.extend_from_slice(&self.eol);
        }
        out.extend_from_slice(&self.body);
        out
    }

    fn remove(&mut self, name: &str) {
        self.headers.retain(|h| !starts_ci(h, name));
    }
}

fn starts_ci(line: &[u8], name: &str) -> bool {
    line.len() > name.len()
        && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && line[name.len()] == b':'
}

/// One generated case: its bytes, where to split the writes, and what was done.
struct Case {
    bytes: Vec<u8>,
    splits: Vec<usize>,
    what: Vec<&'static str>,
}

const TARGET_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%";
const TOKEN_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
const VALUE_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,;=/.*()\"'";

fn word(rng: &mut Rng, chars: &[u8], len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.pick(chars)).collect()
}

/// A valid request: GET or HEAD mostly, HTTP/1.1 mostly, a Host, a few
/// ordinary headers, sometimes a body framed by Content-Length or chunked.
fn valid(rng: &mut Rng) -> Req {
    let method = rng
        .pick(&[
            "GET", "GET", "GET", "GET", "HEAD", "HEAD", "POST", "OPTIONS",
        ])
        .as_bytes()
        .to_vec();
    let mut target = b"/".to_vec();
    let n = rng.below(30);
    target.extend(word(rng, TARGET_CHARS, n));
    let version = if rng.chance(85) {
        "HTTP/1.1"
    } else {
        "HTTP/1.0"
    };
    let mut headers = Vec::new();
    if version == "HTTP/1.1" || rng.chance(50) {
        headers.push(
            rng.pick(&[
                &b"Host: example.com"[..],
                b"Host: localhost:8080",
                b"Host: 127.0.0.1",
                b"Host: [::1]:80",
                b"Host: a-b.c_d.example",
            ])
            .to_vec(),
        );
    }
    for _ in 0..rng.below(6) {
        let h: Vec<u8> = match rng.below(7) {
            0 => b"User-Agent: fuzz/1.0".to_vec(),
            1 => b"Accept: */*".to_vec(),
            2 => b"Accept-Encoding: gzip, deflate".to_vec(),
            3 => b"Cookie: a=1; b=2".to_vec(),
            4 if version == "HTTP/1.0" => b"Connection: keep-alive".to_vec(),
            _ => {
                let n = 1 + rng.below(12);
                let mut h = b"X-".to_vec();
                h.extend(word(rng, TOKEN_CHARS, n));
                h.extend_from_slice(b": ");
                let n = rng.below(40);
                h.extend(word(rng, VALUE_CHARS, n).trim_ascii());
                h
            }
        };
        let at = rng.below(headers.len() + 1);
        headers.insert(at, h);
    }
    let mut body = Vec::new();
    match rng.below(10) {
        0 | 1 => {
            let n = rng.below(64);
            body = word(rng, VALUE_CHARS, n);
            headers.push(format!("Content-Length: {n}").into_bytes());
        }
        2 if version == "HTTP/1.1" => {
            headers.push(b"Transfer-Encoding: chunked".to_vec());
            for _ in 0..rng.below(4) {
                let n = 1 + rng.below(20);
                body.extend(format!("{n:x}\r\n").into_bytes());
                body.extend(word(rng, VALUE_CHARS, n));
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n\r\n");
        }
        _ => {}
    }
    Req {
        method,
        target,
        version: version.as_bytes().to_vec(),
        headers,
        body,
        eol: b"\r\n".to_vec(),
        pre: Vec::new(),
        no_end: false,
        raw: None,
    }
}

/// Applies one mutation of one kind; returns its name.
fn mutate(rng: &mut Rng, r: &mut Req) -> &'static str {
    match rng.below(10) {
        // Header case: names are case-insensitive, methods are not.
        0 => {
            for h in &mut r.headers {
                let colon = h.iter().position(|&b| b == b':').unwrap_or(0);
                for b in &mut h[..colon] {
                    if rng.chance(50) {
                        b.make_ascii_uppercase();
                    } else {
                        b.make_ascii_lowercase();
                    }
                }
            }
            if rng.chance(10) {
                r.method.make_ascii_lowercase();
                return "case: method";
            }
            "case: header names"
        }
        // Whitespace.
        1 => match rng.below(8) {
            0 | 1 if !r.headers.is_empty() => {
                let i = rng.below(r.headers.len());
                let h = &mut r.headers[i];
                if let Some(c) = h.iter().position(|&b| b == b':') {
                    let ows: &[u8] = rng.pick(&[&b"  "[..], b"\t", b" \t "]);
                    h.splice(c + 1..c + 1, ows.iter().copied());
                    h.extend_from_slice(rng.pick(&[&b" "[..], b"\t", b"  "]));
                }
                "ws: around a value"
            }
            2 if !r.headers.is_empty() => {
                let i = rng.below(r.headers.len());
                let h = &mut r.headers[i];
                if let Some(c) = h.iter().position(|&b| b == b':') {
                    h.insert(c, rng.pick(b" \t"));
                }
                "ws: before a colon"
            }
            3 if !r.headers.is_empty() => {
                let i = rng.below(r.headers.len());
                r.headers[i].insert(0, rng.pick(b" \t"));
                "ws: line starts with whitespace (obs-fold)"
            }
            4 => {
                r.target.insert(0, b' ');
                "ws: two spaces in the request line"
            }
            5 => {
                r.version.push(b' ');
                "ws: after the version"
            }
            6 => {
                r.method.extend_from_slice(b"\t");
                "ws: tab in the request line"
            }
            _ => {
                r.pre = b" ".to_vec();
                "ws: before the method"
            }
        },
        // CR and LF.
        2 => match rng.below(7) {
            0 => {
                r.eol = b"\n".to_vec();
                "crlf: bare LF"
            }
            1 => {
                r.eol = b"\r".to_vec();
                "crlf: bare CR"
            }
            2 => {
                r.eol = b"\r\r\n".to_vec();
                "crlf: CR CR LF"
            }
            3 => {
                r.no_end = true;
                "crlf: no empty line"
            }
            4 => {
                r.pre = b"\r\n".to_vec();
                "crlf: one empty line first"
            }
            5 => {
                r.pre = b"\r\n\r\n".to_vec();
                "crlf: two empty lines first"
            }
            _ => {
                let at = rng.below(r.headers.len() + 1);
                r.headers.insert(at, Vec::new());
                "crlf: empty line inside the head"
            }
        },
        // Lengths.
        3 => match rng.below(6) {
            0 => {
                let n = 9000 + rng.below(4000);
                let more = word(rng, TARGET_CHARS, n);
                r.target.extend(more);
                "len: target over MAX_HEAD"
            }
            1 => {
                let mut h = b"X-Long: ".to_vec();
                let n = 9000 + rng.below(4000);
                h.extend(word(rng, TOKEN_CHARS, n));
                r.headers.push(h);
                "len: header over MAX_HEAD"
            }
            2 => {
                for i in 0..300 {
                    r.headers
                        .push(format!("X-Many-{i}: {}", "v".repeat(20)).into_bytes());
                }
                "len: many headers over MAX_HEAD"
            }
            3 => {
                let mut h = b"X-Fits: ".to_vec();
                let n = 5000 + rng.below(2000);
                h.extend(word(rng, TOKEN_CHARS, n));
                r.headers.push(h);
                "len: a long head that fits"
            }
            _ => {
                r.remove("Transfer-Encoding");
                r.remove("Content-Length");
                let (value, what): (String, _) = match rng.below(12) {
                    0 => (
                        format!("{}", r.body.len() + 1 + rng.below(5)),
                        "len: CL over the body",
                    ),
                    1 => (
                        format!("{}", r.body.len().saturating_sub(1)),
                        "len: CL under the body",
                    ),
                    2 => (format!("00{}", r.body.len()), "len: CL with leading zeros"),
                    3 => (format!("+{}", r.body.len()), "len: CL with a plus"),
                    4 => ("-1".into(), "len: CL negative"),
                    5 => (
                        format!("{0}, {0}", r.body.len()),
                        "len: CL as a list of equal values",
                    ),
                    6 => (
                        format!("{}, 1{}", r.body.len(), r.body.len()),
                        "len: CL as a list of different values",
                    ),
                    7 => ("2000000".into(), "len: CL over MAX_BODY"),
                    8 => ("99999999999999999999999".into(), "len: CL overflows"),
                    9 => (format!("{}x", r.body.len()), "len: CL not a number"),
                    10 => {
                        r.headers
                            .push(format!("Content-Length: {}", r.body.len()).into_bytes());
                        (format!("{}", r.body.len()), "len: two equal CL headers")
                    }
                    _ => {
                        r.headers
                            .push(format!("Content-Length: {}", r.body.len() + 3).into_bytes());
                        (format!("{}", r.body.len()), "len: two different CL headers")
                    }
                };
                r.headers
                    .push(format!("Content-Length: {value}").into_bytes());
                what
            }
        },
        // Bodies.
        4 => {
            r.remove("Transfer-Encoding");
            r.remove("Content-Length");
            match rng.below(9) {
                0 => {
                    r.body = b"HEAD /smuggled HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
                    r.headers
                        .push(format!("Content-Length: {}", r.body.len()).into_bytes());
                    "body: a request inside a CL body"
                }
                1 => {
                    r.body =
                        b"5;ext=1;q=\"a\"\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
                            .to_vec();
                    r.headers.push(b"Transfer-Encoding: chunked".to_vec());
                    "body: chunked with extensions and a trailer"
                }
                2 => {
                    r.body = b"5\r\nhello\r\n0\r\n\r\n".to_vec();
                    r.headers.push(b"Transfer-Encoding: chunked".to_vec());
                    r.headers.push(b"Content-Length: 15".to_vec());
                    "body: TE and CL"
                }
                3 => {
                    r.body = b"5\r\nhello\r\n0\r\n\r\n".to_vec();
                    let te: &[u8] =
                        rng.pick(&[&b"gzip"[..], b"gzip, chunked", b"identity", b"x-unknown"]);
                    r.headers.push([&b"Transfer-Encoding: "[..], te].concat());
                    "body: an unknown transfer coding"
                }
                4 => {
                    r.body = b"5\r\nhello\r\n0\r\n\r\n".to_vec();
                    let te: &[u8] = rng.pick(&[
                        &b"chunked, chunked"[..],
                        b"chunked, gzip",
                        b"Chunked",
                        b"CHUNKED",
                        b" chunked ",
                    ]);
                    r.headers.push([&b"Transfer-Encoding: "[..], te].concat());
                    "body: odd chunked codings"
                }
                5 => {
                    r.body = rng
                        .pick(&[
                            &b"5\r\nhell\r\n0\r\n\r\n"[..],
                            b"g\r\nhello\r\n0\r\n\r\n",
                            b"5\r\nhello0\r\n\r\n",
                            b"5\nhello\n0\n\n",
                            b"-5\r\nhello\r\n0\r\n\r\n",
                            b"ffffffffffffffffff\r\nx\r\n0\r\n\r\n",
                            b"5\r\nhello\r\n0\r\n",
                        ])
                        .to_vec();
                    r.headers.push(b"Transfer-Encoding: chunked".to_vec());
                    "body: malformed chunked"
                }
                6 => {
                    r.body = b"200000\r\n".to_vec();
                    r.headers.push(b"Transfer-Encoding: chunked".to_vec());
                    "body: a chunk over MAX_BODY"
                }
                7 => {
                    let n = 1000 + rng.below(20000);
                    r.body = word(rng, VALUE_CHARS, n);
                    r.headers.push(format!("Content-Length: {n}").into_bytes());
                    "body: a large CL body"
                }
                _ => {
                    let n = rng.below(100);
                    r.body = word(rng, VALUE_CHARS, n);
                    "body: bytes after the head without framing"
                }
            }
        }
        // Host.
        5 => {
            r.remove("Host");
            match rng.below(6) {
                0 => "host: none",
                1 => {
                    r.headers.push(b"Host: a.example".to_vec());
                    r.headers.push(b"Host: b.example".to_vec());
                    "host: two"
                }
                2 => {
                    r.headers.push(b"Host:".to_vec());
                    "host: empty"
                }
                3 => {
                    let bad: &[u8] =
                        rng.pick(&[&b"a b"[..], b"a/b", b"a@b:c", b"[::1", b"a:b:c", b"a\"b"]);
                    r.headers.push([&b"Host: "[..], bad].concat());
                    "host: invalid value"
                }
                4 => {
                    r.headers.push(b"Host: a.example, b.example".to_vec());
                    "host: a list"
                }
                _ => {
                    r.headers.insert(0, b"hOsT: example.com".to_vec());
                    "host: odd case"
                }
            }
        }
        // Version and method.
        6 => match rng.below(6) {
            0 => {
                r.version = rng
                    .pick(&[&b"HTTP/2.0"[..], b"HTTP/1.2", b"HTTP/0.9", b"HTTP/3"])
                    .to_vec();
                "version: unknown"
            }
            1 => {
                r.version = rng
                    .pick(&[&b"http/1.1"[..], b"HTTP/1.10", b"HTTP/01.1", b"HTTP/1"])
                    .to_vec();
                "version: malformed"
            }
            2 => {
                r.version = b"HTTP/1.0".to_vec();
                r.remove("Connection");
                r.headers.push(
                    rng.pick(&[
                        &b"Connection: keep-alive"[..],
                        b"Connection: Keep-Alive",
                        b"connection: close, keep-alive",
                    ])
                    .to_vec(),
                );
                "version: 1.0 keep-alive"
            }
            3 => {
                r.method = rng
                    .pick(&[
                        &b"PUT"[..],
                        b"DELETE",
                        b"PATCH",
                        b"CONNECT",
                        b"TRACE",
                        b"BREW",
                    ])
                    .to_vec();
                "method: other"
            }
            4 => {
                r.method = rng
                    .pick(&[&b"G(T"[..], b"GE\x00T", b"", b"G\xc3\x89T", b"GET/"])
                    .to_vec();
                "method: not a token"
            }
            _ => {
                r.target = rng
                    .pick(&[
                        &b"*"[..],
                        b"http://example.com/",
                        b"example.com:80",
                        b"//x",
                        b"/a b",
                        b"/\x7f",
                        b"/\xe2\x82\xac",
                        b"",
                    ])
                    .to_vec();
                "target: other forms"
            }
        },
        // Connection.
        7 => {
            r.remove("Connection");
            let v: &[u8] = rng.pick(&[
                &b"close"[..],
                b"Close",
                b"keep-alive, close",
                b"upgrade, CLOSE",
                b"xclosex",
                b"closed",
                b"keep-alive",
                b"",
            ]);
            r.headers.push([&b"Connection: "[..], v].concat());
            "connection: tokens"
        }
        // Bytes: one changed, inserted or deleted in the head.
        _ => {
            let mut bytes = r.bytes();
            let head = bytes
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(bytes.len().saturating_sub(1))
                .max(1);
            let at = rng.below(head);
            let b = match rng.below(4) {
                0 => 0,
                1 => 0x7f,
                2 => 0x80 + rng.below(128) as u8,
                _ => rng.below(256) as u8,
            };
            let what = match rng.below(3) {
                0 => {
                    bytes[at] = b;
                    "bytes: one changed"
                }
                1 => {
                    bytes.insert(at, b);
                    "bytes: one inserted"
                }
                _ => {
                    bytes.remove(at);
                    "bytes: one deleted"
                }
            };
            r.raw = Some(bytes);
            what
        }
    }
}

fn generate(rng: &mut Rng) -> Case {
    let mut r = valid(rng);
    let mut what = Vec::new();
    let n = [0, 1, 1, 1, 2, 2, 3][rng.below(7)];
    for _ in 0..n {
        if r.raw.is_some() {
            break;
        }
        what.push(mutate(rng, &mut r));
    }
    if what.is_empty() {
        what.push("valid");
    }
    let bytes = r.bytes();
    // Split points: a few cases are written in pieces.
    let mut splits = Vec::new();
    if rng.chance(3) && bytes.len() > 2 {
        for _ in 0..1 + rng.below(3) {
            splits.push(1 + rng.below(bytes.len() - 1));
        }
        splits.sort_unstable();
        splits.dedup();
        what.push("split: written in pieces");
    }
    what.sort_unstable();
    what.dedup();
    Case {
        bytes,
        splits,
        what,
    }
}

// ---------------------------------------------------------------------------
// The reference.

/// What the reference expects of one response.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Expect {
    status: u16,
    /// The request was HEAD: the response has no body.
    head: bool,
    /// Why, for an error.
    reason: &'static str,
}

/// What the reference expects of a whole byte stream sent on one connection.
#[derive(Debug)]
struct Prediction {
    responses: Vec<Expect>,
    /// The server closes after the last response (false: it waits for more).
    closes: bool,
    /// When it waits: for the rest of a head (nothing answered yet for it) or
    /// of a body (whose request may be answered before the body ends).
    waits_for_body: bool,
}

fn error(status: u16, reason: &'static str) -> Expect {
    Expect {
        status,
        head: false,
        reason,
    }
}

/// The reference: httparse reads each request head; RFC 9112 and issue 18
/// decide the rest.
fn reference(stream: &[u8]) -> Prediction {
    let mut responses = Vec::new();
    let mut pos = 0;
    let done = |responses, closes, body| Prediction {
        responses,
        closes,
        waits_for_body: body,
    };
    loop {
        let rest = &stream[pos..];
        if rest.is_empty() {
            return done(responses, false, false);
        }
        let mut headers = vec![httparse::EMPTY_HEADER; 4096];
        let mut req = httparse::Request::new(&mut headers);
        let n = match req.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if rest.len() > MAX_HEAD {
                    responses.push(too_long(rest));
                    return done(responses, true, false);
                }
                return done(responses, false, false);
            }
            Err(httparse::Error::TooManyHeaders) => {
                responses.push(error(431, "too many headers"));
                return done(responses, true, false);
            }
            Err(e) => {
                responses.push(error(400, httparse_reason(e)));
                return done(responses, true, false);
            }
        };
        // The empty lines httparse skipped count too.
        if n > MAX_HEAD {
            responses.push(too_long(rest));
            return done(responses, true, false);
        }
        let method = req.method.unwrap_or_default();
        let minor = req.version.unwrap_or(1);
        let values = |name: &str| -> Vec<&[u8]> {
            req.headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value.trim_ascii())
                .collect()
        };
        let hosts = values("host");
        if minor == 1 && hosts.is_empty() {
            responses.push(error(400, "HTTP/1.1 without Host"));
            return done(responses, true, false);
        }
        if hosts.len() > 1 {
            responses.push(error(400, "two Host fields"));
            return done(responses, true, false);
        }
        if let Some(h) = hosts.first()
            && !valid_host(h)
        {
            responses.push(error(400, "an invalid Host value"));
            return done(responses, true, false);
        }
        let te = values("transfer-encoding");
        let cl = values("content-length");
        let mut body = Body::None;
        if !te.is_empty() {
            if !cl.is_empty() {
                responses.push(error(400, "Transfer-Encoding and Content-Length"));
                return done(responses, true, false);
            }
            if minor == 0 {
                responses.push(error(400, "Transfer-Encoding in HTTP/1.0"));
                return done(responses, true, false);
            }
            let codings: Vec<Vec<u8>> = te
                .iter()
                .flat_map(|v| v.split(|&b| b == b','))
                .map(|c| c.trim_ascii().to_ascii_lowercase())
                .filter(|c| !c.is_empty())
                .collect();
            if codings.iter().any(|c| c != b"chunked") {
                responses.push(error(501, "an unknown transfer coding"));
                return done(responses, true, false);
            }
            if codings.len() != 1 {
                responses.push(error(400, "chunked twice"));
                return done(responses, true, false);
            }
            body = Body::Chunked;
        } else if !cl.is_empty() {
            let mut len = None;
            for v in cl.iter().flat_map(|v| v.split(|&b| b == b',')) {
                let v = v.trim_ascii();
                if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
                    responses.push(error(400, "Content-Length not a number"));
                    return done(responses, true, false);
                }
                let Some(n) = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                else {
                    responses.push(error(413, "Content-Length overflows"));
                    return done(responses, true, false);
                };
                if len.is_some_and(|l| l != n) {
                    responses.push(error(400, "Content-Lengths that differ"));
                    return done(responses, true, false);
                }
                len = Some(n);
            }
            let len = len.unwrap();
            if len > MAX_BODY {
                responses.push(error(413, "a body over MAX_BODY"));
                return done(responses, true, false);
            }
            body = Body::Length(len as usize);
        }
        let ok = match method {
            "GET" => Expect {
                status: 200,
                head: false,
                reason: "",
            },
            "HEAD" => Expect {
                status: 200,
                head: true,
                reason: "",
            },
            _ => {
                responses.push(error(405, "a method other than GET and HEAD"));
                return done(responses, true, false);
            }
        };
        let connection: Vec<Vec<u8>> = values("connection")
            .iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|t| t.trim_ascii().to_ascii_lowercase())
            .collect();
        let close = connection.iter().any(|t| t == b"close")
            || (minor == 0 && !connection.iter().any(|t| t == b"keep-alive"));
        // The body.
        let after = &rest[n..];
        let used = match body {
            Body::None => 0,
            Body::Length(len) => {
                if after.len() < len {
                    responses.push(ok);
                    return done(responses, false, true);
                }
                len
            }
            Body::Chunked => match chunked(after) {
                Chunked::Done(used) => used,
                Chunked::Partial => {
                    responses.push(ok);
                    return done(responses, false, true);
                }
                Chunked::Bad(status, reason) => {
                    responses.push(error(status, reason));
                    return done(responses, true, false);
                }
            },
        };
        responses.push(ok);
        if close {
            return done(responses, true, false);
        }
        pos += n + used;
    }
}

enum Body {
    None,
    Length(usize),
    Chunked,
}

enum Chunked {
    Done(usize),
    Partial,
    Bad(u16, &'static str),
}

/// A chunked body (RFC 9112 section 7.1), with httparse's chunk-size reader.
fn chunked(bytes: &[u8]) -> Chunked {
    let mut pos = 0;
    let mut total = 0u64;
    loop {
        match httparse::parse_chunk_size(&bytes[pos..]) {
            Ok(httparse::Status::Complete((n, size))) => {
                pos += n;
                total += size;
                if total > MAX_BODY {
                    return Chunked::Bad(413, "a chunked body over MAX_BODY");
                }
                if size == 0 {
                    // The trailer section, up to its empty line.
                    let mut headers = vec![httparse::EMPTY_HEADER; 64];
                    return match httparse::parse_headers(&bytes[pos..], &mut headers) {
                        Ok(httparse::Status::Complete((n, _))) => Chunked::Done(pos + n),
                        Ok(httparse::Status::Partial) => Chunked::Partial,
                        Err(_) => Chunked::Bad(400, "a malformed trailer"),
                    };
                }
                let size = size as usize;
                if bytes.len() < pos + size + 2 {
                    return Chunked::Partial;
                }
                if &bytes[pos + size..pos + size + 2] != b"\r\n" {
                    return Chunked::Bad(400, "chunk data not followed by CRLF");
                }
                pos += size + 2;
            }
            Ok(httparse::Status::Partial) => return Chunked::Partial,
            Err(_) => return Chunked::Bad(400, "a malformed chunk size"),
        }
    }
}

/// A head over MAX_HEAD: 414 when the request line alone is too long, else 431.
fn too_long(rest: &[u8]) -> Expect {
    let line = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    if line >= MAX_HEAD {
        error(414, "a request target over MAX_HEAD")
    } else {
        error(431, "a head over MAX_HEAD")
    }
}

fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "httparse: invalid byte in a header name",
        httparse::Error::HeaderValue => "httparse: invalid byte in a header value",
        httparse::Error::NewLine => "httparse: invalid new line",
        httparse::Error::Status => "httparse: invalid status",
        httparse::Error::Token => "httparse: invalid token (method or target)",
        httparse::Error::TooManyHeaders => "httparse: too many headers",
        httparse::Error::Version => "httparse: invalid version",
    }
}

/// RFC 9112 section 3.2 and RFC 3986 section 3.2.2: `uri-host [ ":" port ]`.
fn valid_host(h: &[u8]) -> bool {
    let (host, port) = if h.first() == Some(&b'[') {
        let Some(end) = h.iter().position(|&b| b == b']') else {
            return false;
        };
        let inside = &h[1..end];
        if !inside
            .iter()
            .all(|b| b.is_ascii_hexdigit() || b":.".contains(b))
        {
            return false;
        }
        match &h[end + 1..] {
            [] => (&h[..0], None),
            [b':', port @ ..] => (&h[..0], Some(port)),
            _ => return false,
        }
    } else {
        match h.iter().rposition(|&b| b == b':') {
            Some(c) => (&h[..c], Some(&h[c + 1..])),
            None => (h, None),
        }
    };
    let reg_name = host
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b));
    reg_name && port.is_none_or(|p| p.iter().all(u8::is_ascii_digit))
}

// ---------------------------------------------------------------------------
// Running the cases.

/// What came back on one connection.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    Status(u16),
    /// The bytes were not a response (or a reset, a timeout): what happened.
    Broken(String),
}

/// Sends `bytes` in the pieces `splits` says (a millisecond apart, so the
/// server reads them apart).
fn send(stream: &mut TcpStream, bytes: &[u8], splits: &[usize]) -> Result<(), String> {
    let mut from = 0;
    for &at in splits {
        stream
            .write_all(&bytes[from..at])
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(1));
        from = at;
    }
    stream.write_all(&bytes[from..]).map_err(|e| e.to_string())
}

fn open(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to serve");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// One case alone on a connection, with the sentinel after it and the
/// connection half-closed: what the reference expected, and what came.
fn run_alone(port: u16, case: &Case) -> (Prediction, Vec<Got>) {
    let stream_bytes = [&case.bytes[..], SENTINEL].concat();
    let prediction = reference(&stream_bytes);
    let mut stream = open(port);
    // The server may answer and close before everything is sent.
    let _ = send(&mut stream, &stream_bytes, &case.splits);
    let _ = stream.shutdown(Shutdown::Write);
    let mut r = Responses::new(stream);
    let mut got = Vec::new();
    loop {
        // Whether a body follows: the reference's idea where it expects a 200;
        // else the case's own method for the first response, and the
        // sentinel's (HEAD) for any later one.
        let head = match prediction.responses.get(got.len()) {
            Some(e) if e.status == 200 => e.head,
            _ if got.is_empty() => case.bytes.trim_ascii_start().starts_with(b"HEAD "),
            _ => true,
        };
        match r.next(head) {
            Ok(Some(resp)) => got.push(Got::Status(resp.status)),
            Ok(None) => break,
            Err(e) => {
                got.push(Got::Broken(e));
                break;
            }
        }
        if got.len() > 8 {
            got.push(Got::Broken("more than 8 responses".into()));
            break;
        }
    }
    (prediction, got)
}

/// The class a status falls in for agreement: success, or refusal.
fn class(status: u16) -> &'static str {
    if (200..300).contains(&status) {
        "2xx"
    } else if (400..600).contains(&status) {
        "error"
    } else {
        "other"
    }
}

/// Whether `got` agrees with `p`: the same responses, class by class, and
/// the close. When the reference says the server waits for more (the stream
/// ends inside a request), the half-close ends it: the server may answer that
/// last request (a body was pending) or refuse it, or close in silence.
fn agrees(p: &Prediction, got: &[Got]) -> bool {
    let want: Vec<&str> = p.responses.iter().map(|e| class(e.status)).collect();
    let have: Vec<&str> = got
        .iter()
        .map(|g| match g {
            Got::Status(s) => class(*s),
            Got::Broken(_) => "broken",
        })
        .collect();
    if p.closes {
        return want == have;
    }
    if p.waits_for_body {
        // The last expected response may or may not have come.
        let before = &want[..want.len() - 1];
        return have == want || have == before;
    }
    // Waiting for the rest of a head: nothing more, or one refusal.
    have == want
        || (have.len() == want.len() + 1
            && have[..want.len()] == want[..]
            && have[want.len()] == "error")
}

/// One case, as it went.
struct Outcome {
    case: usize,
    prediction: Prediction,
    got: Vec<Got>,
}

/// Runs cases `from..to` of `cases` on as few connections as keep-alive allows:
/// each case the reference expects to leave the connection open is sent and
/// answered in turn; one that closes it (or leaves it waiting) ends the
/// connection, with the sentinel. A connection whose sentinel is not answered
/// exactly (an extra response: a request smuggled through one of its cases)
/// is rerun one case per connection.
fn run(
    port: u16,
    cases: &[Case],
    outcomes: &Mutex<Vec<Outcome>>,
    sent: &AtomicUsize,
    next: &AtomicUsize,
    deadline: Instant,
) {
    loop {
        if Instant::now() > deadline {
            return;
        }
        let start = next.fetch_add(PER_CONNECTION, Ordering::Relaxed);
        if start >= cases.len() {
            return;
        }
        let end = (start + PER_CONNECTION).min(cases.len());
        let mut i = start;
        while i < end {
            // Keep-alive run: cases that leave the connection open, one by one.
            let mut stream = open(port);
            let mut r = Responses::new(stream.try_clone().unwrap());
            let mut kept = Vec::new();
            let mut broke = false;
            while i < end {
                let case = &cases[i];
                let alone = reference(&case.bytes);
                if alone.closes || ends_inside(&case.bytes, &alone) {
                    break;
                }
                let ok = send(&mut stream, &case.bytes, &case.splits).is_ok();
                let mut got = Vec::new();
                for e in &alone.responses {
                    match r.next(e.head) {
                        Ok(Some(resp)) => got.push(Got::Status(resp.status)),
                        Ok(None) => {
                            got.push(Got::Broken("closed".into()));
                            break;
                        }
                        Err(e) => {
                            got.push(Got::Broken(e));
                            break;
                        }
                    }
                }
                sent.fetch_add(1, Ordering::Relaxed);
                let same = ok
                    && got.len() == alone.responses.len()
                    && got.iter().zip(&alone.responses).all(|(g, e)| {
                        *g == Got::Status(e.status)
                            || matches!(g, Got::Status(s) if class(*s) == class(e.status))
                    });
                kept.push(i);
                i += 1;
                if !same {
                    outcomes.lock().unwrap().push(Outcome {
                        case: i - 1,
                        prediction: alone,
                        got,
                    });
                    broke = true;
                    break;
                }
            }
            if !broke && !kept.is_empty() {
                // The sentinel: exactly one response, then the close.
                let _ = stream.write_all(SENTINEL);
                let _ = stream.shutdown(Shutdown::Write);
                let first = r.next(true);
                let second = r.next(false);
                let exact = matches!(first, Ok(Some(ref s)) if s.status == 200)
                    && matches!(second, Ok(None));
                if !exact {
                    // Find the case that smuggled: each alone.
                    for &k in &kept {
                        let (prediction, got) = run_alone(port, &cases[k]);
                        if !agrees(&prediction, &got) {
                            outcomes.lock().unwrap().push(Outcome {
                                case: k,
                                prediction,
                                got,
                            });
                        }
                    }
                }
            }
            drop(stream);
            if broke {
                continue;
            }
            if i < end {
                // A case that closes the connection or leaves it waiting: alone.
                let (prediction, got) = run_alone(port, &cases[i]);
                sent.fetch_add(1, Ordering::Relaxed);
                if !agrees(&prediction, &got) {
                    outcomes.lock().unwrap().push(Outcome {
                        case: i,
                        prediction,
                        got,
                    });
                }
                i += 1;
            }
        }
    }
}

/// Whether the reference, reading `bytes` alone, stops inside a request (it
/// waits for more): such a case cannot share a connection.
fn ends_inside(bytes: &[u8], p: &Prediction) -> bool {
    p.waits_for_body || {
        // A head cut short: the sentinel would not be a request of its own,
        // answered as one. Counting responses alone is not enough: a head cut
        // short and the sentinel read as its rest can make one error response,
        // just as many as a clean end and the sentinel's 200 (the case stayed
        // on its connection, and the next case was read as the rest of it).
        let again = reference(&[bytes, SENTINEL].concat());
        again.responses.len() != p.responses.len() + 1
            || again
                .responses
                .last()
                .is_some_and(|e| e.status != 200 || !e.head)
    }
}

// ---------------------------------------------------------------------------
// The disagreements that stand.

/// A disagreement that stands: which cases (by the reference's reason or the
/// mutation), which side each takes, and the RFC's words for serve's side.
struct Standing {
    /// Matches the case's mutation names or the reference's reason.
    matches: fn(&Case, &Prediction, &[Got]) -> bool,
    what: &'static str,
    rfc: &'static str,
}

const STANDING: &[Standing] = &[
    Standing {
        matches: |case, p, got| {
            let empty_first = case.bytes.starts_with(b"\r\n") || case.bytes.starts_with(b"\n");
            empty_first && first_status(p) == Some(200) && got.first() == Some(&Got::Status(400))
        },
        what: "empty lines before the request line: serve skips one and refuses two or more \
               (also one after an empty line the previous request left) with 400; httparse \
               skips any number",
        rfc: "RFC 9112 section 2.2: \"a server that is expecting to receive and parse a \
              request-line SHOULD ignore at least one empty line (CRLF) received prior to the \
              request-line\"",
    },
    Standing {
        matches: |case, p, got| {
            let line = case.bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            line.iter().any(|&b| b >= 0x80)
                && first_status(p) == Some(200)
                && got.first() == Some(&Got::Status(400))
        },
        what: "bytes past ASCII in the request target (raw UTF-8, `/\\xe2\\x82\\xac`): serve \
               400, httparse accepts",
        rfc: "RFC 9112 section 3.2: the request-target is a URI form (RFC 3986, ASCII; other \
              octets are percent-encoded), and section 3: \"Recipients of an invalid \
              request-line SHOULD respond with either a 400 (Bad Request) error or a 301 \
              (Moved Permanently) redirect with the request-target properly encoded\"",
    },
    Standing {
        matches: |case, p, got| {
            let bare_lf = case.bytes.ends_with(b"\r\n\r\n5\nhello\n0\n\n")
                || case.bytes.ends_with(b"\n\n5\nhello\n0\n\n")
                || case.bytes.ends_with(b"\n5\r\nhell\r\n0\r\n\r\n");
            bare_lf && got.first() == Some(&Got::Status(200)) && first_status(p) == Some(400)
        },
        what: "a LF alone ends a line of chunked framing: serve reads `5\\nhello\\n0\\n\\n` \
               as a body, and `5\\r\\nhell\\r\\n0...` as the 5 bytes `hell\\r` and a LF; \
               httparse wants CRLF (400)",
        rfc: "RFC 9112 section 2.2: \"a recipient MAY recognize a single LF as a line \
              terminator and ignore any preceding CR\"",
    },
];

/// The status the reference expects first.
fn first_status(p: &Prediction) -> Option<u16> {
    p.responses.first().map(|e| e.status)
}

/// Where `got` first parts from `p`, in words: the group a disagreement
/// falls in.
fn first_difference(p: &Prediction, got: &[Got]) -> String {
    let n = p.responses.len().max(got.len());
    for i in 0..n {
        let e = p.responses.get(i);
        let g = got.get(i);
        let want = e.map(|e| class(e.status)).unwrap_or("nothing");
        let have = match g {
            Some(Got::Status(s)) => class(*s),
            Some(Got::Broken(_)) => "broken",
            None => "nothing",
        };
        if want == have {
            continue;
        }
        let e = match e {
            Some(e) if e.reason.is_empty() => format!("{} (accepted)", e.status),
            Some(e) => format!("{} ({})", e.status, e.reason),
            None => "nothing more".into(),
        };
        let g = match g {
            Some(Got::Status(s)) => s.to_string(),
            Some(Got::Broken(m)) if m.contains("reset") => "a reset".into(),
            Some(Got::Broken(m)) if m.contains("WouldBlock") || m.contains("TimedOut") => {
                "no answer in 5 s".into()
            }
            Some(Got::Broken(m)) if m.starts_with("closed after") => "a cut-off response".into(),
            Some(Got::Broken(m)) => m.clone(),
            None => "nothing more".into(),
        };
        return format!("response {}: reference {e}, serve {g}", i + 1);
    }
    "after the last response (waiting)".into()
}

fn describe(case: &Case, p: &Prediction, got: &[Got]) -> String {
    let mut shown = String::new();
    for &b in case.bytes.iter().take(300) {
        match b {
            b'\r' => shown.push_str("\\r"),
            b'\n' => shown.push_str("\\n"),
            b'\t' => shown.push_str("\\t"),
            0x20..0x7f => shown.push(b as char),
            _ => shown.push_str(&format!("\\x{b:02x}")),
        }
    }
    if case.bytes.len() > 300 {
        shown.push_str(&format!("... ({} bytes)", case.bytes.len()));
    }
    format!(
        "[{}] reference {:?}{} / serve {:?}: \"{shown}\"",
        case.what.join(", "),
        p.responses
            .iter()
            .map(|e| if e.reason.is_empty() {
                format!("{}", e.status)
            } else {
                format!("{} ({})", e.status, e.reason)
            })
            .collect::<Vec<_>>(),
        if p.closes {
            " then close"
        } else {
            " then waits"
        },
        got
    )
}

#[test]
fn differential_fuzz_of_the_request_parser() {
    let port = quiet_port();
    let file = serve_build("fuzz", &["--port", &port.to_string()]);
    let mut server = ServeProcess::start(Command::new(&file), port);
    let mut rng = Rng(SEED);
    let cases: Vec<Case> = (0..CASES).map(|_| generate(&mut rng)).collect();
    let outcomes = Mutex::new(Vec::new());
    let sent = AtomicUsize::new(0);
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    // CI's budget: the fuzz stops taking cases after it, and fails below.
    let deadline = start + Duration::from_secs(110);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| run(port, &cases, &outcomes, &sent, &next, deadline));
        }
        // Progress every 10 s.
        s.spawn(|| {
            let mut shown = 0;
            while next.load(Ordering::Relaxed) < CASES && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
                let t = start.elapsed().as_secs() / 10 * 10;
                if t > shown {
                    shown = t;
                    let n = sent.load(Ordering::Relaxed);
                    let _ = writeln!(
                        std::io::stderr(),
                        "fuzz: {n} of {CASES} cases sent in {t} s"
                    );
                }
            }
        });
    });
    let took = start.elapsed();

    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|o| o.case);
    // Group what does not stand by mutation and sides.
    let mut groups: std::collections::BTreeMap<String, (usize, Vec<String>)> = Default::default();
    let mut standing = vec![0usize; STANDING.len()];
    for o in &outcomes {
        let case = &cases[o.case];
        if let Some(k) = STANDING
            .iter()
            .position(|s| (s.matches)(case, &o.prediction, &o.got))
        {
            standing[k] += 1;
            continue;
        }
        let entry = groups
            .entry(first_difference(&o.prediction, &o.got))
            .or_insert_with(|| (0, Vec::new()));
        entry.0 += 1;
        if entry.1.len() < 3 {
            entry.1.push(describe(case, &o.prediction, &o.got));
        }
    }
    let mut report = format!(
        "{CASES} cases in {took:.1?} ({} sent), seed {SEED:#x}: {} disagreements\n",
        sent.load(Ordering::Relaxed),
        outcomes.len()
    );
    for (s, n) in STANDING.iter().zip(&standing) {
        report.push_str(&format!(
            "  standing, {n} cases: {}\n    RFC: {}\n",
            s.what, s.rfc
        ));
    }
    for (key, (n, examples)) in &groups {
        report.push_str(&format!("  NEW, {n} cases: {key}\n"));
        for e in examples {
            report.push_str(&format!("    e.g. {e}\n"));
        }
    }
    let _ = writeln!(std::io::stderr(), "{report}");
    assert!(server.alive(), "serve died during the fuzz");
    good_get(
        port,
        b"<!DOCTYPE html><title>Hello World</title><h1>Hello World</h1>\n",
        Duration::from_secs(1),
    )
    .unwrap_or_else(|e| panic!("after the fuzz, a good request: {e}"));
    let done = sent.load(Ordering::Relaxed);
    assert!(
        done == CASES,
        "only {done} of {CASES} cases were answered in {took:.0?} (a server that leaves requests \
         unanswered costs each a 5 s read timeout); the disagreements so far are above"
    );
    assert!(
        groups.is_empty(),
        "serve and the reference disagree where no standing disagreement allows it: {} groups, \
         listed above as NEW (each with one example)",
        groups.len()
    );
    assert!(
        took < Duration::from_secs(120),
        "the fuzz took {took:?}, over its 2 minutes"
    );
}
