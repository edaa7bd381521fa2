//! DeepFool (Moosavi-Dezfooli et al. 2016): linearise the classifier at the current image and
//! step onto the nearest linearised decision boundary; the summed steps, times (1 + overshoot),
//! are added to the start. Untargeted, the boundary is the nearest one of the start's class
//! against any other; targeted, it is the boundary of the target against the class the network
//! currently predicts. Each iteration stops the samples that already meet their goal.

use dough_core::attack::ComputeError;
use dough_core::model::{CLASSES, PIXELS};

use super::{Ctx, Goal, argmax};

/// Keeps a step from landing exactly on the boundary.
const NUDGE: f32 = 1e-4;

pub(crate) struct Deepfool {
    /// The summed linearised steps per sample.
    total: Vec<f32>,
    active: Vec<bool>,
    k: usize,
}

impl Deepfool {
    pub fn new(ctx: &Ctx) -> Self {
        Self { total: vec![0.0; ctx.starts.len()], active: vec![true; ctx.batch()], k: 0 }
    }

    /// The step `(|f| + NUDGE) / ||w||^2 * w` onto the boundary `f + w . r = 0`.
    pub(crate) fn boundary_step(f: f32, w: &[f32]) -> Vec<f32> {
        let ww = w.iter().map(|v| v * v).sum::<f32>().max(1e-12);
        let s = (f.abs() + NUDGE) / ww;
        w.iter().map(|v| v * s).collect()
    }

    pub fn active(&self) -> usize {
        self.active.iter().filter(|&&a| a).count()
    }

    pub async fn step(&mut self, ctx: &mut Ctx) -> Result<bool, ComputeError> {
        let batch = ctx.batch();
        let logits = ctx.net.logits(&ctx.x).await?;
        for i in 0..batch {
            if self.active[i] && ctx.goals[i].met(&logits[i * CLASSES..(i + 1) * CLASSES]) {
                self.active[i] = false;
            }
        }
        let live: Vec<usize> = (0..batch).filter(|&i| self.active[i]).collect();
        if live.is_empty() || self.k >= ctx.params.iters {
            return Ok(true);
        }
        // One gradient row per (sample, class considered): targeted samples need the gradient
        // of z_target - z_predicted, untargeted ones that of z_k - z_label for every k.
        let mut rows: Vec<(usize, usize, usize)> = Vec::new(); // (sample, k, reference class)
        for &i in &live {
            let row = &logits[i * CLASSES..(i + 1) * CLASSES];
            match ctx.goals[i] {
                Goal::Toward(t) => rows.push((i, t, argmax(row))),
                Goal::AwayFrom(l) => rows.extend((0..CLASSES).filter(|&k| k != l).map(|k| (i, k, l))),
            }
        }
        let mut x = Vec::with_capacity(rows.len() * PIXELS);
        let mut coef = vec![0.0f32; rows.len() * CLASSES];
        for (r, &(i, k, reference)) in rows.iter().enumerate() {
            x.extend_from_slice(&ctx.x[i * PIXELS..(i + 1) * PIXELS]);
            coef[r * CLASSES + k] += 1.0;
            coef[r * CLASSES + reference] -= 1.0;
        }
        let probe = ctx.net.probe(&x).await?;
        let g = probe.grad(&coef).await?;
        // Per sample, the nearest boundary among its rows.
        let mut chosen: Vec<Option<(f32, usize)>> = vec![None; batch]; // (distance, row)
        for (r, &(i, k, reference)) in rows.iter().enumerate() {
            let f = logits[i * CLASSES + k] - logits[i * CLASSES + reference];
            let w = &g[r * PIXELS..(r + 1) * PIXELS];
            let dist = f.abs() / super::l2(w).max(1e-12);
            if chosen[i].is_none_or(|(d, _)| dist < d) {
                chosen[i] = Some((dist, r));
            }
        }
        let over = 1.0 + ctx.params.overshoot;
        for &i in &live {
            let Some((_, r)) = chosen[i] else { continue };
            let (_, k, reference) = rows[r];
            let f = logits[i * CLASSES + k] - logits[i * CLASSES + reference];
            let step = Self::boundary_step(f, &g[r * PIXELS..(r + 1) * PIXELS]);
            for p in 0..PIXELS {
                let t = &mut self.total[i * PIXELS + p];
                *t += step[p];
                ctx.x[i * PIXELS + p] = (ctx.starts[i * PIXELS + p] + over * *t).clamp(0.0, 1.0);
            }
            ctx.iters[i] += 1;
        }
        self.k += 1;
        Ok(false)
    }
}
