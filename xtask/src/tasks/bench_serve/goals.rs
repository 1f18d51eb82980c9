//! The goals for serve, judged from the run's JSON: at each judged
//! point the medians against the best peer (requests/s, p99) and the memory
//! against nginx and lighttpd; memory per idle connection against nginx;
//! requests/s against the floor. Every ratio as measured; a point that
//! completed no request is not judged on the load.
use std::fmt::Write as _;

use serde_json::Value;

use super::render::{idle_counts, label, median_of, ratio};
use super::stats::{self, Key, contender, median, point};

/// The best peer at `key` by the median of `what`: the highest, or the
/// lowest when `lowest`. Its name and median. A peer whose point completed
/// no request is not a figure to compare with.
pub(super) fn best_peer(json: &Value, key: Key, what: &str, lowest: bool) -> Option<(String, f64)> {
    json["peers"]
        .as_array()?
        .iter()
        .filter_map(|name| {
            let name = name.as_str()?;
            let p = point(contender(json, name)?, key)?;
            if stats::empty(p) {
                return None;
            }
            Some((name.to_string(), median(p, what)?))
        })
        .reduce(|a, b| {
            let better = if lowest { b.1 < a.1 } else { b.1 > a.1 };
            if better { b } else { a }
        })
}

/// One of the goals for serve at each judged point: its measure
/// (a key of a run), at least or at most `target` times the reference's
/// median, which is `against`, or the best peer's when `None`.
pub(super) struct Goal {
    pub key: &'static str,
    pub at_least: bool,
    pub target: f64,
    pub against: Option<&'static str>,
}

pub(super) const GOALS: [Goal; 4] = [
    Goal {
        key: "rps",
        at_least: true,
        target: 1.0,
        against: None,
    },
    Goal {
        key: "p99_ms",
        at_least: false,
        target: 1.0,
        against: None,
    },
    Goal {
        key: "pss_kib",
        at_least: false,
        target: 0.5,
        against: Some("nginx"),
    },
    Goal {
        key: "pss_kib",
        at_least: false,
        target: 1.0,
        against: Some("lighttpd"),
    },
];

impl Goal {
    /// Whether the goal is on the load (requests/s, latency): a point that
    /// completed no request has no figure for it.
    fn on_load(&self) -> bool {
        self.key != "pss_kib"
    }

    /// Who serve is measured against at `key`, and their median (`None`
    /// when they have no figure there).
    pub fn reference(&self, json: &Value, key: Key) -> Option<(String, f64)> {
        match self.against {
            None => best_peer(json, key, self.key, !self.at_least),
            Some(name) => {
                let p = point(contender(json, name)?, key)?;
                if self.on_load() && stats::empty(p) {
                    return None;
                }
                Some((name.to_string(), median(p, self.key)?))
            }
        }
    }

    /// serve's ratio to the reference at `key`, as a verdict: "1.05 (met)",
    /// "0.97 (missed)", or why there is none.
    fn verdict(&self, json: &Value, key: Key) -> String {
        let ours = contender(json, "serve").and_then(|c| point(c, key));
        if self.on_load() && ours.is_none_or(stats::empty) {
            return "- (not judged: serve completed no request)".into();
        }
        let Some((_, theirs)) = self.reference(json, key) else {
            return if self.against.is_none() {
                "- (not judged: no peer completed a request)".into()
            } else {
                "- (missed: no figure)".into()
            };
        };
        verdict(
            ratio(ours.and_then(|p| median(p, self.key)), Some(theirs)),
            self.at_least,
            self.target,
        )
    }
}

/// The points the goals are judged at: every keep-alive count of the
/// default page, and `Connection: close` at the extra count.
pub(super) fn judged(json: &Value) -> Vec<Key> {
    let extra = json["extra_connections"].as_u64().unwrap_or(100);
    let mut keys: Vec<Key> = json["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .map(|n| stats::keep_alive(json, n))
        .collect();
    keys.push(Key {
        close: true,
        ..stats::keep_alive(json, extra)
    });
    keys
}

/// "1.05 (met)", or "- (missed: no figure)".
fn verdict(r: Option<f64>, at_least: bool, target: f64) -> String {
    match r {
        Some(v) => {
            let met = if at_least { v >= target } else { v <= target };
            format!("{v:.2} ({})", if met { "met" } else { "missed" })
        }
        None => "- (missed: no figure)".into(),
    }
}

/// The goals for serve, each as measured: at every keep-alive point
/// and the `Connection: close` one, the medians against the best peer and
/// the memory against nginx and lighttpd; memory per idle connection against
/// nginx; and requests/s against the floor.
pub(super) fn goals(json: &Value, s: &mut String) {
    let ours = "serve";
    let Some(ours_c) = contender(json, ours) else {
        return;
    };
    let extra = json["extra_connections"].as_u64().unwrap_or(100);
    s.push_str(
        "\nGoals for serve, from the medians above:\n\n\
         | connections | requests/s >= 1.0 x best peer | p99 <= 1.0 x best peer | PSS <= 0.5 x nginx | PSS <= 1.0 x lighttpd |\n\
         |---|---|---|---|---|\n",
    );
    for key in judged(json) {
        let cells: Vec<String> = GOALS
            .iter()
            .map(|g| {
                let v = g.verdict(json, key);
                match (g.against, g.reference(json, key)) {
                    (None, Some((peer, _))) if !v.contains("not judged") => {
                        format!("{v} against {peer}")
                    }
                    _ => v,
                }
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", label(json, key), cells.join(" | "));
    }
    let baseline = json["baseline"].as_str().unwrap_or("nginx");
    let idle: Vec<String> = idle_counts(json)
        .into_iter()
        .map(|n| {
            let theirs = contender(json, baseline).and_then(|b| stats::idle(b, n, false));
            let r = ratio(
                stats::idle(ours_c, n, false).map(|m| m.median),
                theirs.map(|t| t.median),
            );
            format!("{} at {n}", verdict(r, false, 1.0))
        })
        .collect();
    let _ = writeln!(
        s,
        "\nMemory per idle connection <= 1.0 x {baseline}'s: {}.",
        idle.join("; ")
    );
    let floor = json["floor"].as_str().unwrap_or("floor");
    let key = stats::keep_alive(json, extra);
    let r = ratio(
        median_of(json, ours, key, "rps"),
        median_of(json, floor, key, "rps"),
    );
    let _ = writeln!(
        s,
        "Requests/s >= 0.9 x the {floor}'s at {extra} connections: {}.",
        verdict(r, true, 0.9)
    );
}
