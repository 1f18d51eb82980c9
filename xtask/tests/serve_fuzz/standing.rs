//! The disagreements with the reference that stand, each with the RFC's words
//! for serve's side, and how a difference is described.

use super::*;

/// A disagreement that stands: which cases (by the reference's reason or the
/// mutation), which side each takes, and the RFC's words for serve's side.
pub(crate) struct Standing {
    /// Matches the case's mutation names or the reference's reason.
    pub(crate) matches: fn(&Case, &Prediction, &[Got]) -> bool,
    pub(crate) what: &'static str,
    pub(crate) rfc: &'static str,
}

pub(crate) const STANDING: &[Standing] = &[
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
pub(crate) fn first_status(p: &Prediction) -> Option<u16> {
    p.responses.first().map(|e| e.status)
}

/// Where `got` first parts from `p`, in words: the group a disagreement
/// falls in.
pub(crate) fn first_difference(p: &Prediction, got: &[Got]) -> String {
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

pub(crate) fn describe(case: &Case, p: &Prediction, got: &[Got]) -> String {
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
