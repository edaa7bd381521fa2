//! Uncertainty for the study's numbers: 95% intervals over seeds (Student t), rank correlation
//! (Spearman), the permutation p-value of identification against shuffled class labels, and a
//! Mantel test between two model-by-model matrices, optionally with the permutations kept
//! within strata (architecture families). Every random draw comes from a seed.

use serde::{Deserialize, Serialize};

use super::metrics::pearson;
use crate::rng::SeededRng;

/// Permutations behind every p-value of the study (p >= 1 / 10,000).
pub const PERMUTATIONS: usize = 9_999;

/// A mean with its 95% interval over `n` replicates (Student t on the sample standard deviation;
/// with one replicate the interval is the value itself).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub mean: f32,
    pub lo: f32,
    pub hi: f32,
    pub n: usize,
}

impl Interval {
    pub fn of(values: &[f32]) -> Self {
        let n = values.len();
        if n == 0 {
            return Self { mean: f32::NAN, lo: f32::NAN, hi: f32::NAN, n };
        }
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        if n == 1 {
            return Self { mean: mean as f32, lo: mean as f32, hi: mean as f32, n };
        }
        let var = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t975(n - 1) * (var / n as f64).sqrt();
        Self { mean: mean as f32, lo: (mean - half) as f32, hi: (mean + half) as f32, n }
    }

    /// The same interval cut to [lo, hi] (shares cannot leave [0, 1]).
    pub fn within(self, lo: f32, hi: f32) -> Self {
        Self { lo: self.lo.max(lo), hi: self.hi.min(hi), ..self }
    }

    pub fn contains(&self, v: f32) -> bool {
        self.lo <= v && v <= self.hi
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (df >= 1).
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110,
        2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => T[df - 1],
        31..=60 => 2.042 - (df - 30) as f64 * (2.042 - 2.000) / 30.0,
        61..=120 => 2.000 - (df - 60) as f64 * (2.000 - 1.980) / 60.0,
        _ => 1.960,
    }
}

/// Ranks from 1, ties sharing their mean rank.
pub fn ranks(v: &[f32]) -> Vec<f32> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0f32; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f32 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            r[*k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation (Pearson on tie-averaged ranks; 0 when either side is constant).
pub fn spearman(a: &[f32], b: &[f32]) -> f32 {
    pearson(&ranks(a), &ranks(b))
}

/// A p-value of [`PERMUTATIONS`] permutations as the page and the report print it: at its floor
/// (no permutation did as well) "≤ 0.0001", below 0.01 with four decimals, else two.
pub fn p_label(p: f32) -> String {
    let floor = 1.0 / (PERMUTATIONS + 1) as f32;
    if p <= floor * 1.5 { format!("≤ {floor:.4}") } else if p < 0.01 { format!("{p:.4}") } else { format!("{p:.2}") }
}

/// A permutation p-value: (1 + hits) / (1 + permutations), never 0.
fn p_value(hits: usize, permutations: usize) -> f32 {
    (1 + hits) as f32 / (1 + permutations) as f32
}

/// How often a random relabelling of the classes identifies at least as many classes as the real
/// labels do. `best[s][c]` is the class whose template matched class c's pattern best in replicate
/// s; one permutation relabels every replicate alike, and the statistic is the mean over replicates
/// of the share of classes identified.
pub fn identification_p_value(best: &[Vec<usize>], permutations: usize, seed: u64) -> f32 {
    let classes = best.first().map_or(0, |b| b.len());
    if classes == 0 || permutations == 0 {
        return 1.0;
    }
    let hits_of = |labels: &[usize]| -> usize { best.iter().map(|b| b.iter().zip(labels).filter(|(m, l)| m == l).count()).sum() };
    let observed = hits_of(&(0..classes).collect::<Vec<_>>());
    let mut rng = SeededRng::new(seed);
    let mut labels: Vec<usize> = (0..classes).collect();
    let mut hits = 0;
    for _ in 0..permutations {
        rng.shuffle(&mut labels);
        if hits_of(&labels) >= observed {
            hits += 1;
        }
    }
    p_value(hits, permutations)
}

/// The result of a Mantel test: Spearman's rho over the compared pairs, and the one-sided
/// permutation p-value for an association at least this positive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mantel {
    pub rho: f32,
    pub p_value: f32,
    /// Ordered pairs (i, j), i != j, that entered.
    pub pairs: usize,
    pub permutations: usize,
}

/// Mantel test between two square matrices over the ordered pairs (i, j), i != j, that `keep`
/// accepts: Spearman's rho of `a[i][j]` against `b[i][j]`, and how often relabelling the models
/// of `b` (rows and columns together) gives a rho at least as large. With `strata`, labels move
/// only within their stratum (a family held fixed: the partial, stratified test).
pub fn mantel(a: &[Vec<f32>], b: &[Vec<f32>], strata: Option<&[usize]>, keep: &dyn Fn(usize, usize) -> bool, permutations: usize, seed: u64) -> Mantel {
    let n = a.len().min(b.len());
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).filter(|&(i, j)| i != j && keep(i, j)).collect();
    let xs: Vec<f32> = pairs.iter().map(|&(i, j)| a[i][j]).collect();
    let rho_of = |perm: &[usize]| spearman(&xs, &pairs.iter().map(|&(i, j)| b[perm[i]][perm[j]]).collect::<Vec<_>>());
    let identity: Vec<usize> = (0..n).collect();
    let rho = rho_of(&identity);
    let groups: Vec<Vec<usize>> = match strata {
        Some(s) => {
            let mut g: Vec<Vec<usize>> = Vec::new();
            let mut keys: Vec<usize> = Vec::new();
            for (i, key) in s.iter().take(n).enumerate() {
                match keys.iter().position(|k| k == key) {
                    Some(p) => g[p].push(i),
                    None => {
                        keys.push(*key);
                        g.push(vec![i]);
                    }
                }
            }
            g
        }
        None => vec![identity.clone()],
    };
    let mut rng = SeededRng::new(seed);
    let mut hits = 0;
    for _ in 0..permutations {
        let mut perm = identity.clone();
        for g in &groups {
            let mut moved = g.clone();
            rng.shuffle(&mut moved);
            for (from, to) in g.iter().zip(moved) {
                perm[*from] = to;
            }
        }
        if rho_of(&perm) >= rho - 1e-6 {
            hits += 1;
        }
    }
    Mantel { rho, p_value: p_value(hits, permutations), pairs: pairs.len(), permutations }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_covers_a_planted_mean_about_95_percent_of_the_time() {
        let mut rng = SeededRng::new(11);
        let (trials, mut covered) = (2000, 0);
        for _ in 0..trials {
            let draws: Vec<f32> = (0..5).map(|_| 0.7 + 0.1 * rng.normal()).collect();
            let i = Interval::of(&draws);
            assert!(i.lo <= i.mean && i.mean <= i.hi && i.n == 5);
            covered += i.contains(0.7) as usize;
        }
        let rate = covered as f32 / trials as f32;
        assert!((0.93..=0.97).contains(&rate), "coverage {rate}");
    }

    #[test]
    fn interval_edge_cases() {
        let one = Interval::of(&[0.4]);
        assert_eq!((one.lo, one.mean, one.hi), (0.4, 0.4, 0.4));
        let same = Interval::of(&[0.2, 0.2, 0.2]);
        assert!((same.lo - 0.2).abs() < 1e-6 && (same.hi - 0.2).abs() < 1e-6);
        let wide = Interval::of(&[0.0, 1.0]).within(0.0, 1.0);
        assert_eq!((wide.lo, wide.hi), (0.0, 1.0));
        assert!(Interval::of(&[]).mean.is_nan());
    }

    #[test]
    fn p_labels() {
        assert_eq!(p_label(1.0 / 10_000.0), "≤ 0.0001");
        assert_eq!(p_label(0.0042), "0.0042");
        assert_eq!(p_label(0.5), "0.50");
    }

    #[test]
    fn spearman_known_values_and_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 2.0, 1.0]), vec![4.0, 1.5, 3.0, 1.5]);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 4.0, 9.0, 16.0]) - 1.0).abs() < 1e-6, "monotone is 1");
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[8.0, 4.0, 2.0, 1.0]) + 1.0).abs() < 1e-6);
        // A textbook case: d^2 sums to 4, rho = 1 - 6 * 4 / (5 * 24) = 0.8.
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 3.0, 2.0, 5.0, 4.0]) - 0.8).abs() < 1e-6);
    }

    #[test]
    fn identification_p_value_is_tiny_for_planted_labels_and_one_for_none() {
        let planted = vec![(0..10).collect::<Vec<usize>>(); 3];
        let p = identification_p_value(&planted, 999, 1);
        assert!((p - 0.001).abs() < 1e-6, "every class identified in every replicate: p = {p}");
        // Every class matches the next class's template: nothing identified, any relabelling ties.
        let shifted = vec![(0..10).map(|c| (c + 1) % 10).collect::<Vec<usize>>(); 3];
        assert_eq!(identification_p_value(&shifted, 999, 1), 1.0);
        // Two classes of ten identified is what chance gives now and then.
        let two: Vec<usize> = vec![0, 1, 3, 2, 5, 4, 7, 6, 9, 8];
        let p2 = identification_p_value(&[two], 4999, 2);
        assert!((0.15..0.40).contains(&p2), "p = {p2}");
    }

    fn random_matrix(n: usize, rng: &mut SeededRng) -> Vec<Vec<f32>> {
        (0..n).map(|_| (0..n).map(|_| rng.next_f32()).collect()).collect()
    }

    #[test]
    fn mantel_finds_a_planted_relation_and_not_an_absent_one() {
        let mut rng = SeededRng::new(5);
        let a = random_matrix(8, &mut rng);
        let b: Vec<Vec<f32>> = a.iter().map(|r| r.iter().map(|v| v * v + 0.01 * rng.next_f32()).collect()).collect();
        let m = mantel(&a, &b, None, &|_, _| true, 999, 3);
        assert_eq!(m.pairs, 56);
        assert!(m.rho > 0.95 && m.p_value < 0.01, "{m:?}");
        // Unrelated matrices: the p-value is spread over (0, 1]; averaged over draws it is near 0.5.
        let mean_p: f32 = (0..20)
            .map(|k| {
                let (x, y) = (random_matrix(8, &mut rng), random_matrix(8, &mut rng));
                mantel(&x, &y, None, &|_, _| true, 199, k).p_value
            })
            .sum::<f32>()
            / 20.0;
        assert!((0.3..0.7).contains(&mean_p), "mean p {mean_p}");
    }

    #[test]
    fn the_stratified_mantel_test_holds_the_family_fixed() {
        // Two families; both matrices are high within a family and low across, plus independent
        // noise: the plain test sees an association, the stratified one (labels move only within
        // their family) sees none.
        let strata = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
        let mut rng = SeededRng::new(9);
        let mut make = || -> Vec<Vec<f32>> {
            (0..10).map(|i| (0..10).map(|j| if strata[i] == strata[j] { 1.0 } else { 0.0 } + 0.3 * rng.next_f32()).collect()).collect()
        };
        let mut held = Vec::new();
        for k in 0..12 {
            let (a, b) = (make(), make());
            let plain = mantel(&a, &b, None, &|_, _| true, 299, k);
            assert!(plain.rho > 0.5 && plain.p_value < 0.05, "{plain:?}");
            held.push(mantel(&a, &b, Some(&strata), &|_, _| true, 299, k).p_value);
        }
        let mean_held = held.iter().sum::<f32>() / held.len() as f32;
        assert!((0.25..0.75).contains(&mean_held), "stratified p-values {held:?}");
        let (a, b) = (make(), make());
        let within = mantel(&a, &b, Some(&strata), &|i, j| strata[i] == strata[j], 199, 1);
        assert_eq!(within.pairs, 40);
        assert!(within.rho.abs() < 0.5, "{within:?}");
    }
}
