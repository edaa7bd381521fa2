//! FGSM, BIM and PGD: steps along the sign (L-inf) or the normalised direction (L2) of the
//! cross-entropy's gradient, projected back into the eps ball around the start and into [0, 1].
//! FGSM is one step of size eps; BIM starts at the start image; PGD starts at a seeded random
//! point of the ball and keeps, per sample, the best of its restarts.

use dough_core::attack::{ComputeError, StepNorm};
use dough_core::model::{CLASSES, PIXELS};
use dough_core::rng::SeededRng;
use dough_core::suite::AttackMethod;

use super::{Ctx, l2, softmax};

pub(crate) struct Projected {
    norm: StepNorm,
    eps: f32,
    alpha: f32,
    iters: usize,
    restarts: usize,
    random_start: bool,
    seed: u64,
    /// Iteration within the current restart, and the restart.
    k: usize,
    r: usize,
    /// Per sample: the best images over the restarts and their (goal met, -loss).
    best: Vec<f32>,
    best_score: Vec<(bool, f32)>,
}

impl Projected {
    pub fn new(method: AttackMethod, ctx: &Ctx) -> Self {
        let p = &ctx.params;
        let (norm, alpha, iters, restarts, random_start) = match method {
            AttackMethod::Fgsm => (StepNorm::Linf, p.eps, 1, 1, false),
            AttackMethod::Bim => (StepNorm::Linf, p.alpha, p.iters, 1, false),
            _ => (p.pgd_norm, p.alpha, p.iters, p.restarts.max(1), true),
        };
        Self {
            norm,
            eps: p.eps,
            alpha,
            iters: iters.max(1),
            restarts,
            random_start,
            seed: p.seed,
            k: 0,
            r: 0,
            best: ctx.starts.clone(),
            best_score: vec![(false, f32::NEG_INFINITY); ctx.batch()],
        }
    }

    /// The start of a restart: the start image, or a random point of the ball around it.
    pub(crate) fn initial(&self, starts: &[f32], goals: &[super::Goal]) -> Vec<f32> {
        if self.random_start { ball_point(self.seed, self.r, self.norm, self.eps, starts, goals) } else { starts.to_vec() }
    }

    /// Moves `x` one step against `g` and projects it into the ball around `x0` and [0, 1].
    fn update(&self, x: &mut [f32], g: &[f32], x0: &[f32]) {
        match self.norm {
            StepNorm::Linf => {
                for ((v, g), s) in x.iter_mut().zip(g).zip(x0) {
                    let sign = if *g > 0.0 { 1.0 } else if *g < 0.0 { -1.0 } else { 0.0 };
                    *v = (*v - self.alpha * sign).clamp(s - self.eps, s + self.eps).clamp(0.0, 1.0);
                }
            }
            StepNorm::L2 => {
                let gn = l2(g).max(1e-12);
                let mut d: Vec<f32> = x.iter().zip(g).zip(x0).map(|((v, g), s)| v - self.alpha * g / gn - s).collect();
                let dn = l2(&d);
                if dn > self.eps {
                    d.iter_mut().for_each(|v| *v *= self.eps / dn);
                }
                for ((v, d), s) in x.iter_mut().zip(&d).zip(x0) {
                    *v = (s + d).clamp(0.0, 1.0);
                }
            }
        }
    }

    pub async fn step(&mut self, ctx: &mut Ctx) -> Result<bool, ComputeError> {
        if self.k == 0 {
            ctx.x = self.initial(&ctx.starts, &ctx.goals);
        }
        let probe = ctx.net.probe(&ctx.x).await?;
        let coef: Vec<f32> =
            (0..ctx.batch()).flat_map(|i| ctx.goals[i].ce_coef(&probe.logits[i * CLASSES..(i + 1) * CLASSES])).collect();
        let g = probe.grad(&coef).await?;
        for i in 0..ctx.batch() {
            let (a, b) = (i * PIXELS, (i + 1) * PIXELS);
            let x0 = ctx.starts[a..b].to_vec();
            self.update(&mut ctx.x[a..b], &g[a..b], &x0);
            ctx.iters[i] += 1;
        }
        self.k += 1;
        if self.k < self.iters {
            return Ok(false);
        }
        // End of a restart: keep each sample's best result so far.
        if self.restarts > 1 {
            let logits = ctx.net.logits(&ctx.x).await?;
            for i in 0..ctx.batch() {
                let row = &logits[i * CLASSES..(i + 1) * CLASSES];
                let goal = ctx.goals[i];
                let p = softmax(row)[goal.class()].max(1e-30).ln();
                let score = (goal.met(row), if matches!(goal, super::Goal::Toward(_)) { p } else { -p });
                if (score.0 && !self.best_score[i].0) || (score.0 == self.best_score[i].0 && score.1 > self.best_score[i].1) {
                    self.best_score[i] = score;
                    self.best[i * PIXELS..(i + 1) * PIXELS].copy_from_slice(&ctx.x[i * PIXELS..(i + 1) * PIXELS]);
                }
            }
        }
        self.k = 0;
        self.r += 1;
        Ok(self.r >= self.restarts)
    }

    pub fn result(&self, ctx: &Ctx) -> Vec<f32> {
        if self.restarts > 1 && self.r >= self.restarts { self.best.clone() } else { ctx.x.clone() }
    }
}

/// The random numbers of one row's start in `restart`: drawn from the run's seed, the restart
/// and the row itself (its start image and goal), so that a row gets the same point whichever
/// batch, or slice of the page's pool, it runs in.
pub(crate) fn row_rng(seed: u64, restart: usize, start: &[f32], goal: super::Goal) -> SeededRng {
    let away = u64::from(matches!(goal, super::Goal::AwayFrom(_)));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for v in [restart as u64, goal.class() as u64, away].into_iter().chain(start.iter().map(|p| p.to_bits() as u64)) {
        h = (h ^ v).wrapping_mul(0x0000_0100_0000_01b3);
    }
    SeededRng::new(h)
}

/// A random point of the eps ball around each image of `starts` (uniform per pixel for L-inf;
/// a uniform radius along a Gaussian direction for L2), clamped to [0, 1]: PGD's random start
/// in `restart`, each row's from [`row_rng`].
pub(crate) fn ball_point(seed: u64, restart: usize, norm: StepNorm, eps: f32, starts: &[f32], goals: &[super::Goal]) -> Vec<f32> {
    let mut x = starts.to_vec();
    for (row, goal) in x.chunks_mut(PIXELS).zip(goals) {
        let mut rng = row_rng(seed, restart, row, *goal);
        let rng = &mut rng;
        let noise: Vec<f32> = match norm {
            StepNorm::Linf => (0..PIXELS).map(|_| rng.uniform(-eps, eps)).collect(),
            StepNorm::L2 => {
                let d: Vec<f32> = (0..PIXELS).map(|_| rng.normal()).collect();
                let radius = eps * rng.next_f32() / l2(&d).max(1e-12);
                d.iter().map(|v| v * radius).collect()
            }
        };
        for (v, n) in row.iter_mut().zip(noise) {
            *v = (*v + n).clamp(0.0, 1.0);
        }
    }
    x
}
