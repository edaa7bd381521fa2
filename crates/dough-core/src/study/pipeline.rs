//! The study for one network: evolve every controlled input toward every class, abstract the
//! perturbations into per-class patterns, and compare them with the dataset's templates, beside
//! the two null baselines (random perturbations of the same norms; an untrained network).
//!
//! The app steps the attack itself (to stay responsive) and then calls [`analyse`]; the CLI calls
//! `dough_compute::study::evolve`. Both end in the same functions, so they give the same numbers.

use serde::{Deserialize, Serialize};

use super::abstraction::Abstraction;
use super::metrics::{Comparison, Recurrence, random_like, recurrence};
use super::stats::{PERMUTATIONS, identification_p_value};
use crate::attack::SampleOutcome;
use crate::inputs::ControlledInput;
use crate::model::CLASSES;

/// The controlled inputs of the study: black, mid-gray and three seeded noise images.
pub fn default_inputs(seed: u64) -> Vec<ControlledInput> {
    vec![
        ControlledInput::Black,
        ControlledInput::Gray,
        ControlledInput::Noise { seed },
        ControlledInput::Noise { seed: seed + 1 },
        ControlledInput::Noise { seed: seed + 2 },
    ]
}

/// The seed of the untrained network of the null baseline, derived from the run's seed.
pub fn untrained_seed(seed: u64) -> u64 {
    seed.wrapping_add(0x5eed_0000)
}

/// One attack batch: every start toward every target, start-major.
pub fn batch(starts: &[Vec<f32>]) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut s = Vec::with_capacity(starts.len() * CLASSES);
    let mut t = Vec::with_capacity(starts.len() * CLASSES);
    for start in starts {
        for target in 0..CLASSES {
            s.push(start.clone());
            t.push(target);
        }
    }
    (s, t)
}

/// The outcomes of a study batch, `per_input[input][target]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evolved {
    pub per_input: Vec<Vec<SampleOutcome>>,
}

impl Evolved {
    /// Groups the outcomes of a [`batch`] (start-major) by input.
    pub fn from_outcomes(outcomes: Vec<SampleOutcome>) -> Self {
        let mut per_input = Vec::new();
        let mut it = outcomes.into_iter().peekable();
        while it.peek().is_some() {
            per_input.push(it.by_ref().take(CLASSES).collect());
        }
        Self { per_input }
    }

    /// The perturbations toward `target`, one per input.
    pub fn perturbations(&self, target: usize) -> Vec<Vec<f32>> {
        self.per_input.iter().map(|row| row[target].perturbation()).collect()
    }

    /// One pattern per target class.
    pub fn patterns(&self, abs: &Abstraction) -> Vec<Vec<f32>> {
        (0..CLASSES).map(|t| abs.pattern(&self.perturbations(t))).collect()
    }

    /// Share of samples that reached their target.
    pub fn reached(&self) -> f32 {
        let all: Vec<&SampleOutcome> = self.per_input.iter().flatten().collect();
        all.iter().filter(|o| o.reached).count() as f32 / all.len().max(1) as f32
    }

    /// The same samples with every perturbation replaced by a random one of the same L2 norm.
    pub fn randomized(&self, seed: u64) -> Self {
        let mut out = self.clone();
        let flat: Vec<(Vec<f32>, Vec<f32>)> = self.per_input.iter().flatten().map(|o| (o.start.clone(), o.perturbation())).collect();
        let random = random_like(&flat, seed);
        for (o, r) in out.per_input.iter_mut().flatten().zip(random) {
            o.adversarial = o.start.iter().zip(&r).map(|(s, d)| s + d).collect();
        }
        out
    }
}

/// What one set of perturbations says: patterns vs the dataset's templates, and recurrence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub vs_dataset: Comparison,
    pub recurrence: Recurrence,
    /// Share of samples that reached their target.
    pub reached: f32,
}

impl Analysis {
    /// The template each class's pattern matches best.
    pub fn best_matches(&self) -> Vec<usize> {
        (0..self.vs_dataset.matrix.len()).map(|c| self.vs_dataset.best_match(c).unwrap_or(usize::MAX)).collect()
    }

    /// Identification's permutation p-value against shuffled class labels (one seed).
    pub fn p_value(&self, seed: u64) -> f32 {
        identification_p_value(&[self.best_matches()], PERMUTATIONS, seed)
    }
}

pub fn analyse(evolved: &Evolved, abs: &Abstraction, templates: &[Vec<f32>]) -> Analysis {
    let patterns = evolved.patterns(abs);
    let per_input: Vec<Vec<Vec<f32>>> = evolved
        .per_input
        .iter()
        .map(|row| row.iter().map(|o| abs.pattern(&[o.perturbation()])).collect())
        .collect();
    Analysis { vs_dataset: Comparison::new(&patterns, templates), recurrence: recurrence(&per_input), reached: evolved.reached() }
}

/// The study of one network with its nulls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyResult {
    pub model: Analysis,
    /// Random perturbations with the same norms as the model's.
    pub random_null: Analysis,
    /// The same attack on an untrained network of the same architecture.
    pub untrained_null: Option<Analysis>,
    /// The model's patterns (one per class), for figures.
    pub patterns: Vec<Vec<f32>>,
    /// Identification's permutation p-values against shuffled class labels.
    #[serde(default)]
    pub p_values: PValues,
}

/// How often a random relabelling of the classes identifies at least as many classes as the
/// model's patterns (and each null's) do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PValues {
    pub model: f32,
    pub random_null: f32,
    pub untrained_null: Option<f32>,
}

pub fn study(evolved: &Evolved, untrained: Option<&Evolved>, abs: &Abstraction, templates: &[Vec<f32>], seed: u64) -> StudyResult {
    let model = analyse(evolved, abs, templates);
    let random_null = analyse(&evolved.randomized(seed), abs, templates);
    let untrained_null = untrained.map(|u| analyse(u, abs, templates));
    let p_values = PValues {
        model: model.p_value(seed),
        random_null: random_null.p_value(seed),
        untrained_null: untrained_null.as_ref().map(|u| u.p_value(seed)),
    };
    StudyResult { model, random_null, untrained_null, patterns: evolved.patterns(abs), p_values }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::abstraction::PatternMethod;

    fn outcome(target: usize, start: f32, pert: impl Fn(usize) -> f32) -> SampleOutcome {
        let start = vec![start; 784];
        let adversarial = start.iter().enumerate().map(|(i, s)| s + pert(i)).collect();
        SampleOutcome { target, start, adversarial, predicted: target, confidence: 0.95, steps: 1, l2: 0.0, linf: 0.0, l0: 0, reached: true, away: false }
    }

    /// Perturbations that add ink exactly on each class's template are identified perfectly;
    /// their random null is not.
    #[test]
    fn planted_patterns_are_identified_and_beat_the_random_null() {
        let templates: Vec<Vec<f32>> =
            (0..10).map(|c| (0..784).map(|i| if i / 78 == c { 1.0 } else { 0.0 }).collect()).collect();
        let outcomes: Vec<SampleOutcome> = (0..3)
            .flat_map(|k| {
                let t = &templates;
                (0..10).map(move |c| outcome(c, 0.1 * k as f32, move |i| 0.3 * t[c][i]))
            })
            .collect();
        let evolved = Evolved::from_outcomes(outcomes);
        assert_eq!((evolved.per_input.len(), evolved.per_input[1][4].target), (3, 4));
        let abs = Abstraction { method: PatternMethod::MeanUnit, sigma: 0.0 };
        let r = study(&evolved, None, &abs, &templates, 7);
        assert_eq!(r.model.vs_dataset.identification, 1.0);
        assert!((r.p_values.model - 1.0 / (PERMUTATIONS + 1) as f32).abs() < 1e-9, "all ten identified: p at its floor");
        assert!(r.p_values.random_null > 0.05, "{:?}", r.p_values);
        assert!(r.model.vs_dataset.margin > 0.9);
        assert!(r.model.recurrence.same_target > 0.99 && r.model.recurrence.different_target < 0.0);
        assert!(r.random_null.vs_dataset.margin < 0.2, "{:?}", r.random_null.vs_dataset.margin);
        assert!(r.random_null.recurrence.same_target < 0.2);
    }
}
