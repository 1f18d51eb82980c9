//! The fuzz's generator: a seeded PRNG, valid requests, and the cases built
//! from them.

use super::*;

/// splitmix64: small, seeded, and good enough to spread cases.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// A request before it becomes bytes.
pub(crate) struct Req {
    pub(crate) method: Vec<u8>,
    pub(crate) target: Vec<u8>,
    pub(crate) version: Vec<u8>,
    /// Whole header lines, without line ends.
    pub(crate) headers: Vec<Vec<u8>>,
    pub(crate) body: Vec<u8>,
    /// The line end.
    pub(crate) eol: Vec<u8>,
    /// Bytes before the request line.
    pub(crate) pre: Vec<u8>,
    /// Leave out the empty line that ends the head.
    pub(crate) no_end: bool,
    /// The bytes, once a byte mutation has made them raw.
    pub(crate) raw: Option<Vec<u8>>,
}

impl Req {
    pub(crate) fn bytes(&self) -> Vec<u8> {
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

    pub(crate) fn remove(&mut self, name: &str) {
        self.headers.retain(|h| !starts_ci(h, name));
    }
}

pub(crate) fn starts_ci(line: &[u8], name: &str) -> bool {
    line.len() > name.len()
        && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && line[name.len()] == b':'
}

/// One generated case: its bytes, where to split the writes, and what was done.
pub(crate) struct Case {
    pub(crate) bytes: Vec<u8>,
    pub(crate) splits: Vec<usize>,
    pub(crate) what: Vec<&'static str>,
}

pub(crate) const TARGET_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%";
pub(crate) const TOKEN_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
pub(crate) const VALUE_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,;=/.*()\"'";

pub(crate) fn word(rng: &mut Rng, chars: &[u8], len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.pick(chars)).collect()
}

/// A valid request: GET or HEAD mostly, HTTP/1.1 mostly, a Host, a few
/// ordinary headers, sometimes a body framed by Content-Length or chunked.
pub(crate) fn valid(rng: &mut Rng) -> Req {
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

pub(crate) fn generate(rng: &mut Rng) -> Case {
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
