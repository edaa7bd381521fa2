//! JSMA (Papernot et al. 2016), targeted, on the logits: at each iteration the saliency map over
//! pixel pairs (p, q) takes alpha = d z_target / d(x_p + x_q) and beta = the same for the sum of
//! the other logits, and picks the pair with alpha on theta's side, beta on the other, and the
//! largest |alpha * beta|; both pixels move by theta (clamped to [0, 1]) and leave the search
//! domain. It stops when the network predicts the target, when no pair qualifies, or when
//! another pair would change more than gamma x 784 pixels. Untargeted, the target is the
//! class the network ranks second on the start image.

use dough_core::attack::ComputeError;
use dough_core::model::{CLASSES, PIXELS};

use super::{Ctx, Goal, best_other};

pub(crate) struct Jsma {
    /// Per sample, the class it is pushed toward.
    target: Vec<usize>,
    /// Pixels still in the search domain.
    domain: Vec<Vec<bool>>,
    changed: Vec<usize>,
    active: Vec<bool>,
    budget: usize,
    theta: f32,
    started: bool,
}

impl Jsma {
    pub fn new(ctx: &Ctx) -> Self {
        let theta = ctx.params.jsma_theta;
        let domain = (0..ctx.batch())
            .map(|i| ctx.start(i).iter().map(|&v| if theta > 0.0 { v < 1.0 } else { v > 0.0 }).collect())
            .collect();
        Self {
            target: ctx.goals.iter().map(|g| g.class()).collect(),
            domain,
            changed: vec![0; ctx.batch()],
            active: vec![true; ctx.batch()],
            budget: (ctx.params.jsma_gamma * PIXELS as f32).floor() as usize,
            theta,
            started: false,
        }
    }

    /// The best pair of `domain` for gradients `a` (target) and `b` (the others), if any.
    pub(crate) fn best_pair(a: &[f32], b: &[f32], domain: &[bool], theta: f32) -> Option<(usize, usize)> {
        let s = theta.signum();
        let idx: Vec<usize> = (0..PIXELS).filter(|&p| domain[p]).collect();
        let mut best: Option<(f32, usize, usize)> = None;
        for (n, &p) in idx.iter().enumerate() {
            for &q in &idx[n + 1..] {
                let alpha = a[p] + a[q];
                let beta = b[p] + b[q];
                if alpha * s > 0.0 && beta * s < 0.0 {
                    let score = -alpha * beta;
                    if best.is_none_or(|(v, _, _)| score > v) {
                        best = Some((score, p, q));
                    }
                }
            }
        }
        best.map(|(_, p, q)| (p, q))
    }

    pub fn active(&self) -> usize {
        self.active.iter().filter(|&&a| a).count()
    }

    pub async fn step(&mut self, ctx: &mut Ctx) -> Result<bool, ComputeError> {
        let batch = ctx.batch();
        let probe_x: Vec<f32> = ctx.x.iter().chain(ctx.x.iter()).copied().collect();
        let probe = ctx.net.probe(&probe_x).await?;
        let logits = probe.logits[..batch * CLASSES].to_vec();
        if !self.started {
            self.started = true;
            for (i, g) in ctx.goals.iter().enumerate() {
                if let Goal::AwayFrom(l) = *g {
                    self.target[i] = best_other(&logits[i * CLASSES..(i + 1) * CLASSES], l).0;
                }
            }
        }
        for i in 0..batch {
            let row = &logits[i * CLASSES..(i + 1) * CLASSES];
            if self.active[i] && (ctx.goals[i].met(row) || self.changed[i] + 2 > self.budget) {
                self.active[i] = false;
            }
        }
        if !self.active.iter().any(|&a| a) {
            return Ok(true);
        }
        // Rows 0..batch: the target's logit; rows batch..2*batch: the sum of the others.
        let mut coef = vec![0.0f32; 2 * batch * CLASSES];
        for i in 0..batch {
            let t = self.target[i];
            coef[i * CLASSES + t] = 1.0;
            for k in (0..CLASSES).filter(|&k| k != t) {
                coef[(batch + i) * CLASSES + k] = 1.0;
            }
        }
        let g = probe.grad(&coef).await?;
        for i in 0..batch {
            if !self.active[i] {
                continue;
            }
            let a = &g[i * PIXELS..(i + 1) * PIXELS];
            let b = &g[(batch + i) * PIXELS..(batch + i + 1) * PIXELS];
            match Self::best_pair(a, b, &self.domain[i], self.theta) {
                None => self.active[i] = false,
                Some((p, q)) => {
                    for px in [p, q] {
                        let v = &mut ctx.x[i * PIXELS + px];
                        *v = (*v + self.theta).clamp(0.0, 1.0);
                        self.domain[i][px] = false;
                    }
                    self.changed[i] += 2;
                    ctx.iters[i] += 1;
                }
            }
        }
        Ok(false)
    }
}
