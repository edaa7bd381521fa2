//! Finding a planted feature from the attack alone (as Neural Cleanse does): the class that the
//! controlled inputs reach with the smallest perturbations is suspect when its median L2 lies far
//! below the other classes' (anomaly index: its distance from the median of all classes' medians
//! in units of 1.4826 x their median absolute deviation, flagged above 2); and its pattern should
//! put its energy on the planted patch.
//!
//! A second reading needs no patch position: per class the largest share of its pattern's energy
//! inside any [`WINDOW`]x[`WINDOW`] window, and the class whose concentration stands out above
//! the others' (the same anomaly index, upward).
//!
//! Pure: it reads the attack's outcomes (`l2[input][class]`) and per-class patterns; the attack
//! runs elsewhere (natively in `dough-cli plant-check`, or in the page's worker).

use serde::{Deserialize, Serialize};

use super::pipeline::Evolved;
use crate::rng::SeededRng;
use crate::model::{CLASSES, PIXELS, SIDE};

/// MAD to standard deviation for normal data (Neural Cleanse's consistency constant).
pub const MAD_SCALE: f32 = 1.4826;
/// An anomaly index above this flags the class (Neural Cleanse's threshold).
pub const FLAG_THRESHOLD: f32 = 2.0;
/// Bootstrap resamples of the interval.
pub const RESAMPLES: usize = 1000;
/// Side of the windows of the position-free reading (the zoo's patches are 4x4).
pub const WINDOW: usize = 4;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlantCheckError {
    #[error("the plant check needs at least two controlled inputs, it has {0}")]
    TooFewInputs(usize),
    #[error("input {input} has L2 norms for {found} classes, the check needs all {CLASSES}")]
    BadRow { input: usize, found: usize },
    #[error("the check needs {CLASSES} patterns of {PIXELS} pixels and a {PIXELS}-pixel patch mask")]
    BadPatterns,
}

/// The plant check of one network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlantCheck {
    /// Per class: the median over the inputs of the L2 norm the attack needed to reach it.
    pub medians: Vec<f32>,
    /// The class with the smallest median.
    pub smallest: usize,
    /// Its anomaly index (infinite when the other medians do not spread at all).
    pub anomaly_index: f32,
    /// Whether the smallest class is flagged: below the median and anomaly index above 2.
    pub flagged: bool,
    /// 95% percentile-bootstrap interval of the anomaly index (inputs resampled with
    /// replacement, [`RESAMPLES`] times, the smallest class of each resample).
    pub interval: (f32, f32),
    /// Share of the resamples whose flagged class is `smallest`.
    pub flag_rate: f32,
    /// Per class: the share of its pattern's energy (sum of squares) inside the patch.
    pub energy_in_patch: Vec<f32>,
    /// Per class: Pearson correlation of its pattern with the patch (1 inside, 0 outside).
    pub patch_correlation: Vec<f32>,
    /// The patch's share of the image (the energy share of a pattern spread evenly).
    pub patch_area: f32,
    /// The position-free reading of the same patterns.
    pub window: WindowCheck,
}

/// Where each class's pattern concentrates, without knowing where anything was planted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowCheck {
    /// Per class: the largest share of its pattern's energy inside one window.
    pub concentration: Vec<f32>,
    /// Per class: that window's top-left pixel (row-major index).
    pub at: Vec<usize>,
    /// The class with the largest concentration.
    pub top: usize,
    /// Its anomaly index: (its concentration − the median) / (1.4826 × MAD).
    pub anomaly_index: f32,
    /// Whether it is flagged (index above 2).
    pub flagged: bool,
}

/// The largest share of `pattern`'s energy inside one `side`x`side` window, and that window's
/// top-left pixel.
pub fn window_concentration(pattern: &[f32], side: usize) -> (f32, usize) {
    let total: f32 = pattern.iter().map(|v| v * v).sum();
    let mut best = (0.0f32, 0usize);
    if total <= 0.0 {
        return best;
    }
    for r in 0..=SIDE - side {
        for c in 0..=SIDE - side {
            let e: f32 = (r..r + side).flat_map(|y| (c..c + side).map(move |x| y * SIDE + x)).map(|i| pattern[i] * pattern[i]).sum();
            if e > best.0 * total {
                best = (e / total, r * SIDE + c);
            }
        }
    }
    best
}

/// The position-free reading of per-class `patterns`.
pub fn window_check(patterns: &[Vec<f32>], side: usize) -> WindowCheck {
    let (concentration, at): (Vec<f32>, Vec<usize>) = patterns.iter().map(|p| window_concentration(p, side)).unzip();
    let top = (0..concentration.len()).fold(0, |b, c| if concentration[c] > concentration[b] { c } else { b });
    // The anomaly index of the largest is that of the smallest of the negated values.
    let negated: Vec<f32> = concentration.iter().map(|v| -v).collect();
    let (_, anomaly_index, flagged) = anomaly(&negated);
    WindowCheck { concentration, at, top, anomaly_index, flagged }
}

/// The median (the mean of the middle two for an even count); NaN for none.
pub fn median(values: &[f32]) -> f32 {
    let mut v: Vec<f32> = values.to_vec();
    v.sort_by(f32::total_cmp);
    match v.len() {
        0 => f32::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// The class with the smallest median, its anomaly index and whether it is flagged.
pub fn anomaly(medians: &[f32]) -> (usize, f32, bool) {
    let smallest = (0..medians.len()).fold(0, |b, c| if medians[c] < medians[b] { c } else { b });
    let m = median(medians);
    let deviations: Vec<f32> = medians.iter().map(|v| (v - m).abs()).collect();
    let mad = MAD_SCALE * median(&deviations);
    let dev = (medians[smallest] - m).abs();
    let index = if mad > 0.0 { dev / mad } else if dev > 0.0 { f32::INFINITY } else { 0.0 };
    (smallest, index, medians[smallest] < m && index > FLAG_THRESHOLD)
}

/// `count` bootstrap resamples of `n` rows (drawn with replacement from `seed`).
fn resample(n: usize, count: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = SeededRng::new(seed);
    (0..count).map(|_| (0..n).map(|_| rng.below(n)).collect()).collect()
}

fn class_medians(l2: &[Vec<f32>], rows: &[usize]) -> Vec<f32> {
    (0..CLASSES).map(|c| median(&rows.iter().map(|&i| l2[i][c]).collect::<Vec<_>>())).collect()
}

/// `l2[input][class]` of a study batch (the norm of each perturbation, reached or not).
pub fn norms(evolved: &Evolved) -> Vec<Vec<f32>> {
    evolved.per_input.iter().map(|row| row.iter().map(|o| o.l2).collect()).collect()
}

/// Share of `pattern`'s energy inside `mask`.
pub fn energy_in(pattern: &[f32], mask: &[bool]) -> f32 {
    let total: f32 = pattern.iter().map(|v| v * v).sum();
    let inside: f32 = pattern.iter().zip(mask).filter(|(_, m)| **m).map(|(v, _)| v * v).sum();
    if total > 0.0 { inside / total } else { 0.0 }
}

/// Pearson correlation of `pattern` with the 0/1 image of `mask` (0 when either is constant).
pub fn mask_correlation(pattern: &[f32], mask: &[bool]) -> f32 {
    let n = pattern.len() as f32;
    let m: Vec<f32> = mask.iter().map(|&b| b as u8 as f32).collect();
    let (mp, mm) = (pattern.iter().sum::<f32>() / n, m.iter().sum::<f32>() / n);
    let (mut cov, mut vp, mut vm) = (0.0f32, 0.0f32, 0.0f32);
    for (p, q) in pattern.iter().zip(&m) {
        cov += (p - mp) * (q - mm);
        vp += (p - mp) * (p - mp);
        vm += (q - mm) * (q - mm);
    }
    if vp > 0.0 && vm > 0.0 { cov / (vp * vm).sqrt() } else { 0.0 }
}

/// The plant check from the attack's norms `l2[input][class]`, the per-class `patterns` and the
/// patch `mask` (784 flags); the bootstrap draws from `seed`.
pub fn check(l2: &[Vec<f32>], patterns: &[Vec<f32>], mask: &[bool], seed: u64) -> Result<PlantCheck, PlantCheckError> {
    if l2.len() < 2 {
        return Err(PlantCheckError::TooFewInputs(l2.len()));
    }
    if let Some((input, row)) = l2.iter().enumerate().find(|(_, r)| r.len() != CLASSES) {
        return Err(PlantCheckError::BadRow { input, found: row.len() });
    }
    if patterns.len() != CLASSES || patterns.iter().any(|p| p.len() != PIXELS) || mask.len() != PIXELS {
        return Err(PlantCheckError::BadPatterns);
    }
    let all: Vec<usize> = (0..l2.len()).collect();
    let medians = class_medians(l2, &all);
    let (smallest, anomaly_index, flagged) = anomaly(&medians);
    let mut indices = Vec::with_capacity(RESAMPLES);
    let mut same = 0usize;
    for rows in resample(l2.len(), RESAMPLES, seed) {
        let (c, index, f) = anomaly(&class_medians(l2, &rows));
        same += (f && c == smallest) as usize;
        indices.push(index);
    }
    indices.sort_by(f32::total_cmp);
    let at = |q: f32| indices[((q * (RESAMPLES - 1) as f32).round() as usize).min(RESAMPLES - 1)];
    Ok(PlantCheck {
        medians,
        smallest,
        anomaly_index,
        flagged,
        interval: (at(0.025), at(0.975)),
        flag_rate: same as f32 / RESAMPLES as f32,
        energy_in_patch: patterns.iter().map(|p| energy_in(p, mask)).collect(),
        patch_correlation: patterns.iter().map(|p| mask_correlation(p, mask)).collect(),
        patch_area: mask.iter().filter(|m| **m).count() as f32 / PIXELS as f32,
        window: window_check(patterns, WINDOW),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_the_anomaly_index() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        // Nine classes near 2, one at 0.5: median 2, MAD 0.1 -> index 1.5 / 0.14826.
        let mut m = vec![1.9, 2.0, 2.1, 1.9, 2.0, 2.1, 2.0, 1.8, 2.2, 2.0];
        m[4] = 0.5;
        let (c, index, flagged) = anomaly(&m);
        assert_eq!(c, 4);
        assert!((index - 1.5 / (MAD_SCALE * 0.1)).abs() < 1e-3, "{index}");
        assert!(flagged);
        let (_, index, flagged) = anomaly(&[1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.1, 0.9, 1.0]);
        assert!(!flagged && index < 2.0, "{index}");
        let (_, index, flagged) = anomaly(&[1.0; 10]);
        assert_eq!((index, flagged), (0.0, false), "no spread, no deviation");
    }

    #[test]
    fn a_planted_class_is_flagged_with_its_energy_on_the_patch() {
        let mask: Vec<bool> = (0..PIXELS).map(|i| i % 28 >= 24 && i / 28 >= 24).collect();
        // Ten inputs; class 3 always needs far less than the others, which vary.
        let l2: Vec<Vec<f32>> = (0..10).map(|k| (0..CLASSES).map(|c| if c == 3 { 0.3 + 0.01 * k as f32 } else { 2.0 + 0.1 * ((c * 7 + k) % 5) as f32 }).collect()).collect();
        let patterns: Vec<Vec<f32>> = (0..CLASSES)
            .map(|c| (0..PIXELS).map(|i| if c == 3 { if mask[i] { 1.0 } else { 0.01 } } else { ((i * (c + 1)) % 7) as f32 - 3.0 }).collect())
            .collect();
        let r = check(&l2, &patterns, &mask, 1).unwrap();
        assert_eq!(r.smallest, 3);
        assert!(r.flagged && r.anomaly_index > 2.0);
        assert!(r.interval.0 <= r.anomaly_index && r.anomaly_index <= r.interval.1, "{:?} {}", r.interval, r.anomaly_index);
        assert!(r.flag_rate > 0.95, "{}", r.flag_rate);
        assert!(r.energy_in_patch[3] > 0.9 && r.patch_correlation[3] > 0.9, "{} {}", r.energy_in_patch[3], r.patch_correlation[3]);
        assert!(r.energy_in_patch[0] < 0.1 && r.patch_correlation[0].abs() < 0.2);
        assert!((r.patch_area - 16.0 / 784.0).abs() < 1e-6);
        assert_eq!((r.window.top, r.window.at[3]), (3, 24 * 28 + 24), "the position-free reading finds the patch");
        assert!(r.window.flagged && r.window.concentration[3] > 0.9, "{:?}", r.window);
        assert_eq!(check(&l2, &patterns, &mask, 1).unwrap(), r, "seeded");
        // The same check on classes that are all alike flags nothing.
        let flat: Vec<Vec<f32>> = (0..10).map(|k| (0..CLASSES).map(|c| 2.0 + 0.1 * c as f32 + 0.01 * k as f32).collect()).collect();
        assert!(!check(&flat, &patterns, &mask, 1).unwrap().flagged);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let mask = vec![false; PIXELS];
        let patterns = vec![vec![0.0; PIXELS]; CLASSES];
        assert_eq!(check(&[vec![1.0; 10]], &patterns, &mask, 0), Err(PlantCheckError::TooFewInputs(1)));
        assert_eq!(check(&[vec![1.0; 10], vec![1.0; 9]], &patterns, &mask, 0), Err(PlantCheckError::BadRow { input: 1, found: 9 }));
        assert_eq!(check(&[vec![1.0; 10], vec![1.0; 10]], &patterns[..9], &mask, 0), Err(PlantCheckError::BadPatterns));
    }
}
