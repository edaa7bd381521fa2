//! Abstraction of perturbations into one pattern per target class.
//!
//! For a target, the inputs are the perturbations (adversarial - start) of every controlled input
//! attacked toward it. Each method returns a 784-pixel signed pattern: positive where the attack
//! added ink, negative where it removed ink.

use serde::{Deserialize, Serialize};

use crate::model::SIDE;

/// How to turn a set of perturbations into one pattern.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum PatternMethod {
    /// Mean of the perturbations, each first scaled to unit L2 norm.
    MeanUnit,
    /// The unit-norm mean, keeping only the `percent` % of pixels of largest magnitude.
    TopMask { percent: f32 },
    /// Per-pixel majority sign, weighted by agreement: (positives - negatives) / count.
    Sign,
}

impl PatternMethod {
    pub fn slug(&self) -> String {
        match self {
            PatternMethod::MeanUnit => "mean".into(),
            PatternMethod::TopMask { percent } => format!("top{percent}"),
            PatternMethod::Sign => "sign".into(),
        }
    }
}

/// A method plus Gaussian smoothing of width `sigma` pixels (0: none) applied to its result.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Abstraction {
    #[serde(flatten)]
    pub method: PatternMethod,
    pub sigma: f32,
}

impl Default for Abstraction {
    fn default() -> Self {
        Self { method: PatternMethod::MeanUnit, sigma: 0.0 }
    }
}

impl Abstraction {
    pub fn describe(&self) -> String {
        let m = match self.method {
            PatternMethod::MeanUnit => "mean of unit-norm perturbations".to_string(),
            PatternMethod::TopMask { percent } => format!("top {percent}% magnitude mask"),
            PatternMethod::Sign => "majority sign with agreement".to_string(),
        };
        if self.sigma > 0.0 { format!("{m}, Gaussian smoothing σ = {}", self.sigma) } else { m }
    }

    /// The pattern of one target from its perturbations (each of 784 pixels).
    pub fn pattern(&self, perturbations: &[Vec<f32>]) -> Vec<f32> {
        let p = match self.method {
            PatternMethod::MeanUnit => mean_unit(perturbations),
            PatternMethod::TopMask { percent } => top_mask(&mean_unit(perturbations), percent).signed(),
            PatternMethod::Sign => sign_agreement(perturbations),
        };
        if self.sigma > 0.0 { gaussian_smooth(&p, self.sigma) } else { p }
    }
}

fn l2(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// Mean of the perturbations after scaling each to unit L2 norm (zero ones are skipped).
pub fn mean_unit(perturbations: &[Vec<f32>]) -> Vec<f32> {
    let n = perturbations.first().map_or(0, |p| p.len());
    let mut out = vec![0.0f32; n];
    let mut count = 0;
    for p in perturbations {
        let norm = l2(p);
        if norm > 0.0 {
            out.iter_mut().zip(p).for_each(|(o, v)| *o += v / norm);
            count += 1;
        }
    }
    if count > 0 {
        out.iter_mut().for_each(|o| *o /= count as f32);
    }
    out
}

/// The pixels of largest magnitude, split into added ink and removed ink (both non-negative).
#[derive(Clone, Debug, PartialEq)]
pub struct SignedMask {
    pub added: Vec<f32>,
    pub removed: Vec<f32>,
}

impl SignedMask {
    /// added - removed: the kept pixels with their signs.
    pub fn signed(&self) -> Vec<f32> {
        self.added.iter().zip(&self.removed).map(|(a, r)| a - r).collect()
    }
}

/// Keeps the `percent` % of pixels of `pattern` with the largest magnitude (at least one pixel
/// when `percent` > 0; ties broken by pixel order), split by sign.
pub fn top_mask(pattern: &[f32], percent: f32) -> SignedMask {
    let n = pattern.len();
    let keep = ((percent.clamp(0.0, 100.0) / 100.0 * n as f32).round() as usize).max(usize::from(percent > 0.0)).min(n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| pattern[b].abs().total_cmp(&pattern[a].abs()).then(a.cmp(&b)));
    let mut added = vec![0.0; n];
    let mut removed = vec![0.0; n];
    for &i in &order[..keep] {
        if pattern[i] > 0.0 {
            added[i] = pattern[i];
        } else {
            removed[i] = -pattern[i];
        }
    }
    SignedMask { added, removed }
}

/// Per pixel: (number of perturbations > 0 - number < 0) / count, in [-1, 1]. Its sign is the
/// majority sign and its magnitude the agreement.
pub fn sign_agreement(perturbations: &[Vec<f32>]) -> Vec<f32> {
    let n = perturbations.first().map_or(0, |p| p.len());
    let count = perturbations.len().max(1) as f32;
    (0..n)
        .map(|i| perturbations.iter().map(|p| p[i].partial_cmp(&0.0).map_or(0.0, |o| o as i8 as f32)).sum::<f32>() / count)
        .collect()
}

/// Separable Gaussian blur of a 28x28 image, kernel radius ceil(3 sigma), zero outside the image,
/// kernel normalised to sum 1.
pub fn gaussian_smooth(img: &[f32], sigma: f32) -> Vec<f32> {
    if sigma <= 0.0 {
        return img.to_vec();
    }
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r).map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|v| v / total).collect();
    let s = SIDE as isize;
    let pass = |src: &[f32], horizontal: bool| {
        let mut out = vec![0.0f32; src.len()];
        for y in 0..s {
            for x in 0..s {
                let mut acc = 0.0;
                for (j, w) in k.iter().enumerate() {
                    let d = j as isize - r;
                    let (yy, xx) = if horizontal { (y, x + d) } else { (y + d, x) };
                    if (0..s).contains(&yy) && (0..s).contains(&xx) {
                        acc += w * src[(yy * s + xx) as usize];
                    }
                }
                out[(y * s + x) as usize] = acc;
            }
        }
        out
    };
    pass(&pass(img, true), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PIXELS;

    fn img(f: impl Fn(usize) -> f32) -> Vec<f32> {
        (0..PIXELS).map(f).collect()
    }

    #[test]
    fn mean_unit_scales_each_perturbation_first() {
        let a = img(|i| if i == 0 { 3.0 } else { 0.0 });
        let b = img(|i| if i == 1 { -0.5 } else { 0.0 });
        let m = mean_unit(&[a, b, vec![0.0; PIXELS]]);
        assert_eq!((m[0], m[1], m[2]), (0.5, -0.5, 0.0), "each counts once, whatever its size; zeros are skipped");
    }

    #[test]
    fn top_mask_keeps_the_largest_magnitudes_split_by_sign() {
        let p = img(|i| match i {
            10 => 0.9,
            11 => -0.8,
            12 => 0.1,
            _ => 0.01,
        });
        // 2 of 784 pixels is 0.255%.
        let m = top_mask(&p, 0.255);
        assert_eq!(m.added.iter().filter(|v| **v > 0.0).count(), 1);
        assert_eq!((m.added[10], m.removed[11], m.added[12]), (0.9, 0.8, 0.0));
        assert!(m.removed.iter().all(|v| *v >= 0.0));
        assert_eq!(m.signed()[11], -0.8);
        assert_eq!(top_mask(&p, 100.0).signed(), p);
        assert!(top_mask(&p, 0.0).signed().iter().all(|v| *v == 0.0));
    }

    #[test]
    fn sign_agreement_is_majority_sign_times_agreement() {
        let ps = [img(|i| if i == 0 { 1.0 } else { -0.2 }), img(|i| if i == 0 { 0.3 } else { 0.0 }), img(|_| -0.1)];
        let s = sign_agreement(&ps);
        assert!((s[0] - 1.0 / 3.0).abs() < 1e-6, "two up, one down");
        assert!((s[1] + 2.0 / 3.0).abs() < 1e-6, "two down, one zero");
    }

    #[test]
    fn gaussian_smoothing_spreads_a_point_symmetrically_and_keeps_its_mass() {
        let point = img(|i| if i == 14 * 28 + 14 { 1.0 } else { 0.0 });
        let s = gaussian_smooth(&point, 1.0);
        let total: f32 = s.iter().sum();
        assert!((total - 1.0).abs() < 1e-5, "mass {total}");
        let at = |y: usize, x: usize| s[y * 28 + x];
        assert!(at(14, 14) > at(14, 15) && at(14, 15) > at(14, 16));
        assert!((at(14, 15) - at(15, 14)).abs() < 1e-7 && (at(13, 14) - at(14, 13)).abs() < 1e-7);
        // A 1-D Gaussian with sigma 1: neighbour / centre = exp(-1/2).
        assert!((at(14, 15) / at(14, 14) - (-0.5f32).exp()).abs() < 1e-4);
        assert_eq!(gaussian_smooth(&point, 0.0), point);
        let abs = Abstraction { method: PatternMethod::MeanUnit, sigma: 1.0 };
        assert_eq!(abs.pattern(&[point.clone()]), s);
    }
}
