//! The chart's value axes: linear from zero in round steps (1, 2, 2.5 or 5
//! times a power of ten), or logarithmic in whole decades, and their labels.

/// `v` as an axis label: 20k, 2.5k, 100, 0.1 (and 0.3, not 0.1 * 3's
/// 0.30000000000000004).
pub(super) fn tick_label(v: f64) -> String {
    let v = (v * 1e6).round() / 1e6;
    if v >= 1000.0 {
        format!("{}k", v / 1000.0)
    } else {
        format!("{v}")
    }
}

/// A panel's axis: the values at its bottom and top, and its ticks.
pub(super) struct Axis {
    pub log: bool,
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
}

impl Axis {
    /// An axis that holds every value: from zero in round steps, or whole
    /// decades on a log axis.
    pub fn new(values: &[f64], log: bool) -> Axis {
        if log {
            let positive = values.iter().copied().filter(|&v| v > 0.0);
            let min = positive.clone().fold(f64::INFINITY, f64::min);
            let max = positive.fold(0.0, f64::max);
            let (min, max) = if max > 0.0 { (min, max) } else { (1.0, 10.0) };
            let lo = min.log10().floor() as i32;
            let hi = (max.log10().ceil() as i32).max(lo + 1);
            let ticks = (lo..=hi).map(|e| 10f64.powi(e)).collect();
            return Axis {
                log,
                lo: 10f64.powi(lo),
                hi: 10f64.powi(hi),
                ticks,
            };
        }
        let max = values.iter().copied().fold(0.0, f64::max);
        let max = if max > 0.0 { max } else { 1.0 };
        let raw = max / 5.0;
        let magnitude = 10f64.powi(raw.log10().floor() as i32);
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|&s| s >= raw)
            .unwrap_or(10.0 * magnitude);
        let steps = (max / step).ceil() as u32;
        Axis {
            log,
            lo: 0.0,
            hi: step * f64::from(steps),
            ticks: (0..=steps).map(|i| step * f64::from(i)).collect(),
        }
    }

    /// How far up the plot `v` is, from 0 (bottom) to 1 (top).
    pub fn fraction(&self, v: f64) -> f64 {
        if self.log {
            let v = v.max(self.lo);
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_hold_every_value_in_round_steps_or_decades() {
        let rps = Axis::new(&[3491.0, 59038.0, 39130.73], false);
        assert_eq!((rps.lo, rps.hi), (0.0, 60000.0));
        assert_eq!(rps.ticks, [0.0, 20000.0, 40000.0, 60000.0]);
        assert_eq!(rps.fraction(30000.0), 0.5);
        let p99 = Axis::new(&[0.5, 4.05, 1670.0], true);
        assert_eq!(p99.ticks, [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]);
        assert!((p99.fraction(100.0) - 0.6).abs() < 1e-12);
        // Nothing to draw still makes an axis.
        assert_eq!(Axis::new(&[], true).ticks, [1.0, 10.0]);
        assert_eq!(Axis::new(&[0.0], false).hi, 1.0);
        let labels: Vec<String> = [0.1 * 3.0, 100.0, 2500.0, 60000.0].map(tick_label).to_vec();
        assert_eq!(labels, ["0.3", "100", "2.5k", "60k"]);
    }
}
