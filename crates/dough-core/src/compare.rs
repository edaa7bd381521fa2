//! Compare mode: what a second model (B) says about the adversarial examples made on model A.
//!
//! The page picks B (`compare=<model>` in the URL, or the "Compare with" picker), the worker
//! computes B's class probabilities on A's adversarial images, and these functions turn them
//! into per-row readings (B's predicted class, B's confidence in the row's target, whether B is
//! fooled too) and the agreement count of the summary line; and, from B's own run on the same
//! input, the two models' patterns side by side with the persistence identification between
//! them. No DOM, no tensor library.

use serde::{Deserialize, Serialize};

use crate::attack::SampleOutcome;
use crate::manifest::DatasetId;
use crate::model::CLASSES;
use crate::study::abstraction::Abstraction;
use crate::study::metrics::Comparison;
use crate::study::pipeline::Evolved;
use crate::study::stats::{PERMUTATIONS, identification_p_value};

/// The preset comparison of the lecture: a standard network against its adversarially trained twin.
pub const PRESET: (&str, &str) = ("mnist-mlp", "mnist-mlp-robust");

/// Whether `wanted` can be model B beside model A (`a_name` of `a_dataset`). `wanted_dataset`
/// is the dataset of the manifest entry named `wanted`, `None` when there is no such entry.
/// The error is the notice the page shows (B is then off).
pub fn check(wanted: &str, wanted_dataset: Option<DatasetId>, a_name: &str, a_dataset: DatasetId) -> Result<(), String> {
    match wanted_dataset {
        None => Err(format!("compare=\"{wanted}\" is not in the manifest; compare mode is off")),
        Some(d) if d != a_dataset => {
            Err(format!("compare={wanted} is a {} model and {a_name} a {} one; compare mode is off", d.title(), a_dataset.title()))
        }
        Some(_) if wanted == a_name => Err(format!("compare={wanted} is model A itself; compare mode is off")),
        Some(_) => Ok(()),
    }
}

/// What model B says about one row's adversarial example.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Reading {
    /// B's predicted class (the largest probability).
    pub predicted: usize,
    /// B's probability of the row's target.
    pub confidence: f32,
    /// B predicts the row's target: the example transfers.
    pub fooled: bool,
}

/// Model B's readings of a gallery, row by row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelReadings {
    pub model: String,
    pub rows: Vec<Reading>,
}

/// B's readings of the rows from its probabilities (`targets.len()` blocks of 10, in row order).
/// A buffer of another length, or a target out of range, is an error, never a panic.
pub fn readings(probabilities: &[f32], targets: &[usize]) -> Result<Vec<Reading>, String> {
    if probabilities.len() != targets.len() * CLASSES {
        return Err(format!("model B's answer has {} values where {} were expected", probabilities.len(), targets.len() * CLASSES));
    }
    probabilities
        .chunks(CLASSES)
        .zip(targets)
        .map(|(p, &t)| {
            let confidence = *p.get(t).ok_or_else(|| format!("target {t} is not a class"))?;
            let predicted = (0..CLASSES).fold(0, |b, c| if p[c] > p[b] { c } else { b });
            Ok(Reading { predicted, confidence, fooled: predicted == t })
        })
        .collect()
}

/// The readings for the rows now shown, when they were made for exactly these rows.
pub fn for_rows<'a>(readings: &'a [Reading], rows: &[SampleOutcome]) -> Option<&'a [Reading]> {
    (readings.len() == rows.len() && !rows.is_empty()).then_some(readings)
}

/// How many rows B classifies as their target (the examples that transfer).
pub fn agreement(readings: &[Reading]) -> usize {
    readings.iter().filter(|r| r.fooled).count()
}

/// The summary line, e.g. "B (mnist-mlp-robust) agrees with 3 of 10 targets".
pub fn summary(b_name: &str, readings: &[Reading]) -> String {
    let n = readings.len();
    format!("B ({b_name}) agrees with {} of {n} target{}", agreement(readings), if n == 1 { "" } else { "s" })
}

/// A's and B's patterns of each class (A's from its gallery, B's from its own run on the same
/// input, abstracted the same way), and how A's patterns match B's: `comparison.matrix[i][j]`
/// correlates A's pattern of class i with B's of class j; `identification` is the share of
/// classes whose A pattern best matches B's pattern of the same class (persistence).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatternPair {
    pub a: Vec<Vec<f32>>,
    pub b: Vec<Vec<f32>>,
    pub comparison: Comparison,
    /// Identification's permutation p-value against shuffled class labels.
    pub p_value: f32,
    /// The null: A's patterns against B's perturbations replaced by random ones of the same
    /// norms (seeded), abstracted the same way.
    pub random_null: Comparison,
    pub random_null_p_value: f32,
    /// The second null: A's patterns against those of an untrained network of B's architecture
    /// attacked the same way from the same input (when that run is there).
    pub untrained_null: Option<Comparison>,
    pub untrained_null_p_value: Option<f32>,
}

/// Whether `rows` are a whole gallery: one start toward every class, in class order.
pub fn is_full_gallery(rows: &[SampleOutcome]) -> bool {
    rows.len() == CLASSES && rows.iter().enumerate().all(|(i, o)| o.target == i)
}

/// The patterns of A's and B's galleries side by side, with the random null drawn from `seed`
/// and, given the gallery of B's untrained twin, the untrained null; `None` unless A's and B's
/// are whole galleries from the same start image (an untrained gallery that is not is left out).
pub fn pattern_pair(a_rows: &[SampleOutcome], b_rows: &[SampleOutcome], b_untrained: Option<&[SampleOutcome]>, abs: &Abstraction, seed: u64) -> Option<PatternPair> {
    if !is_full_gallery(a_rows) || !is_full_gallery(b_rows) || a_rows[0].start != b_rows[0].start {
        return None;
    }
    let b_untrained = b_untrained.filter(|u| is_full_gallery(u) && u[0].start == a_rows[0].start);
    let a = Evolved::from_outcomes(a_rows.to_vec()).patterns(abs);
    let b_run = Evolved::from_outcomes(b_rows.to_vec());
    let b = b_run.patterns(abs);
    let comparison = Comparison::new(&a, &b);
    let random_null = Comparison::new(&a, &b_run.randomized(seed).patterns(abs));
    let untrained_null = b_untrained.map(|u| Comparison::new(&a, &Evolved::from_outcomes(u.to_vec()).patterns(abs)));
    let p = |c: &Comparison| identification_p_value(&[(0..c.matrix.len()).map(|i| c.best_match(i).unwrap_or(usize::MAX)).collect()], PERMUTATIONS, seed);
    Some(PatternPair {
        p_value: p(&comparison),
        random_null_p_value: p(&random_null),
        untrained_null_p_value: untrained_null.as_ref().map(p),
        a,
        b,
        comparison,
        random_null,
        untrained_null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(rows: &[(usize, f32)]) -> Vec<f32> {
        // Row i puts `p` on class c and spreads the rest evenly.
        rows.iter()
            .flat_map(|&(c, p)| (0..CLASSES).map(move |k| if k == c { p } else { (1.0 - p) / 9.0 }))
            .collect()
    }

    #[test]
    fn readings_pick_the_top_class_and_the_targets_confidence() {
        let p = probs(&[(3, 0.8), (5, 0.6), (0, 0.3)]);
        let r = readings(&p, &[3, 4, 0]).unwrap();
        assert_eq!(r[0], Reading { predicted: 3, confidence: 0.8, fooled: true });
        assert_eq!((r[1].predicted, r[1].fooled), (5, false));
        assert!((r[1].confidence - 0.4 / 9.0).abs() < 1e-6, "B's confidence is in the row's target, not its prediction");
        assert_eq!((r[2].predicted, r[2].fooled), (0, true));
        assert_eq!(agreement(&r), 2);
        assert_eq!(summary("robust", &r), "B (robust) agrees with 2 of 3 targets");
    }

    #[test]
    fn bad_buffers_and_targets_are_errors() {
        assert!(readings(&[0.1; 15], &[0, 1]).is_err());
        assert!(readings(&probs(&[(1, 0.9)]), &[10]).is_err());
        assert_eq!(readings(&[], &[]).unwrap(), vec![]);
    }

    #[test]
    fn readings_belong_to_rows_of_the_same_length() {
        let r = readings(&probs(&[(1, 0.9)]), &[1]).unwrap();
        let row = SampleOutcome {
            target: 1,
            start: vec![],
            adversarial: vec![],
            predicted: 1,
            confidence: 0.9,
            steps: 1,
            l2: 0.0,
            linf: 0.0,
            reached: true,
            l0: 0,
            away: false,
        };
        assert!(for_rows(&r, std::slice::from_ref(&row)).is_some());
        assert!(for_rows(&r, &[row.clone(), row]).is_none());
        assert!(for_rows(&[], &[]).is_none());
    }

    /// A whole gallery from a gray start whose perturbation toward class t is `delta(t)`.
    fn gallery(delta: impl Fn(usize) -> Vec<f32>) -> Vec<SampleOutcome> {
        (0..CLASSES)
            .map(|t| {
                let start = vec![0.5; crate::model::PIXELS];
                let adversarial: Vec<f32> = start.iter().zip(delta(t)).map(|(s, d)| s + d).collect();
                SampleOutcome { target: t, start, adversarial, predicted: t, confidence: 0.9, steps: 1, l2: 0.0, linf: 0.0, reached: true, l0: 0, away: false }
            })
            .collect()
    }

    /// Class t's planted pattern: a block of pixels of its own, plus a little of `seed`'s noise.
    fn planted(t: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::rng::SeededRng::new(seed * 31 + t as u64);
        (0..crate::model::PIXELS).map(|i| (if i / 78 == t { 0.2 } else { 0.0 }) + (rng.next_f32() - 0.5) * 0.02).collect()
    }

    #[test]
    fn shared_class_patterns_are_identified_and_shuffled_ones_are_not() {
        let abs = Abstraction::default();
        let a = gallery(|t| planted(t, 1));
        let same = pattern_pair(&a, &gallery(|t| planted(t, 2)), Some(&gallery(|t| planted((t * 7 + 3) % CLASSES, 5))), &abs, 0).unwrap();
        assert_eq!(same.comparison.identification, 1.0);
        assert_eq!((same.a.len(), same.b.len(), same.comparison.matrix.len()), (CLASSES, CLASSES, CLASSES));
        assert!(same.comparison.matrix[3][3] > 0.9 && same.comparison.matrix[3][4] < 0.1);
        assert!(same.p_value < 0.001, "{}", same.p_value);
        // The random null of B's perturbations shares nothing with A's patterns.
        assert!(same.random_null.margin.abs() < 0.2 && same.random_null_p_value > 0.01, "{:?} p {}", same.random_null.margin, same.random_null_p_value);
        // An "untrained" gallery whose patterns belong to other classes identifies none.
        assert_eq!((same.untrained_null.as_ref().map(|u| u.identification), same.untrained_null_p_value), (Some(0.0), Some(1.0)));
        // B's patterns of each class belong to the next class: nothing persists.
        let shifted = pattern_pair(&a, &gallery(|t| planted((t + 1) % CLASSES, 2)), None, &abs, 0).unwrap();
        assert_eq!(shifted.comparison.identification, 0.0);
        assert_eq!((shifted.p_value, shifted.untrained_null.is_none()), (1.0, true));
    }

    #[test]
    fn patterns_need_two_whole_galleries_from_the_same_start() {
        let abs = Abstraction::default();
        let a = gallery(|t| planted(t, 1));
        assert!(pattern_pair(&a[..9], &a, None, &abs, 0).is_none());
        let mut reordered = a.clone();
        reordered.swap(0, 1);
        assert!(pattern_pair(&a, &reordered, None, &abs, 0).is_none());
        let mut other_start = a.clone();
        other_start[0].start[0] = 0.0;
        assert!(pattern_pair(&a, &other_start, None, &abs, 0).is_none());
        assert!(is_full_gallery(&a) && !is_full_gallery(&a[..1]));
        // An untrained gallery from another start is left out, not compared.
        assert!(pattern_pair(&a, &a, Some(&other_start), &abs, 0).unwrap().untrained_null.is_none());
    }

    #[test]
    fn compare_targets_are_checked_against_model_a() {
        assert!(check("mnist-mlp-robust", Some(DatasetId::Mnist), "mnist-mlp", DatasetId::Mnist).is_ok());
        let unknown = check("banana", None, "mnist-mlp", DatasetId::Mnist).unwrap_err();
        assert!(unknown.contains("compare=\"banana\"") && unknown.contains("off"), "{unknown}");
        let other = check("fashion-mnist-mlp", Some(DatasetId::FashionMnist), "mnist-mlp", DatasetId::Mnist).unwrap_err();
        assert!(other.contains("Fashion-MNIST"), "{other}");
        assert!(check("mnist-mlp", Some(DatasetId::Mnist), "mnist-mlp", DatasetId::Mnist).unwrap_err().contains("model A itself"));
    }
}
