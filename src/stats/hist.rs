//! Exact medians and percentiles from value → count histograms: the
//! rollups keep whole seconds, so a year of sessions is a few thousand
//! buckets, not a million values.

use std::collections::BTreeMap;

/// Whole seconds → how many times they occurred.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Histogram(pub BTreeMap<i64, u64>);

impl Histogram {
    pub fn add(&mut self, value: i64, n: u64) {
        if n > 0 {
            *self.0.entry(value).or_default() += n;
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (&v, &n) in &other.0 {
            self.add(v, n);
        }
    }

    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// The value of rank `k` (1-based) in ascending order.
    fn at_rank(&self, k: u64) -> Option<i64> {
        let mut seen = 0;
        for (&v, &n) in &self.0 {
            seen += n;
            if seen >= k {
                return Some(v);
            }
        }
        None
    }

    /// The median: the middle value, or the mean of the two middle values
    /// of an even count; `None` when empty.
    pub fn median(&self) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let lo = self.at_rank(n.div_ceil(2))?;
        let hi = self.at_rank(n / 2 + 1)?;
        Some((lo as f64 + hi as f64) / 2.0)
    }

    /// The 90th percentile by nearest rank: the smallest value with at
    /// least 90 % of the values at or below it; `None` when empty.
    pub fn p90(&self) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        // ceil(0.9 n) in integers.
        self.at_rank((9 * n).div_ceil(10)).map(|v| v as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[i64]) -> Histogram {
        let mut h = Histogram::default();
        for &v in values {
            h.add(v, 1);
        }
        h
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(of(&[]).median(), None);
        assert_eq!(of(&[7]).median(), Some(7.0));
        assert_eq!(of(&[30, 10, 20]).median(), Some(20.0));
        assert_eq!(of(&[10, 20, 30, 41]).median(), Some(25.0));
        assert_eq!(of(&[5, 5, 5, 100]).median(), Some(5.0));
        assert_eq!(of(&[1, 2]).median(), Some(1.5));
    }

    #[test]
    fn p90_by_nearest_rank() {
        assert_eq!(of(&[]).p90(), None);
        assert_eq!(of(&[3]).p90(), Some(3.0));
        // 10 values: rank 9.
        assert_eq!(of(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).p90(), Some(9.0));
        // 11 values: rank ceil(9.9) = 10.
        assert_eq!(of(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]).p90(), Some(10.0));
        // 3 values: rank ceil(2.7) = 3.
        assert_eq!(of(&[10, 20, 30]).p90(), Some(30.0));
    }

    #[test]
    fn counts_weigh_like_repeated_values() {
        let mut h = Histogram::default();
        h.add(10, 3);
        h.add(50, 1);
        h.add(99, 0);
        assert_eq!(h.count(), 4);
        assert_eq!(h.median(), Some(10.0));
        // 10, 10, 10, 50, 50, 50: the mean of the third and fourth.
        let mut m = of(&[50, 50]);
        m.merge(&h);
        assert_eq!(m.median(), Some(30.0));
    }
}
