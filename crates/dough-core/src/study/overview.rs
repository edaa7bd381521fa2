//! The zoo overview: persistence and transfer between every ordered pair of a set of models of
//! one dataset, over several seeds of the controlled inputs, and whether the patterns explain
//! transfer. The page's overview and the CLI (`overview`, `report`) both build it here from the
//! study runs; the forward passes that transfer needs are the caller's (the worker, or
//! `dough_compute::study::transfer_matrix`), which read [`transfer_inputs`] and hand back class
//! probabilities for [`predicted`].

use serde::{Deserialize, Serialize};

use super::pairs::{Persistence, TransferExplained, means, persistence_matrix, transfer_images, transfer_vs_persistence};
use super::stats::Interval;
use super::pipeline::Evolved;
use crate::manifest::ArchKind;
use crate::model::CLASSES;

/// The Mantel tests need at least this many models (three give six ordered pairs).
pub const MIN_MODELS_FOR_MANTEL: usize = 3;

/// The architecture family of a model, for the family-held-fixed test: 0 fully connected, 1 convolutional.
pub fn family(arch: ArchKind) -> usize {
    match arch {
        ArchKind::Mlp => 0,
        ArchKind::Cnn => 1,
    }
}

/// The adversarial examples of a run as another model reads them for transfer: quantised to
/// 8-bit gray as the page shows them, then back to [0, 1] (784 values per sample, one after the
/// other), with their targets.
pub fn transfer_inputs(evolved: &Evolved) -> (Vec<f32>, Vec<usize>) {
    let (bytes, targets) = transfer_images(evolved);
    (bytes.iter().map(|&b| b as f32 / 255.0).collect(), targets)
}

/// The class each block of 10 probabilities (or logits) puts first (the lowest on a tie).
pub fn predicted(scores: &[f32]) -> Vec<usize> {
    scores.chunks(CLASSES).map(|row| (0..row.len()).fold(0, |b, c| if row[c] > row[b] { c } else { b })).collect()
}

/// Persistence and transfer over a set of models, with the transfer-vs-persistence tests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub models: Vec<String>,
    pub families: Vec<usize>,
    pub seeds: Vec<u64>,
    /// `persistence[i][j]`: model i's patterns identified among model j's, over the seeds.
    pub persistence: Vec<Vec<Persistence>>,
    /// `transfer[i][j]`: share of model i's adversarial examples that model j assigns to their
    /// targets, over the seeds.
    pub transfer: Vec<Vec<Interval>>,
    /// Do the patterns explain transfer? (`None` with fewer than [`MIN_MODELS_FOR_MANTEL`] models.)
    pub explained: Option<TransferExplained>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OverviewError {
    #[error("the overview needs at least two models; it got {0}")]
    TooFewModels(usize),
    #[error("model {model} has patterns for {got} seeds where {want} were run")]
    Seeds { model: String, got: usize, want: usize },
    #[error("the transfer matrix of seed {seed} is not {n} x {n}")]
    Transfer { seed: u64, n: usize },
}

impl Overview {
    /// `patterns[model][seed]` holds one pattern per class; `transfer[k][i][j]` the transfer
    /// rate of seed k. The p-values use `permutations` relabellings drawn from `seed`.
    pub fn new(
        models: Vec<String>,
        families: Vec<usize>,
        seeds: Vec<u64>,
        patterns: &[Vec<Vec<Vec<f32>>>],
        transfer: &[Vec<Vec<f32>>],
        permutations: usize,
        seed: u64,
    ) -> Result<Self, OverviewError> {
        let n = models.len();
        if n < 2 || patterns.len() != n {
            return Err(OverviewError::TooFewModels(n.min(patterns.len())));
        }
        if let Some((m, p)) = models.iter().zip(patterns).find(|(_, p)| p.len() != seeds.len()) {
            return Err(OverviewError::Seeds { model: m.clone(), got: p.len(), want: seeds.len() });
        }
        if transfer.len() != seeds.len() {
            return Err(OverviewError::Transfer { seed: seeds.get(transfer.len()).copied().unwrap_or(0), n });
        }
        if let Some(k) = transfer.iter().position(|m| m.len() != n || m.iter().any(|r| r.len() != n)) {
            return Err(OverviewError::Transfer { seed: seeds[k], n });
        }
        let persistence = persistence_matrix(patterns, permutations, seed);
        let transfer: Vec<Vec<Interval>> =
            (0..n).map(|i| (0..n).map(|j| Interval::of(&transfer.iter().map(|m| m[i][j]).collect::<Vec<_>>()).within(0.0, 1.0)).collect()).collect();
        let mut o = Self { models, families, seeds, persistence, transfer, explained: None };
        if n >= MIN_MODELS_FOR_MANTEL {
            o.explained = Some(transfer_vs_persistence(&o.persistence_means(), &o.transfer_means(), &o.families, permutations, seed));
        }
        Ok(o)
    }

    /// The overview from every run's perturbations (the page's worker): `perturbations` holds
    /// `[model][seed][row]`, 784 values each, `rows` rows per run laid out start-major as
    /// `pipeline::batch` lays them; the patterns are [`Evolved::patterns`]'s (one per target over
    /// the run's inputs), then [`Overview::new`].
    #[allow(clippy::too_many_arguments)]
    pub fn from_perturbations(
        models: Vec<String>,
        families: Vec<usize>,
        seeds: Vec<u64>,
        perturbations: &[f32],
        rows: usize,
        transfer: &[Vec<Vec<f32>>],
        abs: &super::abstraction::Abstraction,
        permutations: usize,
        seed: u64,
    ) -> Result<Self, String> {
        let per_run = rows * crate::model::PIXELS;
        let want = models.len() * seeds.len() * per_run;
        if perturbations.len() != want || rows % CLASSES != 0 || rows == 0 {
            return Err(format!("{} perturbation values for {} models x {} seeds x {rows} rows", perturbations.len(), models.len(), seeds.len()));
        }
        let patterns: Vec<Vec<Vec<Vec<f32>>>> = (0..models.len())
            .map(|m| {
                (0..seeds.len())
                    .map(|k| {
                        let run = &perturbations[(m * seeds.len() + k) * per_run..][..per_run];
                        (0..CLASSES)
                            .map(|t| {
                                let of_target: Vec<Vec<f32>> = (0..rows / CLASSES).map(|i| run[(i * CLASSES + t) * crate::model::PIXELS..][..crate::model::PIXELS].to_vec()).collect();
                                abs.pattern(&of_target)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Self::new(models, families, seeds, &patterns, transfer, permutations, seed).map_err(|e| e.to_string())
    }

    /// Mean identification between the patterns of each ordered pair.
    pub fn persistence_means(&self) -> Vec<Vec<f32>> {
        means(&self.persistence.iter().map(|r| r.iter().map(|p| p.identification).collect()).collect::<Vec<_>>())
    }

    /// Mean transfer rate of each ordered pair.
    pub fn transfer_means(&self) -> Vec<Vec<f32>> {
        means(&self.transfer)
    }

    /// One line per ordered pair (model A, model B): persistence of A's patterns among B's and
    /// the share of A's adversarial examples that B assigns to their targets, with intervals.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("model_a,model_b,same_family,persistence,persistence_lo,persistence_hi,persistence_p,margin,transfer,transfer_lo,transfer_hi,seeds\n");
        for (i, a) in self.models.iter().enumerate() {
            for (j, b) in self.models.iter().enumerate() {
                let (p, t) = (&self.persistence[i][j], &self.transfer[i][j]);
                out += &format!(
                    "{a},{b},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{}\n",
                    self.families[i] == self.families[j],
                    p.identification.mean,
                    p.identification.lo,
                    p.identification.hi,
                    p.p_value,
                    p.margin.mean,
                    t.mean,
                    t.lo,
                    t.hi,
                    self.seeds.len()
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::SampleOutcome;
    use crate::model::PIXELS;
    use crate::study::stats::PERMUTATIONS;

    fn onehot(i: usize) -> Vec<f32> {
        (0..20).map(|j| if j == i { 1.0 } else { 0.0 }).collect()
    }

    /// The worker's overview from flat perturbations equals the one from the runs' patterns.
    #[test]
    fn from_perturbations_equals_the_overview_of_the_runs() {
        use crate::study::abstraction::{Abstraction, PatternMethod};
        let mut rng = crate::rng::SeededRng::new(5);
        let run = |rng: &mut crate::rng::SeededRng| Evolved {
            per_input: (0..3)
                .map(|_| {
                    (0..CLASSES)
                        .map(|t| {
                            let start: Vec<f32> = (0..PIXELS).map(|_| rng.next_f32()).collect();
                            let adversarial = start.iter().map(|s| s + rng.next_f32() - 0.5).collect();
                            SampleOutcome { target: t, start, adversarial, predicted: t, confidence: 0.9, steps: 3, l2: 1.0, linf: 0.5, l0: 9, reached: true, away: false }
                        })
                        .collect()
                })
                .collect(),
        };
        let runs: Vec<Vec<Evolved>> = (0..3).map(|_| (0..2).map(|_| run(&mut rng)).collect()).collect();
        let abs = Abstraction { method: PatternMethod::MeanUnit, sigma: 1.0 };
        let transfer = vec![vec![vec![0.5, 0.2, 0.1], vec![0.3, 0.6, 0.2], vec![0.1, 0.4, 0.9]]; 2];
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let patterns: Vec<Vec<Vec<Vec<f32>>>> = runs.iter().map(|r| r.iter().map(|e| e.patterns(&abs)).collect()).collect();
        let want = Overview::new(names.clone(), vec![0, 0, 1], vec![1, 2], &patterns, &transfer, 99, 4).unwrap();
        let flat: Vec<f32> = runs.iter().flatten().flat_map(|e| e.per_input.iter().flatten().flat_map(|o| o.perturbation())).collect();
        let got = Overview::from_perturbations(names, vec![0, 0, 1], vec![1, 2], &flat, 30, &transfer, &abs, 99, 4).unwrap();
        assert_eq!(got, want);
        assert!(Overview::from_perturbations(vec!["a".into(), "b".into()], vec![0, 0], vec![1], &flat[..10], 30, &transfer[..1], &abs, 99, 4).is_err());
    }

    #[test]
    fn predicted_takes_the_first_largest() {
        let mut p = vec![0.0; 20];
        p[3] = 0.9;
        p[10 + 7] = 0.5;
        p[10 + 2] = 0.5;
        assert_eq!(predicted(&p), vec![3, 2]);
    }

    #[test]
    fn transfer_inputs_are_the_quantised_images() {
        let o = |t: usize, v: f32| SampleOutcome {
            target: t,
            start: vec![0.0; PIXELS],
            adversarial: vec![v; PIXELS],
            predicted: t,
            confidence: 0.9,
            steps: 1,
            l2: 0.0,
            linf: 0.0,
            l0: 0,
            reached: true,
            away: false,
        };
        let e = Evolved { per_input: vec![vec![o(0, 0.3), o(1, 1.5)]] };
        let (x, t) = transfer_inputs(&e);
        assert_eq!((x.len(), t), (2 * PIXELS, vec![0, 1]));
        assert_eq!(x[0], 77.0 / 255.0, "0.3 rounds to 77 of 255");
        assert_eq!(x[PIXELS], 1.0, "clamped");
    }

    #[test]
    fn overview_of_planted_models() {
        // Models a and b share their patterns and fool each other; c has shifted patterns and
        // is fooled by nobody else.
        let own: Vec<Vec<f32>> = (0..10).map(onehot).collect();
        let shifted: Vec<Vec<f32>> = (0..10).map(|c| onehot((c + 3) % 10)).collect();
        let patterns = vec![vec![own.clone(), own.clone()], vec![own.clone(), own], vec![shifted.clone(), shifted]];
        let names = || vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let t = |x: f32| vec![vec![1.0, 0.8, 0.1], vec![0.7, 1.0, 0.0], vec![x, 0.1, 1.0]];
        let o = Overview::new(names(), vec![0, 0, 1], vec![0, 1000], &patterns, &[t(0.0), t(0.2)], 999, 5).unwrap();
        let p = o.persistence_means();
        assert_eq!((p[0][1], p[1][0], p[0][2], p[2][2]), (1.0, 1.0, 0.0, 1.0));
        assert!(o.persistence[0][1].p_value < 0.01 && o.persistence[2][0].p_value == 1.0);
        let tr = o.transfer_means();
        assert!((tr[2][0] - 0.1).abs() < 1e-6 && tr[0][1] == 0.8);
        assert!(o.transfer[2][0].lo < 1e-6 && o.transfer[2][0].hi > 0.1, "{:?}", o.transfer[2][0]);
        let ex = o.explained.clone().unwrap();
        assert_eq!(ex.points.len(), 6);
        assert!(ex.all.rho > 0.5, "{:?}", ex.all);
        let csv = o.to_csv();
        assert_eq!(csv.lines().count(), 1 + 9);
        assert!(csv.lines().nth(3).unwrap().starts_with("a,c,false,0.000000,"), "{csv}");
        assert!(csv.lines().nth(7).unwrap().starts_with("c,a,false,0.000000,0.000000,0.000000,1.000000,"), "{csv}");
        // Two models: no Mantel test. Too few models or mismatched inputs are errors, not panics.
        let first_seed: Vec<_> = patterns[..2].iter().map(|p| p[..1].to_vec()).collect();
        let two = Overview::new(vec!["a".into(), "b".into()], vec![0, 0], vec![0], &first_seed, &[vec![vec![1.0, 0.5], vec![0.5, 1.0]]], PERMUTATIONS, 0).unwrap();
        assert!(two.explained.is_none());
        assert_eq!(Overview::new(vec!["a".into()], vec![0], vec![0], &patterns[..1], &[], 9, 0), Err(OverviewError::TooFewModels(1)));
        assert!(matches!(Overview::new(names(), vec![0, 0, 1], vec![0], &patterns, &[t(0.0)], 9, 0), Err(OverviewError::Seeds { .. })));
        assert_eq!(Overview::new(names(), vec![0, 0, 1], vec![0, 1], &patterns, &[t(0.0), vec![vec![1.0]]], 9, 0), Err(OverviewError::Transfer { seed: 1, n: 3 }));
    }
}
