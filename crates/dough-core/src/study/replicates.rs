//! The study over several seeds of its controlled inputs: each score as a mean with its 95%
//! interval over the seeds, and identification's permutation p-value against shuffled class
//! labels. The page (fewer seeds, their count shown) and the report share it.

use serde::{Deserialize, Serialize};

use super::abstraction::Abstraction;
use super::pipeline::{Analysis, Evolved, StudyResult};
pub use super::stats::PERMUTATIONS;
use super::stats::{Interval, identification_p_value};

/// The seeds of `n` replicates from a base seed. They lie 1,000 apart because one run draws its
/// noise inputs from its seed and the next two.
pub fn replicate_seeds(base: u64, n: usize) -> Vec<u64> {
    (0..n as u64).map(|k| base.wrapping_add(1_000 * k)).collect()
}

/// One set of analyses (the model's, or a null's) summarised over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub identification: Interval,
    pub margin: Interval,
    pub recurrence_same: Interval,
    pub recurrence_different: Interval,
    pub reached: Interval,
    /// Share of random relabellings of the templates that identify at least as many classes.
    pub p_value: f32,
}

impl Scores {
    pub fn of(analyses: &[&Analysis], permutations: usize, seed: u64) -> Self {
        let over = |f: &dyn Fn(&Analysis) -> f32| Interval::of(&analyses.iter().map(|a| f(a)).collect::<Vec<_>>());
        let best: Vec<Vec<usize>> = analyses.iter().map(|a| a.best_matches()).collect();
        Self {
            identification: over(&|a| a.vs_dataset.identification).within(0.0, 1.0),
            margin: over(&|a| a.vs_dataset.margin),
            recurrence_same: over(&|a| a.recurrence.same_target),
            recurrence_different: over(&|a| a.recurrence.different_target),
            reached: over(&|a| a.reached).within(0.0, 1.0),
            p_value: identification_p_value(&best, permutations, seed),
        }
    }
}

/// The study of one network over several seeds, with its nulls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replicated {
    pub seeds: Vec<u64>,
    pub model: Scores,
    pub random_null: Scores,
    pub untrained_null: Option<Scores>,
}

impl Replicated {
    /// `results[k]` is the study with seed `seeds[k]`.
    pub fn new(seeds: &[u64], results: &[StudyResult], permutations: usize) -> Self {
        let seed = seeds.first().copied().unwrap_or(0);
        let untrained: Vec<&Analysis> = results.iter().filter_map(|r| r.untrained_null.as_ref()).collect();
        Self {
            seeds: seeds.to_vec(),
            model: Scores::of(&results.iter().map(|r| &r.model).collect::<Vec<_>>(), permutations, seed),
            random_null: Scores::of(&results.iter().map(|r| &r.random_null).collect::<Vec<_>>(), permutations, seed),
            untrained_null: (untrained.len() == results.len() && !untrained.is_empty()).then(|| Scores::of(&untrained, permutations, seed)),
        }
    }
}

/// The study's statistics of the page's runs, one per seed of the controlled inputs (the
/// model's outcomes and, when run, its untrained twin's): the first seed's study (the one shown)
/// and, with more than one seed, the scores over the seeds. The worker computes this; the CLI's
/// `study` and `report` compose the same two functions, [`super::pipeline::study`] and
/// [`Replicated::new`].
pub fn study_of_runs(runs: &[(u64, &Evolved, Option<&Evolved>)], abs: &Abstraction, templates: &[Vec<f32>]) -> Option<(StudyResult, Option<Replicated>)> {
    let results: Vec<StudyResult> = runs.iter().map(|(seed, t, u)| super::pipeline::study(t, *u, abs, templates, *seed)).collect();
    let first = results.first()?.clone();
    let replicated = (results.len() > 1).then(|| {
        let seeds: Vec<u64> = runs.iter().map(|(s, _, _)| *s).collect();
        Replicated::new(&seeds, &results, PERMUTATIONS)
    });
    Some((first, replicated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::metrics::{Comparison, Recurrence};

    fn analysis(best: &[usize], margin: f32) -> Analysis {
        // A correlation matrix whose row c peaks at column best[c].
        let matrix: Vec<Vec<f32>> = best.iter().map(|&b| (0..10).map(|j| if j == b { 0.9 } else { 0.1 }).collect()).collect();
        let identification = best.iter().enumerate().filter(|(c, b)| c == *b).count() as f32 / 10.0;
        Analysis {
            vs_dataset: Comparison { matrix, identification, margin },
            recurrence: Recurrence { same_target: 0.5, different_target: 0.0 },
            reached: 1.0,
        }
    }

    #[test]
    fn seeds_do_not_share_noise_inputs() {
        let s = replicate_seeds(7, 5);
        assert_eq!(s, vec![7, 1007, 2007, 3007, 4007]);
        for (i, a) in s.iter().enumerate() {
            for b in &s[i + 1..] {
                assert!(b - a > 2, "runs draw noise from seed, seed + 1 and seed + 2");
            }
        }
    }

    #[test]
    fn planted_identification_is_significant_and_its_interval_covers_it() {
        let perfect: Vec<usize> = (0..10).collect();
        let nine: Vec<usize> = vec![1, 0, 2, 3, 4, 5, 6, 7, 8, 9];
        let a = [analysis(&perfect, 0.5), analysis(&nine, 0.4), analysis(&perfect, 0.6)];
        let s = Scores::of(&a.iter().collect::<Vec<_>>(), 999, 1);
        assert!((s.identification.mean - (1.0 + 0.8 + 1.0) / 3.0).abs() < 1e-6);
        assert!(s.identification.hi <= 1.0 && s.identification.lo < s.identification.mean);
        assert!(s.margin.contains(0.5) && s.margin.n == 3);
        assert!(s.p_value < 0.01, "{}", s.p_value);
        // Patterns that always match the next class: nothing identified, p = 1.
        let next: Vec<usize> = (0..10).map(|c| (c + 1) % 10).collect();
        let b = [analysis(&next, -0.1), analysis(&next, -0.2)];
        assert_eq!(Scores::of(&b.iter().collect::<Vec<_>>(), 999, 1).p_value, 1.0);
    }
}
