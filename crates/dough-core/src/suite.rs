//! The attack suite's settings: which method runs (minimal evolution or one of the classic
//! attacks FGSM, BIM, PGD, C&W L2, DeepFool, JSMA, DDN), each method's parameters with their
//! ranges, and whether an attack is targeted. The attacks themselves run on Burn in
//! `dough_compute::suite`.

use serde::{Deserialize, Serialize};

use crate::attack::StepNorm;

/// An attack method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttackMethod {
    /// Minimal evolution: normalised gradient steps until the target confidence reaches kappa.
    #[default]
    Evolve,
    /// Fast gradient sign method: one signed step of size eps.
    Fgsm,
    /// Basic iterative method (I-FGSM): signed steps of size alpha, projected to the eps ball.
    Bim,
    /// Projected gradient descent: BIM from a random start in the ball, L-inf or L2, restarts.
    Pgd,
    /// Carlini & Wagner L2: Adam on the tanh-space objective, binary search on c.
    Cw,
    /// DeepFool: linearised boundary steps (minimal L2), with overshoot.
    Deepfool,
    /// Jacobian saliency map attack: changes pixel pairs chosen by the saliency map (L0).
    Jsma,
    /// Decoupled direction and norm: minimal L2.
    Ddn,
}

impl AttackMethod {
    pub const ALL: [AttackMethod; 8] =
        [AttackMethod::Evolve, AttackMethod::Fgsm, AttackMethod::Bim, AttackMethod::Pgd, AttackMethod::Cw, AttackMethod::Deepfool, AttackMethod::Jsma, AttackMethod::Ddn];

    /// The URL value (`attack=`).
    pub fn slug(self) -> &'static str {
        match self {
            AttackMethod::Evolve => "evolve",
            AttackMethod::Fgsm => "fgsm",
            AttackMethod::Bim => "bim",
            AttackMethod::Pgd => "pgd",
            AttackMethod::Cw => "cw",
            AttackMethod::Deepfool => "deepfool",
            AttackMethod::Jsma => "jsma",
            AttackMethod::Ddn => "ddn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.slug() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            AttackMethod::Evolve => "minimal evolution",
            AttackMethod::Fgsm => "FGSM",
            AttackMethod::Bim => "BIM (I-FGSM)",
            AttackMethod::Pgd => "PGD",
            AttackMethod::Cw => "C&W L2",
            AttackMethod::Deepfool => "DeepFool",
            AttackMethod::Jsma => "JSMA",
            AttackMethod::Ddn => "DDN",
        }
    }

    /// Every method in the suite can be run toward a given class; the untargeted variants
    /// (away from the start's class) are used by the minimality benchmark.
    pub fn can_target(self) -> bool {
        true
    }

    /// The parameters (names as in [`Param`]) this method reads.
    pub fn params(self) -> &'static [Param] {
        use Param::*;
        match self {
            AttackMethod::Evolve => &[],
            AttackMethod::Fgsm => &[Eps],
            AttackMethod::Bim => &[Eps, Alpha, Iters],
            AttackMethod::Pgd => &[PgdNorm, Eps, Alpha, Iters, Restarts],
            AttackMethod::Cw => &[CwC, CwSearch, Iters, CwConf, CwLr],
            AttackMethod::Deepfool => &[Iters, Overshoot],
            AttackMethod::Jsma => &[JsmaGamma, JsmaTheta],
            AttackMethod::Ddn => &[Iters, DdnGamma, DdnInit],
        }
    }

    /// A one-line description for the page.
    pub fn describe(self) -> &'static str {
        match self {
            AttackMethod::Evolve => "steps along the normalised gradient until the target reaches kappa",
            AttackMethod::Fgsm => "one signed gradient step of size eps",
            AttackMethod::Bim => "signed steps of size alpha, kept inside the eps ball",
            AttackMethod::Pgd => "BIM from a random start in the eps ball (L-inf or L2), best of the restarts",
            AttackMethod::Cw => "Adam on the tanh-space C&W objective, binary search on c (minimal L2)",
            AttackMethod::Deepfool => "linearised steps onto the decision boundary, times (1 + overshoot) (minimal L2)",
            AttackMethod::Jsma => "sets the pixel pairs that the saliency map picks (few pixels, L0)",
            AttackMethod::Ddn => "decoupled direction and norm: a step along the gradient, then the norm shrinks or grows (minimal L2)",
        }
    }
}

/// One parameter of the suite's methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    Eps,
    Alpha,
    Iters,
    PgdNorm,
    Restarts,
    CwC,
    CwSearch,
    CwConf,
    CwLr,
    Overshoot,
    JsmaGamma,
    JsmaTheta,
    DdnGamma,
    DdnInit,
}

impl Param {
    /// The URL key.
    pub fn key(self) -> &'static str {
        match self {
            Param::Eps => "eps",
            Param::Alpha => "alpha",
            Param::Iters => "iters",
            Param::PgdNorm => "pgd-norm",
            Param::Restarts => "restarts",
            Param::CwC => "cw-c",
            Param::CwSearch => "cw-search",
            Param::CwConf => "cw-conf",
            Param::CwLr => "cw-lr",
            Param::Overshoot => "overshoot",
            Param::JsmaGamma => "jsma-gamma",
            Param::JsmaTheta => "jsma-theta",
            Param::DdnGamma => "ddn-gamma",
            Param::DdnInit => "ddn-init",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Param::Eps => "eps (ball radius)",
            Param::Alpha => "step alpha",
            Param::Iters => "iterations",
            Param::PgdNorm => "ball",
            Param::Restarts => "restarts",
            Param::CwC => "initial c",
            Param::CwSearch => "binary search steps",
            Param::CwConf => "confidence k",
            Param::CwLr => "learning rate",
            Param::Overshoot => "overshoot",
            Param::JsmaGamma => "gamma (max share of pixels)",
            Param::JsmaTheta => "theta (change per pixel)",
            Param::DdnGamma => "gamma (norm change)",
            Param::DdnInit => "initial norm",
        }
    }

    /// The allowed range of a numeric parameter (`PgdNorm` is l2|linf).
    pub fn range(self) -> (f32, f32) {
        match self {
            Param::Eps => (0.0, 28.0),
            Param::Alpha => (1e-4, 10.0),
            Param::Iters => (1.0, 2000.0),
            Param::PgdNorm => (0.0, 0.0),
            Param::Restarts => (1.0, 20.0),
            Param::CwC => (1e-4, 1e4),
            Param::CwSearch => (1.0, 20.0),
            Param::CwConf => (0.0, 50.0),
            Param::CwLr => (1e-4, 1.0),
            Param::Overshoot => (0.0, 1.0),
            Param::JsmaGamma => (0.0, 1.0),
            Param::JsmaTheta => (-1.0, 1.0),
            Param::DdnGamma => (1e-3, 0.5),
            Param::DdnInit => (1e-3, 28.0),
        }
    }

    /// Whether the value is a whole number.
    pub fn integer(self) -> bool {
        matches!(self, Param::Iters | Param::Restarts | Param::CwSearch)
    }
}

/// Every method's parameters (each method reads its own, see [`AttackMethod::params`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SuiteParams {
    /// FGSM, BIM, PGD: radius of the ball around the start.
    pub eps: f32,
    /// BIM, PGD: step size.
    pub alpha: f32,
    /// BIM, PGD (per restart), C&W (per search step), DeepFool (at most), DDN.
    pub iters: usize,
    /// PGD's ball.
    pub pgd_norm: StepNorm,
    pub restarts: usize,
    pub cw_c: f32,
    pub cw_search: usize,
    pub cw_conf: f32,
    pub cw_lr: f32,
    pub overshoot: f32,
    pub jsma_gamma: f32,
    /// > 0 raises pixels, < 0 lowers them.
    pub jsma_theta: f32,
    pub ddn_gamma: f32,
    pub ddn_init: f32,
    /// Seed of PGD's random starts.
    pub seed: u64,
}

impl Default for SuiteParams {
    fn default() -> Self {
        Self {
            eps: 0.3,
            alpha: 0.01,
            iters: 100,
            pgd_norm: StepNorm::Linf,
            restarts: 1,
            cw_c: 1.0,
            cw_search: 5,
            cw_conf: 0.0,
            cw_lr: 0.05,
            overshoot: 0.02,
            jsma_gamma: 0.1,
            jsma_theta: 1.0,
            ddn_gamma: 0.05,
            ddn_init: 1.0,
            seed: 0,
        }
    }
}

impl SuiteParams {
    /// The value of a numeric parameter (`PgdNorm`: 0 for L2, 1 for L-inf).
    pub fn get(&self, p: Param) -> f32 {
        match p {
            Param::Eps => self.eps,
            Param::Alpha => self.alpha,
            Param::Iters => self.iters as f32,
            Param::PgdNorm => (self.pgd_norm == StepNorm::Linf) as u8 as f32,
            Param::Restarts => self.restarts as f32,
            Param::CwC => self.cw_c,
            Param::CwSearch => self.cw_search as f32,
            Param::CwConf => self.cw_conf,
            Param::CwLr => self.cw_lr,
            Param::Overshoot => self.overshoot,
            Param::JsmaGamma => self.jsma_gamma,
            Param::JsmaTheta => self.jsma_theta,
            Param::DdnGamma => self.ddn_gamma,
            Param::DdnInit => self.ddn_init,
        }
    }

    /// Sets a numeric parameter, clamped to its range (whole numbers rounded).
    pub fn set(&mut self, p: Param, v: f32) {
        let (lo, hi) = p.range();
        let v = if p.integer() { v.round() } else { v };
        let v = if p == Param::PgdNorm { v } else { v.clamp(lo, hi) };
        match p {
            Param::Eps => self.eps = v,
            Param::Alpha => self.alpha = v,
            Param::Iters => self.iters = v as usize,
            Param::PgdNorm => self.pgd_norm = if v >= 0.5 { StepNorm::Linf } else { StepNorm::L2 },
            Param::Restarts => self.restarts = v as usize,
            Param::CwC => self.cw_c = v,
            Param::CwSearch => self.cw_search = v as usize,
            Param::CwConf => self.cw_conf = v,
            Param::CwLr => self.cw_lr = v,
            Param::Overshoot => self.overshoot = v,
            Param::JsmaGamma => self.jsma_gamma = v,
            Param::JsmaTheta => self.jsma_theta = v,
            Param::DdnGamma => self.ddn_gamma = v,
            Param::DdnInit => self.ddn_init = v,
        }
    }

    /// Checks what `method` reads; the message names the parameter and its range.
    pub fn validate(&self, method: AttackMethod) -> Result<(), String> {
        for &p in method.params() {
            if p == Param::PgdNorm {
                continue;
            }
            let v = self.get(p);
            let (lo, hi) = p.range();
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(format!("{} ({}) must lie in [{lo}, {hi}], got {v}", p.label(), p.key()));
            }
        }
        if method == AttackMethod::Jsma && self.jsma_theta == 0.0 {
            return Err("JSMA's theta must not be 0 (> 0 raises pixels, < 0 lowers them)".into());
        }
        Ok(())
    }

    /// The number of forward-backward passes the method takes at most (for the progress bar).
    pub fn max_iterations(&self, method: AttackMethod) -> usize {
        match method {
            AttackMethod::Evolve => 0,
            AttackMethod::Fgsm => 1,
            AttackMethod::Bim => self.iters,
            AttackMethod::Pgd => self.iters * self.restarts.max(1),
            AttackMethod::Cw => self.iters * self.cw_search.max(1),
            AttackMethod::Deepfool | AttackMethod::Ddn => self.iters,
            AttackMethod::Jsma => (self.jsma_gamma * crate::model::PIXELS as f32 / 2.0).floor() as usize,
        }
    }
}

/// One method's row of the minimality benchmark: how often it succeeds and how small its
/// successful perturbations are (norms over the successful samples only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinimalitySummary {
    pub method: AttackMethod,
    pub images: usize,
    pub success_rate: f32,
    pub median_l2: f32,
    pub mean_l2: f32,
    pub median_linf: f32,
    pub median_l0: f32,
    /// Mean iterations (gradient steps) per image.
    pub mean_iterations: f32,
    /// Wall time per image, in milliseconds.
    pub ms_per_image: f64,
}

fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

impl MinimalitySummary {
    pub fn new(method: AttackMethod, outcomes: &[crate::attack::SampleOutcome], wall_ms: f64) -> Self {
        let ok: Vec<&crate::attack::SampleOutcome> = outcomes.iter().filter(|o| o.reached).collect();
        let n = outcomes.len().max(1);
        Self {
            method,
            images: outcomes.len(),
            success_rate: ok.len() as f32 / n as f32,
            median_l2: median(ok.iter().map(|o| o.l2).collect()),
            mean_l2: if ok.is_empty() { f32::NAN } else { ok.iter().map(|o| o.l2).sum::<f32>() / ok.len() as f32 },
            median_linf: median(ok.iter().map(|o| o.linf).collect()),
            median_l0: median(ok.iter().map(|o| o.l0 as f32).collect()),
            mean_iterations: outcomes.iter().map(|o| o.steps as f32).sum::<f32>() / n as f32,
            ms_per_image: wall_ms / n as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::SampleOutcome;

    #[test]
    fn minimality_counts_norms_of_successes_only() {
        let o = |l2: f32, reached: bool, steps: usize| SampleOutcome {
            target: 0,
            start: vec![],
            adversarial: vec![],
            predicted: 1,
            confidence: 0.6,
            steps,
            l2,
            linf: l2 / 4.0,
            l0: 10,
            reached,
            away: true,
        };
        let s = MinimalitySummary::new(AttackMethod::Ddn, &[o(1.0, true, 10), o(3.0, true, 20), o(100.0, false, 30), o(2.0, true, 40)], 400.0);
        assert_eq!((s.images, s.success_rate), (4, 0.75));
        assert_eq!((s.median_l2, s.mean_l2, s.median_linf, s.median_l0), (2.0, 2.0, 0.5, 10.0));
        assert_eq!((s.mean_iterations, s.ms_per_image), (25.0, 100.0));
        assert!(MinimalitySummary::new(AttackMethod::Cw, &[o(1.0, false, 1)], 1.0).median_l2.is_nan());
    }

    #[test]
    fn slugs_round_trip_and_params_clamp() {
        for m in AttackMethod::ALL {
            assert_eq!(AttackMethod::parse(m.slug()), Some(m));
            assert!(SuiteParams::default().validate(m).is_ok(), "{m:?} defaults invalid");
        }
        assert_eq!(AttackMethod::parse("cwl2"), None);
        let mut p = SuiteParams::default();
        p.set(Param::Iters, 1e9);
        assert_eq!(p.iters, 2000);
        p.set(Param::JsmaGamma, -1.0);
        assert_eq!(p.jsma_gamma, 0.0);
        p.eps = f32::NAN;
        assert!(p.validate(AttackMethod::Fgsm).unwrap_err().contains("eps"));
        assert!(p.validate(AttackMethod::Cw).is_ok(), "C&W does not read eps");
        p.set(Param::PgdNorm, 0.0);
        assert_eq!(p.pgd_norm, StepNorm::L2);
    }
}
