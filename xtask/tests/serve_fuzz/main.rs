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

mod generate;
mod mutate;
mod reference;
mod runner;
mod standing;

use common::*;
use generate::*;
use mutate::*;
use reference::*;
use runner::*;
// Named: common::run (a native run) would be as near through `common::*`.
use runner::run;
use standing::*;
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
