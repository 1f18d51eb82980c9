//! The fuzz's mutations: each turns a valid request into one the parsers may
//! judge differently, and names itself.

use super::*;

/// Applies one mutation of one kind; returns its name.
pub(crate) fn mutate(rng: &mut Rng, r: &mut Req) -> &'static str {
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
