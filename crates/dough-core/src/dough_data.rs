//! Datasets of nothing but dough (Ilyas et al. 2019): training images attacked toward a target
//! class and labelled with that target. D_det: target (label + 1) mod 10; D_rand: a target drawn
//! uniformly among the other nine classes. Only images that reached their target are kept,
//! quantised to 8 bits. The control set holds the same clean images with the same target labels
//! and no perturbation. A network trained on D_det that classifies real test images correctly
//! learnt the true classes from the perturbations alone.

use crate::idx::{Dataset, IdxImages};
use crate::model::{CLASSES, PIXELS, SIDE};
use crate::rng::SeededRng;

/// How the targets are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetRule {
    /// (label + 1) mod 10.
    Det,
    /// Uniform among the nine other classes, seeded.
    Rand,
}

impl TargetRule {
    pub fn name(self) -> &'static str {
        match self {
            TargetRule::Det => "D_det",
            TargetRule::Rand => "D_rand",
        }
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DoughDataError {
    #[error(
        "{name}: the source network reached only {kept} of {attempted} targets (fewer than {min}): nothing would train on so few \
         images; give the attack more room (more steps or a lower kappa; for PGD a larger eps or more iterations), or use a less robust source"
    )]
    NearlyEmpty { name: &'static str, kept: usize, attempted: usize, min: usize },
    #[error("{images} adversarial images, {targets} targets and {reached} flags for {sources} source images: the attack's output does not match its batch")]
    Mismatch { sources: usize, images: usize, targets: usize, reached: usize },
}

/// The seed of D_rand's targets, from the run's seed.
pub fn rand_seed(seed: u64) -> u64 {
    seed.wrapping_add(0xd0_0000)
}

/// The target of each label under `rule` (`seed` draws D_rand's).
pub fn targets(labels: &[u8], rule: TargetRule, seed: u64) -> Vec<usize> {
    let mut rng = SeededRng::new(rand_seed(seed));
    labels
        .iter()
        .map(|&l| {
            let l = l as usize;
            match rule {
                TargetRule::Det => (l + 1) % CLASSES,
                TargetRule::Rand => (l + 1 + rng.below(CLASSES - 1)) % CLASSES,
            }
        })
        .collect()
}

/// The fewest images a dough set may keep out of `attempted`: 1% of them, at least 10.
pub fn min_kept(attempted: usize) -> usize {
    (attempted / 100).max(10)
}

/// One pixel in [0, 1] as an 8-bit gray value.
pub fn quantise(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// A dough set and its control, built from the same kept images.
#[derive(Clone, Debug)]
pub struct DoughSet {
    pub rule: TargetRule,
    /// The adversarial images (quantised) labelled with their targets.
    pub dough: Dataset,
    /// The same images before the attack, with the same target labels.
    pub control: Dataset,
    /// Index into the source set of each kept image.
    pub kept: Vec<usize>,
    pub attempted: usize,
}

impl DoughSet {
    pub fn kept_share(&self) -> f64 {
        self.kept.len() as f64 / self.attempted.max(1) as f64
    }

    /// Per kept image: the L2 norm (pixels in [0, 1]) of its quantised perturbation.
    pub fn perturbation_l2(&self) -> Vec<f32> {
        (0..self.dough.len())
            .map(|k| self.dough.image(k).iter().zip(self.control.image(k)).map(|(&a, &b)| ((a as f32 - b as f32) / 255.0).powi(2)).sum::<f32>().sqrt())
            .collect()
    }
}

fn dataset(pixels: Vec<u8>, labels: Vec<u8>) -> Dataset {
    Dataset { images: IdxImages { count: labels.len(), rows: SIDE, cols: SIDE, pixels }, labels }
}

/// Assembles the dough set from `source` (the images attacked, in order), the attack's
/// `adversarial` images (784 values each, in [0, 1]), their `targets` and whether each `reached`
/// it. A set that keeps fewer than [`min_kept`] images is an error: nothing trains on it.
pub fn assemble(rule: TargetRule, source: &Dataset, adversarial: &[Vec<f32>], targets: &[usize], reached: &[bool]) -> Result<DoughSet, DoughDataError> {
    let n = source.len();
    if adversarial.len() != n || targets.len() != n || reached.len() != n || adversarial.iter().any(|a| a.len() != PIXELS) {
        return Err(DoughDataError::Mismatch { sources: n, images: adversarial.len(), targets: targets.len(), reached: reached.len() });
    }
    let kept: Vec<usize> = (0..n).filter(|&i| reached[i]).collect();
    let min = min_kept(n);
    if kept.len() < min {
        return Err(DoughDataError::NearlyEmpty { name: rule.name(), kept: kept.len(), attempted: n, min });
    }
    let labels: Vec<u8> = kept.iter().map(|&i| targets[i] as u8).collect();
    let dough: Vec<u8> = kept.iter().flat_map(|&i| adversarial[i].iter().map(|&v| quantise(v))).collect();
    let clean: Vec<u8> = kept.iter().flat_map(|&i| source.image(i).to_vec()).collect();
    Ok(DoughSet { rule, dough: dataset(dough, labels.clone()), control: dataset(clean, labels), kept, attempted: n })
}

/// Images attacked at once when a dough set is built (in one worker, or one job per worker of
/// the page's pool: the same batches either way, so the same set).
pub const BATCH: usize = 100;

/// The attack's start images of `data` (784 values in [0, 1] each), in order.
pub fn start_images(data: &Dataset) -> Vec<Vec<f32>> {
    (0..data.len()).map(|i| data.image(i).iter().map(|&p| p as f32 / 255.0).collect()).collect()
}

/// The batches of a build over `n` images: index ranges of at most [`BATCH`], in order.
pub fn batches(n: usize) -> Vec<std::ops::Range<usize>> {
    (0..n).step_by(BATCH).map(|s| s..(s + BATCH).min(n)).collect()
}

/// The seconds a build of `count` images would take at `batch_seconds` a batch of [`BATCH`],
/// its batches shared out among `workers` (each takes the next batch when it is free).
pub fn estimate_build(count: usize, batch_seconds: f64, workers: usize) -> f64 {
    count.div_ceil(BATCH).div_ceil(workers.max(1)) as f64 * batch_seconds
}

/// A seeded subset of `n` images of `data` (all of them when `n` is at least its size), in the
/// generator's order.
pub fn subset(data: &Dataset, n: usize, seed: u64) -> Dataset {
    let mut order: Vec<usize> = (0..data.len()).collect();
    SeededRng::new(seed).shuffle(&mut order);
    order.truncate(n.min(data.len()));
    let pixels = order.iter().flat_map(|&i| data.image(i).to_vec()).collect();
    dataset(pixels, order.iter().map(|&i| data.labels[i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_estimate_counts_whole_batches_shared_among_the_workers() {
        assert_eq!(batches(250), vec![0..100, 100..200, 200..250]);
        assert_eq!(estimate_build(250, 2.0, 1), 6.0);
        assert_eq!(estimate_build(250, 2.0, 2), 4.0);
        assert_eq!(estimate_build(2000, 1.5, 3), 10.5);
        assert_eq!(estimate_build(100, 1.0, 0), 1.0);
    }

    fn source(n: usize) -> Dataset {
        dataset((0..n * PIXELS).map(|i| (i % 251) as u8).collect(), (0..n).map(|i| (i * 7 % 10) as u8).collect())
    }

    #[test]
    fn targets_follow_their_rule() {
        let labels: Vec<u8> = (0..500).map(|i| (i % 10) as u8).collect();
        let det = targets(&labels, TargetRule::Det, 1);
        assert!(labels.iter().zip(&det).all(|(&l, &t)| t == (l as usize + 1) % 10));
        let rand = targets(&labels, TargetRule::Rand, 1);
        assert!(labels.iter().zip(&rand).all(|(&l, &t)| t != l as usize && t < 10), "never the image's own class");
        let mut seen = [[false; 10]; 10];
        for (&l, &t) in labels.iter().zip(&rand) {
            seen[l as usize][t] = true;
        }
        assert!((0..10).all(|l| seen[l].iter().filter(|s| **s).count() == 9), "every other class occurs");
        assert_eq!(targets(&labels, TargetRule::Rand, 1), rand);
        assert_ne!(targets(&labels, TargetRule::Rand, 2), rand);
    }

    #[test]
    fn d_det_keeps_what_reached_with_target_labels_and_its_control_is_unperturbed() {
        let src = source(40);
        let t = targets(&src.labels, TargetRule::Det, 0);
        let adversarial: Vec<Vec<f32>> = (0..40).map(|i| src.image(i).iter().map(|&p| (p as f32 / 255.0 + 0.1).min(1.0)).collect()).collect();
        let reached: Vec<bool> = (0..40).map(|i| i % 3 != 0).collect();
        let set = assemble(TargetRule::Det, &src, &adversarial, &t, &reached).unwrap();
        assert_eq!(set.kept.len(), 26);
        assert!((set.kept_share() - 26.0 / 40.0).abs() < 1e-12);
        for (k, &i) in set.kept.iter().enumerate() {
            assert!(reached[i]);
            assert_eq!(set.dough.labels[k] as usize, (src.labels[i] as usize + 1) % 10, "D_det label of image {i}");
            assert_eq!(set.control.labels[k], set.dough.labels[k], "the control has the same labels");
            assert_eq!(set.control.image(k), src.image(i), "the control is not perturbed");
            assert_ne!(set.dough.image(k), src.image(i), "the dough image is");
            assert!(set.dough.image(k).iter().zip(&adversarial[i]).all(|(&q, &a)| q == quantise(a)), "quantised to 8 bits");
        }
        let l2 = set.perturbation_l2();
        assert_eq!(l2.len(), 26);
        assert!(l2.iter().all(|&v| v > 0.0 && v <= 0.1 * 28.0 + 1e-3), "{l2:?}");
    }

    #[test]
    fn a_nearly_empty_set_is_an_error_and_mismatches_too() {
        let src = source(2000);
        let t = targets(&src.labels, TargetRule::Det, 0);
        let adversarial = vec![vec![0.5; PIXELS]; 2000];
        let reached: Vec<bool> = (0..2000).map(|i| i < 19).collect();
        let err = assemble(TargetRule::Det, &src, &adversarial, &t, &reached).unwrap_err();
        assert_eq!(err, DoughDataError::NearlyEmpty { name: "D_det", kept: 19, attempted: 2000, min: 20 });
        assert!(err.to_string().contains("19 of 2000"));
        assert!(matches!(assemble(TargetRule::Det, &src, &adversarial[..5], &t, &reached), Err(DoughDataError::Mismatch { .. })));
        assert_eq!((quantise(-0.2), quantise(0.5), quantise(1.3)), (0, 128, 255));
    }

    #[test]
    fn subsets_are_seeded() {
        let src = source(100);
        let a = subset(&src, 30, 4);
        assert_eq!((a.len(), a.images.count), (30, 30));
        assert_eq!(subset(&src, 30, 4).labels, a.labels);
        assert_ne!(subset(&src, 30, 5).images.pixels, a.images.pixels);
        assert_eq!(subset(&src, 500, 4).len(), 100);
    }
}
