//! Carlini & Wagner L2 (2017): the image is `(tanh(w) + 1) / 2`, and Adam minimises
//! `||x - x0||^2 + c * max(z_other - z_target, -k)` over `w` (untargeted: `max(z_label -
//! z_other, -k)`, z_other the largest other logit). A binary search per sample adjusts c over
//! the search steps: after a search step that found an adversarial example c is halved toward
//! the last failure, else raised (x10 until one succeeds). The smallest adversarial example
//! found at any iteration is returned; a sample that never succeeded returns the last image
//! (its outcome then says "not reached").

use dough_core::attack::ComputeError;
use dough_core::model::{CLASSES, PIXELS};

use super::{Ctx, Goal, best_other};

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const ADAM_EPS: f32 = 1e-8;
/// Upper bound of c before any success.
const C_MAX: f32 = 1e10;

pub(crate) struct Cw {
    c: Vec<f32>,
    lo: Vec<f32>,
    hi: Vec<f32>,
    best_l2: Vec<f32>,
    best: Vec<f32>,
    found_this_search: Vec<bool>,
    w: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    k: usize,
    search: usize,
}

/// The margin term `f` for the logits `row` and its two classes (the one to raise first).
pub(crate) fn margin(row: &[f32], goal: Goal, conf: f32) -> (f32, usize, usize) {
    match goal {
        Goal::Toward(t) => {
            let (o, zo) = best_other(row, t);
            ((zo - row[t]).max(-conf), o, t)
        }
        Goal::AwayFrom(l) => {
            let (o, zo) = best_other(row, l);
            ((row[l] - zo).max(-conf), l, o)
        }
    }
}

impl Cw {
    pub fn new(ctx: &Ctx) -> Self {
        let b = ctx.batch();
        let n = ctx.starts.len();
        Self {
            c: vec![ctx.params.cw_c; b],
            lo: vec![0.0; b],
            hi: vec![C_MAX; b],
            best_l2: vec![f32::INFINITY; b],
            best: ctx.starts.clone(),
            found_this_search: vec![false; b],
            w: vec![0.0; n],
            m: vec![0.0; n],
            v: vec![0.0; n],
            k: 0,
            search: 0,
        }
    }

    fn to_image(w: f32) -> f32 {
        (w.tanh() + 1.0) / 2.0
    }

    pub async fn step(&mut self, ctx: &mut Ctx) -> Result<bool, ComputeError> {
        let batch = ctx.batch();
        let p = ctx.params.clone();
        if self.k == 0 {
            // A new search step starts from the start image with a fresh optimiser.
            self.w = ctx.starts.iter().map(|&x| ((2.0 * x - 1.0) * 0.999_999).atanh()).collect();
            self.m.iter_mut().for_each(|v| *v = 0.0);
            self.v.iter_mut().for_each(|v| *v = 0.0);
            self.found_this_search.iter_mut().for_each(|f| *f = false);
        }
        ctx.x = self.w.iter().map(|&w| Self::to_image(w)).collect();
        let probe = ctx.net.probe(&ctx.x).await?;
        let mut coef = vec![0.0f32; batch * CLASSES];
        for i in 0..batch {
            let row = &probe.logits[i * CLASSES..(i + 1) * CLASSES];
            let goal = ctx.goals[i];
            let (f, up, down) = margin(row, goal, p.cw_conf);
            // Success with the confidence margin: f reached -k (and the goal is met).
            if f <= -p.cw_conf && goal.met(row) {
                let (a, b) = (i * PIXELS, (i + 1) * PIXELS);
                let d = super::l2(&ctx.x[a..b].iter().zip(&ctx.starts[a..b]).map(|(x, s)| x - s).collect::<Vec<_>>());
                self.found_this_search[i] = true;
                if d < self.best_l2[i] {
                    self.best_l2[i] = d;
                    self.best[a..b].copy_from_slice(&ctx.x[a..b]);
                }
            }
            if f > -p.cw_conf {
                coef[i * CLASSES + up] = self.c[i];
                coef[i * CLASSES + down] = -self.c[i];
            }
        }
        let g = probe.grad(&coef).await?;
        // Adam on w: d/dw of ||x - x0||^2 + c f, with dx/dw = (1 - tanh^2 w) / 2 = 2 x (1 - x).
        let t = (self.k + 1) as i32;
        let (bc1, bc2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        for j in 0..self.w.len() {
            let x = ctx.x[j];
            let gw = (2.0 * (x - ctx.starts[j]) + g[j]) * 2.0 * x * (1.0 - x);
            self.m[j] = BETA1 * self.m[j] + (1.0 - BETA1) * gw;
            self.v[j] = BETA2 * self.v[j] + (1.0 - BETA2) * gw * gw;
            self.w[j] -= p.cw_lr * (self.m[j] / bc1) / ((self.v[j] / bc2).sqrt() + ADAM_EPS);
        }
        ctx.x = self.w.iter().map(|&w| Self::to_image(w)).collect();
        for it in ctx.iters.iter_mut() {
            *it += 1;
        }
        self.k += 1;
        if self.k < p.iters {
            return Ok(false);
        }
        // End of a search step: the binary search on c.
        for i in 0..batch {
            if self.found_this_search[i] {
                self.hi[i] = self.hi[i].min(self.c[i]);
                self.c[i] = (self.lo[i] + self.hi[i]) / 2.0;
            } else {
                self.lo[i] = self.lo[i].max(self.c[i]);
                self.c[i] = if self.hi[i] < C_MAX { (self.lo[i] + self.hi[i]) / 2.0 } else { self.c[i] * 10.0 };
            }
        }
        self.k = 0;
        self.search += 1;
        Ok(self.search >= p.cw_search)
    }

    /// The smallest adversarial example of each sample, or its last image if none was found.
    pub fn result(&self, ctx: &Ctx) -> Vec<f32> {
        super::best_or_current(ctx, &self.best, &self.best_l2)
    }
}
