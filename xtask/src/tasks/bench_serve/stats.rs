//! Reading the run's JSON for the table and the chart: a contender's point,
//! and the median and spread of a number over a point's runs.
use serde_json::Value;

use crate::Error;

pub fn contenders_of(json: &Value) -> Result<&Vec<Value>, Error> {
    json["contenders"]
        .as_array()
        .ok_or_else(|| Error::fail("the JSON has no contenders"))
}

/// The contender called `name`.
pub fn contender<'a>(json: &'a Value, name: &str) -> Option<&'a Value> {
    contenders_of(json).ok()?.iter().find(|c| c["name"] == name)
}

/// Which point: its connections, whether each request asks for
/// `Connection: close`, and the page's size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Key {
    pub connections: u64,
    pub close: bool,
    pub page_bytes: u64,
}

impl Key {
    pub fn of(p: &Value) -> Key {
        Key {
            connections: p["connections"].as_u64().unwrap_or(0),
            close: p["close"].as_bool().unwrap_or(false),
            page_bytes: p["page_bytes"].as_u64().unwrap_or(0),
        }
    }
}

/// A contender's point at `key`.
pub fn point(c: &Value, key: Key) -> Option<&Value> {
    c["points"].as_array()?.iter().find(|p| Key::of(p) == key)
}

/// The keep-alive point of the default page at `connections` (the run's
/// `connections` list).
pub fn keep_alive(json: &Value, connections: u64) -> Key {
    Key {
        connections,
        close: false,
        page_bytes: json["page_bytes"].as_u64().unwrap_or(0),
    }
}

/// The median, lowest and highest of a number over some runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// The spread of `values`; `None` when there are none.
pub fn spread_of(mut values: Vec<f64>) -> Option<Spread> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    Some(Spread {
        median,
        min: values[0],
        max: values[n - 1],
    })
}

/// The spread of `key` over `runs` (a JSON array of objects).
pub fn spread(runs: &Value, key: &str) -> Option<Spread> {
    spread_of(
        runs.as_array()?
            .iter()
            .filter_map(|r| r[key].as_f64())
            .collect(),
    )
}

/// The median of `key` over a point's runs.
pub fn median(point: &Value, key: &str) -> Option<f64> {
    spread(&point["runs"], key).map(|s| s.median)
}

/// The sum of `key` over a point's runs.
pub fn sum(point: &Value, key: &str) -> u64 {
    point["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r[key].as_u64())
        .sum()
}

/// Whether a point did no work: the median of its runs completed no
/// request (a 1-second run at 10,000 connections may spend its second
/// connecting). Its latencies and rates are then no figures to judge.
pub fn empty(point: &Value) -> bool {
    median(point, "requests").is_none_or(|n| n == 0.0)
}

/// The memory (KiB) per idle connection of one idle run: the rise in the
/// server's cgroup (`kernel`: in its kernel share) from before the
/// connections were opened to while they were held, over those still open
/// then (a server's limit or idle timeout may close some). `None` when the
/// server kept none open (it closes after each answer).
pub fn per_idle_connection(run: &Value, kernel: bool) -> Option<f64> {
    let open = run["open"].as_u64().filter(|&n| n > 0)?;
    let (before, held) = if kernel {
        ("kernel_before_bytes", "kernel_held_bytes")
    } else {
        ("before_bytes", "held_bytes")
    };
    let rise = run[held].as_f64()? - run[before].as_f64()?;
    Some(rise / 1024.0 / open as f64)
}

/// A contender's idle runs at `connections`.
fn idle_runs(c: &Value, connections: u64) -> Option<&Vec<Value>> {
    c["idle"]
        .as_array()?
        .iter()
        .find(|i| i["connections"] == connections)?["runs"]
        .as_array()
}

/// The fewest connections a contender's idle runs at `connections` kept open.
pub fn idle_open(c: &Value, connections: u64) -> Option<u64> {
    idle_runs(c, connections)?
        .iter()
        .filter_map(|r| r["open"].as_u64())
        .min()
}

/// The spread of a contender's memory per idle connection at `connections`
/// (`kernel`: of its kernel share).
pub fn idle(c: &Value, connections: u64, kernel: bool) -> Option<Spread> {
    let each: Option<Vec<f64>> = idle_runs(c, connections)?
        .iter()
        .map(|r| per_idle_connection(r, kernel))
        .collect();
    spread_of(each?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn median_and_spread() {
        let s = spread(&json!([{"x": 3.0}, {"x": 1.0}, {"x": 2.0}]), "x").unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(spread_of(vec![4.0, 1.0]).unwrap().median, 2.5);
        assert_eq!(spread(&json!([]), "x"), None);
        assert_eq!(spread(&json!([{"y": 1}]), "x"), None);
    }

    #[test]
    fn idle_memory_per_connection() {
        // 1000 connections; the cgroup rose 9,216,000 bytes, 9 KiB each, of
        // which the kernel's 6,144,000, 6 KiB each.
        let run = json!({"open": 1000, "before_bytes": 1000000, "held_bytes": 10216000,
                         "kernel_before_bytes": 24000, "kernel_held_bytes": 6168000});
        assert_eq!(per_idle_connection(&run, false), Some(9.0));
        assert_eq!(per_idle_connection(&run, true), Some(6.0));
        // Over those still open: 500 of them, 18 KiB each.
        let mut half = run.clone();
        half["open"] = 500.into();
        assert_eq!(per_idle_connection(&half, false), Some(18.0));
        // A server that closed them all has no figure.
        let mut closed = run.clone();
        closed["open"] = 0.into();
        assert_eq!(per_idle_connection(&closed, false), None);
        let c = json!({"idle": [{"connections": 1000, "runs": [run.clone(), run, half]}]});
        assert_eq!(idle(&c, 1000, false).unwrap().median, 9.0);
        assert_eq!(idle_open(&c, 1000), Some(500));
        assert_eq!(idle(&c, 10000, false), None);
    }

    #[test]
    fn a_point_without_requests_is_empty() {
        let p = |n: &[u64]| json!({"runs": n.iter().map(|n| json!({"requests": n})).collect::<Vec<_>>()});
        assert!(empty(&p(&[0])) && empty(&p(&[0, 0, 5])) && empty(&p(&[])));
        assert!(!empty(&p(&[3])) && !empty(&p(&[0, 4, 5])));
    }
}
