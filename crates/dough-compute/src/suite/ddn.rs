//! Decoupled direction and norm (Rony et al. 2019), minimal L2: each iteration steps the
//! perturbation along the normalised gradient of the cross-entropy (step size cosine-annealed
//! from 1 to 0.01), then rescales it to a norm eps that shrinks by (1 - gamma) while the image
//! is adversarial and grows by (1 + gamma) while it is not. The smallest adversarial image seen
//! is returned.

use dough_core::attack::ComputeError;
use dough_core::model::{CLASSES, PIXELS};

use super::{Ctx, l2};

const ALPHA_MIN: f32 = 0.01;

pub(crate) struct Ddn {
    delta: Vec<f32>,
    eps: Vec<f32>,
    best_l2: Vec<f32>,
    best: Vec<f32>,
    k: usize,
}

impl Ddn {
    pub fn new(ctx: &Ctx) -> Self {
        Self {
            delta: vec![0.0; ctx.starts.len()],
            eps: vec![ctx.params.ddn_init; ctx.batch()],
            best_l2: vec![f32::INFINITY; ctx.batch()],
            best: ctx.starts.clone(),
            k: 0,
        }
    }

    pub async fn step(&mut self, ctx: &mut Ctx) -> Result<bool, ComputeError> {
        let steps = ctx.params.iters.max(1);
        if self.k >= steps {
            // The last iterate counts too.
            let logits = ctx.net.logits(&ctx.x).await?;
            for i in 0..ctx.batch() {
                let (a, b) = (i * PIXELS, (i + 1) * PIXELS);
                let norm = l2(&self.delta[a..b]);
                if ctx.goals[i].met(&logits[i * CLASSES..(i + 1) * CLASSES]) && norm < self.best_l2[i] {
                    self.best_l2[i] = norm;
                    self.best[a..b].copy_from_slice(&ctx.x[a..b]);
                }
            }
            return Ok(true);
        }
        let probe = ctx.net.probe(&ctx.x).await?;
        let mut adversarial = vec![false; ctx.batch()];
        let mut coef = Vec::with_capacity(ctx.batch() * CLASSES);
        for i in 0..ctx.batch() {
            let (a, b) = (i * PIXELS, (i + 1) * PIXELS);
            let row = &probe.logits[i * CLASSES..(i + 1) * CLASSES];
            adversarial[i] = ctx.goals[i].met(row);
            let norm = l2(&self.delta[a..b]);
            if adversarial[i] && norm < self.best_l2[i] {
                self.best_l2[i] = norm;
                self.best[a..b].copy_from_slice(&ctx.x[a..b]);
            }
            coef.extend(ctx.goals[i].ce_coef(row));
        }
        let g = probe.grad(&coef).await?;
        let alpha = ALPHA_MIN + (1.0 - ALPHA_MIN) * (1.0 + (std::f32::consts::PI * self.k as f32 / steps as f32).cos()) / 2.0;
        let gamma = ctx.params.ddn_gamma;
        for i in 0..ctx.batch() {
            let (a, b) = (i * PIXELS, (i + 1) * PIXELS);
            let gn = l2(&g[a..b]).max(1e-12);
            let d = &mut self.delta[a..b];
            for (dv, gv) in d.iter_mut().zip(&g[a..b]) {
                *dv -= alpha * gv / gn;
            }
            self.eps[i] *= if adversarial[i] { 1.0 - gamma } else { 1.0 + gamma };
            let dn = l2(d).max(1e-12);
            for (p, dv) in d.iter_mut().enumerate() {
                let s = ctx.starts[a + p];
                let x = (s + *dv * self.eps[i] / dn).clamp(0.0, 1.0);
                *dv = x - s;
                ctx.x[a + p] = x;
            }
            ctx.iters[i] += 1;
        }
        self.k += 1;
        Ok(false)
    }

    /// The smallest adversarial image of each sample, or its last one if none was found.
    pub fn result(&self, ctx: &Ctx) -> Vec<f32> {
        super::best_or_current(ctx, &self.best, &self.best_l2)
    }
}
