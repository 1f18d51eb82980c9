//! Running the cases against the server: sending them in pieces, reading what
//! comes back, and comparing it with the reference.

use super::*;

/// What came back on one connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Got {
    Status(u16),
    /// The bytes were not a response (or a reset, a timeout): what happened.
    Broken(String),
}

/// Sends `bytes` in the pieces `splits` says (a millisecond apart, so the
/// server reads them apart).
pub(crate) fn send(stream: &mut TcpStream, bytes: &[u8], splits: &[usize]) -> Result<(), String> {
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

pub(crate) fn open(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to serve");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// One case alone on a connection, with the sentinel after it and the
/// connection half-closed: what the reference expected, and what came.
pub(crate) fn run_alone(port: u16, case: &Case) -> (Prediction, Vec<Got>) {
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
pub(crate) fn class(status: u16) -> &'static str {
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
pub(crate) fn agrees(p: &Prediction, got: &[Got]) -> bool {
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
pub(crate) struct Outcome {
    pub(crate) case: usize,
    pub(crate) prediction: Prediction,
    pub(crate) got: Vec<Got>,
}

/// Runs cases `from..to` of `cases` on as few connections as keep-alive allows:
/// each case the reference expects to leave the connection open is sent and
/// answered in turn; one that closes it (or leaves it waiting) ends the
/// connection, with the sentinel. A connection whose sentinel is not answered
/// exactly (an extra response: a request smuggled through one of its cases)
/// is rerun one case per connection.
pub(crate) fn run(
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
pub(crate) fn ends_inside(bytes: &[u8], p: &Prediction) -> bool {
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
