//! Bootstrap confidence intervals over prompts. Every statistic of one evaluation is
//! resampled with the same prompt draws, so paired quantities (F(C) against F(M)) keep their
//! pairing.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::eval::schema::Estimate;

/// The mean a statistic is computed with: the plain mean, or a resampled one.
pub type Mean<'a> = &'a dyn Fn(&[f64]) -> f64;

/// A two-sided percentile interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.low <= other.high && other.low <= self.high
    }

    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// Seeded resamples of `n` prompts, stored as how often each prompt is drawn.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    counts: Vec<Vec<u32>>,
    n: usize,
    level: f64,
}

impl Bootstrap {
    /// `level` is the coverage, e.g. 0.95.
    pub fn new(n: usize, resamples: usize, seed: u64, level: f64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let counts = (0..resamples)
            .map(|_| {
                let mut counts = vec![0u32; n];
                for _ in 0..n {
                    counts[rng.random_range(0..n)] += 1;
                }
                counts
            })
            .collect();
        Self { counts, n, level }
    }

    pub fn resamples(&self) -> usize {
        self.counts.len()
    }

    /// `statistic` on every prompt, with its [`interval`](Self::interval).
    pub fn estimate(&self, statistic: &dyn Fn(Mean) -> f64) -> Estimate {
        Estimate {
            value: statistic(&mean),
            interval: self.interval(statistic),
        }
    }

    /// The interval of `statistic`, which computes its value from per-prompt vectors through
    /// the mean it is handed (the plain mean for the point estimate, resampled means here).
    pub fn interval(&self, statistic: impl Fn(Mean) -> f64) -> Option<Interval> {
        if self.counts.is_empty() || self.n == 0 {
            return None;
        }
        let mut values: Vec<f64> = self
            .counts
            .iter()
            .map(|counts| {
                let mean = |xs: &[f64]| -> f64 {
                    debug_assert_eq!(xs.len(), counts.len());
                    let total: f64 = xs.iter().zip(counts).map(|(x, c)| x * *c as f64).sum();
                    total / self.n as f64
                };
                statistic(&mean)
            })
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        // A level outside (0, 1) has no meaning; clamped, it can never index past the values
        // (1: the whole range, 0 or less: the median; NaN: the whole range).
        let tail = if self.level.is_nan() {
            0.0
        } else {
            ((1.0 - self.level) / 2.0).clamp(0.0, 0.5)
        };
        let last = values.len() - 1;
        let at = |q: f64| values[((last as f64 * q).round() as usize).min(last)];
        Some(Interval {
            low: at(tail),
            high: at(1.0 - tail),
        })
    }
}

/// The plain mean, for point estimates of the same statistics.
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The q-quantile of sorted values, interpolating linearly between neighbours (NaN when
/// there are none).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (below, above) = (at.floor() as usize, at.ceil() as usize);
    sorted[below] + (sorted[above] - sorted[below]) * (at - below as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(quantile(&xs, 0.0), 1.0);
        assert_eq!(quantile(&xs, 1.0), 4.0);
        assert_eq!(quantile(&xs, 0.25), 1.75);
        assert_eq!(quantile(&xs, 2.0), 4.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn interval_of_a_mean_covers_it_and_shrinks_with_more_prompts() {
        let small: Vec<f64> = (0..20).map(|i| (i % 5) as f64).collect();
        let large: Vec<f64> = (0..2000).map(|i| (i % 5) as f64).collect();
        let a = Bootstrap::new(small.len(), 500, 1, 0.95)
            .interval(|m| m(&small))
            .unwrap();
        let b = Bootstrap::new(large.len(), 500, 1, 0.95)
            .interval(|m| m(&large))
            .unwrap();
        assert!(a.contains(2.0) && b.contains(2.0), "{a:?} {b:?}");
        assert!(b.high - b.low < (a.high - a.low) / 4.0, "{a:?} {b:?}");
    }

    #[test]
    fn paired_statistics_keep_their_pairing() {
        // y = 2x exactly, so y/x is 2 in every resample, whatever prompts are drawn.
        let x: Vec<f64> = (1..50).map(|i| i as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| v * 2.0).collect();
        let ratio = Bootstrap::new(x.len(), 200, 7, 0.9)
            .interval(|m| m(&y) / m(&x))
            .unwrap();
        assert!((ratio.low - 2.0).abs() < 1e-12 && (ratio.high - 2.0).abs() < 1e-12);
    }

    #[test]
    fn any_level_gives_an_interval_inside_the_values() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        for level in [
            2.0,
            1.0,
            0.0,
            -3.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let interval = Bootstrap::new(10, 50, 1, level)
                .interval(|m| m(&x))
                .unwrap();
            assert!(
                (0.0..=9.0).contains(&interval.low) && interval.low <= interval.high,
                "{level}: {interval:?}"
            );
        }
    }

    #[test]
    fn same_seed_same_interval() {
        let x: Vec<f64> = (0..30).map(|i| ((i * 7) % 11) as f64).collect();
        let a = Bootstrap::new(30, 100, 3, 0.95).interval(|m| m(&x));
        let b = Bootstrap::new(30, 100, 3, 0.95).interval(|m| m(&x));
        assert_eq!(a, b);
    }
}
