//! Numbers that compare patterns: Pearson correlation matrices, identification accuracy,
//! diagonal margin, recurrence across controlled inputs, and transfer between models.

use serde::{Deserialize, Serialize};

/// Pearson correlation of two equally long vectors (0 when either is constant).
pub fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let (ma, mb) = (a.iter().map(|&v| v as f64).sum::<f64>() / n as f64, b.iter().map(|&v| v as f64).sum::<f64>() / n as f64);
    let (mut sab, mut saa, mut sbb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (*x as f64 - ma, *y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa <= 0.0 || sbb <= 0.0 { 0.0 } else { (sab / (saa * sbb).sqrt()) as f32 }
}

/// A rows x columns correlation matrix with its summary scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `matrix[i][j]` = correlation of row pattern i with column pattern j.
    pub matrix: Vec<Vec<f32>>,
    /// Share of rows whose best-matching column is their own.
    pub identification: f32,
    /// Mean diagonal minus mean off-diagonal.
    pub margin: f32,
}

impl Comparison {
    pub fn new(rows: &[Vec<f32>], cols: &[Vec<f32>]) -> Self {
        let matrix: Vec<Vec<f32>> = rows.iter().map(|r| cols.iter().map(|c| pearson(r, c)).collect()).collect();
        let n = matrix.len().min(cols.len());
        let hits = (0..n).filter(|&i| best(&matrix[i]) == Some(i)).count();
        let diag: f32 = (0..n).map(|i| matrix[i][i]).sum::<f32>() / n.max(1) as f32;
        let off_count = (matrix.len() * cols.len()).saturating_sub(n);
        let off: f32 = matrix.iter().enumerate().flat_map(|(i, r)| r.iter().enumerate().filter(move |(j, _)| *j != i).map(|(_, v)| *v)).sum::<f32>()
            / off_count.max(1) as f32;
        Self { matrix, identification: hits as f32 / n.max(1) as f32, margin: diag - off }
    }

    /// The column that matches row `i` best.
    pub fn best_match(&self, i: usize) -> Option<usize> {
        best(&self.matrix[i])
    }
}

fn best(row: &[f32]) -> Option<usize> {
    (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
}

/// Identification between every pair of pattern sets: `m[i][j]` = share of set i's patterns
/// whose best match among set j's is the same class (persistence across models or attacks).
pub fn identification_matrix(sets: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    sets.iter().map(|a| sets.iter().map(|b| Comparison::new(a, b).identification).collect()).collect()
}

/// Recurrence: do patterns of the same target from different controlled inputs agree more than
/// patterns of different targets? `per_input[k][t]` is the perturbation (or pattern) of target t
/// from input k.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recurrence {
    /// Mean correlation over pairs (input k, input l != k) with the same target.
    pub same_target: f32,
    /// Mean correlation over pairs with different targets (any inputs).
    pub different_target: f32,
}

pub fn recurrence(per_input: &[Vec<Vec<f32>>]) -> Recurrence {
    let (mut same, mut ns, mut diff, mut nd) = (0.0f64, 0usize, 0.0f64, 0usize);
    for (k, a) in per_input.iter().enumerate() {
        for (l, b) in per_input.iter().enumerate() {
            for (t, pa) in a.iter().enumerate() {
                for (u, pb) in b.iter().enumerate() {
                    if t == u && k < l {
                        same += pearson(pa, pb) as f64;
                        ns += 1;
                    } else if t < u {
                        diff += pearson(pa, pb) as f64;
                        nd += 1;
                    }
                }
            }
        }
    }
    Recurrence { same_target: (same / ns.max(1) as f64) as f32, different_target: (diff / nd.max(1) as f64) as f32 }
}

/// Random perturbations with the same L2 norms as `like`: the null baseline for "the attack
/// finds structure". Each is a Gaussian direction from `seed`, scaled (by bisection) so that,
/// clipped to keep start + perturbation in [0, 1] as the attack's are, it has the L2 norm of the
/// perturbation it stands in for. `like` holds (start, perturbation) pairs.
pub fn random_like(like: &[(Vec<f32>, Vec<f32>)], seed: u64) -> Vec<Vec<f32>> {
    let mut rng = crate::rng::SeededRng::new(seed);
    let l2 = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    like.iter()
        .map(|(start, pert)| {
            let norm = l2(pert);
            let dir: Vec<f32> = (0..pert.len()).map(|_| rng.normal()).collect();
            let unit = l2(&dir).max(1e-12);
            let at = |alpha: f32| -> Vec<f32> { dir.iter().zip(start).map(|(d, s)| (s + d / unit * alpha).clamp(0.0, 1.0) - s).collect() };
            let (mut lo, mut hi) = (0.0f32, norm);
            while l2(&at(hi)) < norm && hi < norm * 64.0 {
                hi *= 2.0;
            }
            for _ in 0..40 {
                let mid = 0.5 * (lo + hi);
                if l2(&at(mid)) < norm { lo = mid } else { hi = mid }
            }
            at(hi)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identification_matrix_is_one_on_the_diagonal_and_sees_shuffles() {
        let t = |i: usize| (0..4).map(|j| if j == i { 1.0 } else { 0.0 }).collect::<Vec<f32>>();
        let a = vec![t(0), t(1), t(2), t(3)];
        let b = vec![t(1), t(0), t(2), t(3)];
        let m = identification_matrix(&[a, b]);
        assert_eq!(m, vec![vec![1.0, 0.5], vec![0.5, 1.0]]);
    }

    #[test]
    fn pearson_known_values() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-6);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-6);
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0);
        assert!(pearson(&[1.0, 0.0, 0.0, 0.0], &[0.0, 1.0, 0.0, 0.0]) < 0.0);
    }

    #[test]
    fn identification_and_margin_on_a_constructed_case() {
        // Three orthogonal one-hot templates; patterns 0 and 1 match their own, pattern 2 matches 0.
        let t = |i: usize| (0..6).map(|j| if j == i { 1.0 } else { 0.0 }).collect::<Vec<f32>>();
        let templates = vec![t(0), t(1), t(2)];
        let patterns = vec![t(0), t(1), t(0)];
        let c = Comparison::new(&patterns, &templates);
        assert!((c.identification - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(c.best_match(2), Some(0));
        // Correlation of distinct one-hots over 6 entries is -0.2.
        let diag = (1.0 + 1.0 - 0.2) / 3.0;
        let off = (4.0 * -0.2 + 1.0 + -0.2) / 6.0;
        assert!((c.margin - (diag - off)).abs() < 1e-5, "{} vs {}", c.margin, diag - off);
        let perfect = Comparison::new(&templates, &templates);
        assert_eq!(perfect.identification, 1.0);
    }

    #[test]
    fn recurrence_separates_same_from_different_targets() {
        let t = |i: usize, noise: f32| (0..8).map(|j| if j == i { 1.0 } else { noise * j as f32 / 8.0 }).collect::<Vec<f32>>();
        let per_input = vec![vec![t(0, 0.0), t(1, 0.0)], vec![t(0, 0.1), t(1, 0.1)]];
        let r = recurrence(&per_input);
        assert!(r.same_target > 0.9 && r.different_target < 0.0, "{r:?}");
    }

    #[test]
    fn random_perturbations_keep_the_norm_even_from_black() {
        let black = vec![0.0f32; 784];
        let pert: Vec<f32> = (0..784).map(|i| if i < 50 { 0.4 } else { 0.0 }).collect();
        let r = random_like(&[(black, pert.clone())], 3);
        let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n(&r[0]) - n(&pert)).abs() < 1e-3 * n(&pert), "{} vs {}", n(&r[0]), n(&pert));
        assert!(r[0].iter().all(|v| *v >= 0.0), "from black only ink can be added");
    }

    #[test]
    fn random_perturbations_keep_the_norm_and_the_range() {
        let start = vec![0.5f32; 784];
        let pert: Vec<f32> = (0..784).map(|i| if i < 10 { 0.3 } else { 0.0 }).collect();
        let r = random_like(&[(start.clone(), pert.clone())], 1);
        let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n(&r[0]) - n(&pert)).abs() < 1e-3);
        assert!(r[0].iter().zip(&start).all(|(p, s)| (0.0..=1.0).contains(&(p + s))));
        assert_ne!(r, random_like(&[(start, pert)], 2));
    }
}
