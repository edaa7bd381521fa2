//! Between models: persistence (does model A's pattern of each class match model B's pattern of
//! the same class?) and transfer (does B assign A's adversarial examples to their targets?), over
//! seeds, and the seed study's fourth claim: do the patterns explain transfer? The forward passes
//! that transfer needs are the caller's (`dough_compute::study::transfer_matrix`, or the worker).

use serde::{Deserialize, Serialize};

use super::metrics::Comparison;
use super::pipeline::Evolved;
use super::stats::{Interval, Mantel, identification_p_value, mantel};

/// Persistence between two models: identification of A's patterns among B's, per seed, as an
/// interval, with its permutation p-value. `a[k]` and `b[k]` are the patterns of seed k.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Persistence {
    pub identification: Interval,
    pub margin: Interval,
    pub p_value: f32,
}

pub fn persistence(a: &[Vec<Vec<f32>>], b: &[Vec<Vec<f32>>], permutations: usize, seed: u64) -> Persistence {
    let c: Vec<Comparison> = a.iter().zip(b).map(|(a, b)| Comparison::new(a, b)).collect();
    let best: Vec<Vec<usize>> = c.iter().map(|c| (0..c.matrix.len()).map(|i| c.best_match(i).unwrap_or(usize::MAX)).collect()).collect();
    Persistence {
        identification: Interval::of(&c.iter().map(|c| c.identification).collect::<Vec<_>>()).within(0.0, 1.0),
        margin: Interval::of(&c.iter().map(|c| c.margin).collect::<Vec<_>>()),
        p_value: identification_p_value(&best, permutations, seed),
    }
}

/// `m[i][j]`: persistence of model i's patterns among model j's. `patterns[model][seed]` holds
/// one pattern per class.
pub fn persistence_matrix(patterns: &[Vec<Vec<Vec<f32>>>], permutations: usize, seed: u64) -> Vec<Vec<Persistence>> {
    patterns.iter().map(|a| patterns.iter().map(|b| persistence(a, b, permutations, seed)).collect()).collect()
}

/// The adversarial examples of a study run as the page shows them (8-bit gray, row-major, one
/// image per sample) and their targets: what another model is asked to classify for transfer.
pub fn transfer_images(evolved: &Evolved) -> (Vec<u8>, Vec<usize>) {
    let samples: Vec<_> = evolved.per_input.iter().flatten().collect();
    let bytes = samples.iter().flat_map(|o| o.adversarial.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)).collect();
    (bytes, samples.iter().map(|o| o.target).collect())
}

/// Share of the predictions that equal their targets.
pub fn transfer_rate(predicted: &[usize], targets: &[usize]) -> f32 {
    predicted.iter().zip(targets).filter(|(p, t)| p == t).count() as f32 / targets.len().max(1) as f32
}

/// The means of a matrix of intervals.
pub fn means(m: &[Vec<Interval>]) -> Vec<Vec<f32>> {
    m.iter().map(|r| r.iter().map(|i| i.mean).collect()).collect()
}

/// Pattern similarity against transfer over the ordered pairs of models: across all pairs, with
/// the family held fixed (labels permuted within families), and within each family alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferExplained {
    pub all: Mantel,
    pub family_held: Mantel,
    /// (family, its own test), in the order of `families`' first appearance.
    pub within: Vec<(usize, Mantel)>,
    /// (persistence, transfer, same family) per ordered pair, for the scatter plot.
    pub points: Vec<(f32, f32, bool)>,
}

pub fn transfer_vs_persistence(persistence: &[Vec<f32>], transfer: &[Vec<f32>], families: &[usize], permutations: usize, seed: u64) -> TransferExplained {
    let n = persistence.len();
    let mut fams: Vec<usize> = Vec::new();
    for f in families {
        if !fams.contains(f) {
            fams.push(*f);
        }
    }
    let points = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| (persistence[i][j], transfer[i][j], families[i] == families[j])).collect();
    TransferExplained {
        all: mantel(persistence, transfer, None, &|_, _| true, permutations, seed),
        family_held: mantel(persistence, transfer, Some(families), &|_, _| true, permutations, seed),
        within: fams.iter().map(|&f| (f, mantel(persistence, transfer, Some(families), &|i, j| families[i] == f && families[j] == f, permutations, seed))).collect(),
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::SampleOutcome;
    use crate::rng::SeededRng;

    fn onehot(i: usize) -> Vec<f32> {
        (0..20).map(|j| if j == i { 1.0 } else { 0.0 }).collect()
    }

    #[test]
    fn persistence_of_identical_and_of_unrelated_patterns() {
        let own: Vec<Vec<f32>> = (0..10).map(onehot).collect();
        let shifted: Vec<Vec<f32>> = (0..10).map(|c| onehot((c + 1) % 10)).collect();
        let same = persistence(&[own.clone(), own.clone()], &[own.clone(), own.clone()], 999, 1);
        assert_eq!(same.identification.mean, 1.0);
        assert!(same.p_value < 0.01);
        let other = persistence(std::slice::from_ref(&own), &[shifted], 999, 1);
        assert_eq!((other.identification.mean, other.p_value), (0.0, 1.0));
        let m = persistence_matrix(&[vec![own.clone()], vec![own]], 99, 1);
        assert_eq!(means(&m.iter().map(|r| r.iter().map(|p| p.identification).collect()).collect::<Vec<_>>()), vec![vec![1.0; 2]; 2]);
    }

    #[test]
    fn transfer_images_quantise_like_the_page_and_keep_targets() {
        let o = |t: usize, v: f32| SampleOutcome {
            target: t,
            start: vec![0.0; 784],
            adversarial: vec![v; 784],
            predicted: t,
            confidence: 0.9,
            steps: 1,
            l2: 0.0,
            linf: 0.0,
            l0: 0,
            reached: true,
            away: false,
        };
        let e = Evolved { per_input: vec![vec![o(0, 0.5), o(1, 1.2)], vec![o(0, -0.1), o(1, 0.2)]] };
        let (bytes, targets) = transfer_images(&e);
        assert_eq!(targets, vec![0, 1, 0, 1]);
        assert_eq!((bytes[0], bytes[784], bytes[2 * 784], bytes[3 * 784]), (128, 255, 0, 51));
        assert_eq!(transfer_rate(&[0, 1, 1, 1], &targets), 0.75);
    }

    #[test]
    fn transfer_explained_by_planted_persistence() {
        let mut rng = SeededRng::new(4);
        let families = [0, 0, 0, 0, 1, 1, 1, 1];
        let p: Vec<Vec<f32>> = (0..8).map(|_| (0..8).map(|_| rng.next_f32()).collect()).collect();
        let t: Vec<Vec<f32>> = p.iter().map(|r| r.iter().map(|v| 0.5 * v + 0.05 * rng.next_f32()).collect()).collect();
        let e = transfer_vs_persistence(&p, &t, &families, 999, 2);
        assert_eq!(e.points.len(), 56);
        assert_eq!(e.points.iter().filter(|p| p.2).count(), 24);
        assert!(e.all.rho > 0.9 && e.all.p_value < 0.01, "{:?}", e.all);
        assert!(e.family_held.p_value < 0.01, "{:?}", e.family_held);
        assert_eq!(e.within.len(), 2);
        assert!(e.within.iter().all(|(_, m)| m.pairs == 12 && m.rho > 0.8), "{:?}", e.within);
    }
}
