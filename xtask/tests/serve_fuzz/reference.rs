//! The reference: what serve should answer to a byte stream, from httparse's
//! verdict and the RFC's rules httparse leaves to its caller.

use super::*;

/// What the reference expects of one response.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Expect {
    pub(crate) status: u16,
    /// The request was HEAD: the response has no body.
    pub(crate) head: bool,
    /// Why, for an error.
    pub(crate) reason: &'static str,
}

/// What the reference expects of a whole byte stream sent on one connection.
#[derive(Debug)]
pub(crate) struct Prediction {
    pub(crate) responses: Vec<Expect>,
    /// The server closes after the last response (false: it waits for more).
    pub(crate) closes: bool,
    /// When it waits: for the rest of a head (nothing answered yet for it) or
    /// of a body (whose request may be answered before the body ends).
    pub(crate) waits_for_body: bool,
}

pub(crate) fn error(status: u16, reason: &'static str) -> Expect {
    Expect {
        status,
        head: false,
        reason,
    }
}

/// The reference: httparse reads each request head; RFC 9112 and issue 18
/// decide the rest.
pub(crate) fn reference(stream: &[u8]) -> Prediction {
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

pub(crate) enum Body {
    None,
    Length(usize),
    Chunked,
}

pub(crate) enum Chunked {
    Done(usize),
    Partial,
    Bad(u16, &'static str),
}

/// A chunked body (RFC 9112 section 7.1), with httparse's chunk-size reader.
pub(crate) fn chunked(bytes: &[u8]) -> Chunked {
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
pub(crate) fn too_long(rest: &[u8]) -> Expect {
    let line = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    if line >= MAX_HEAD {
        error(414, "a request target over MAX_HEAD")
    } else {
        error(431, "a head over MAX_HEAD")
    }
}

pub(crate) fn httparse_reason(e: httparse::Error) -> &'static str {
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
pub(crate) fn valid_host(h: &[u8]) -> bool {
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
