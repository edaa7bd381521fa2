//! The zoo overview's driver: the study's attack on every model for every seed of the
//! controlled inputs, then every model's reading of every model's adversarial examples
//! (quantised to 8-bit gray as the page shows them) for the transfer matrices; then the
//! overview's statistics (persistence, transfer, the Mantel tests) from those runs. The page
//! hands the attacks and readings to its pool of workers and the statistics to one worker; the
//! CLI runs all of it in its own process; both through these functions.

use crate::attack::AttackConfig;
use crate::model::PIXELS;
use crate::study::abstraction::Abstraction;
use crate::study::overview::{Overview, predicted, transfer_inputs};
use crate::study::pairs::transfer_rate;
use crate::study::pipeline::Evolved;

use super::study::batch;
use super::{Compute, Progress, Run, attack_in_pieces, piece_count, read};

/// One network of an overview: its name, architecture family and model.
pub struct Net<'a, M> {
    pub name: &'a str,
    pub family: usize,
    pub model: &'a M,
}

/// What the attacks and readings of an overview gave: per model and seed the study's
/// perturbations, and per seed the transfer matrix. The patterns (and so persistence) follow
/// the abstraction, which the statistics take.
#[derive(Clone, Debug, PartialEq)]
pub struct OverviewRuns {
    pub models: Vec<String>,
    pub families: Vec<usize>,
    pub seeds: Vec<u64>,
    /// `[model][seed][row]`, 784 values each (rows start-major, as `pipeline::batch` lays them).
    pub perturbations: Vec<f32>,
    /// Rows per run.
    pub rows: usize,
    /// `transfer[seed][i][j]`: the share of model i's examples that model j assigns to their
    /// targets.
    pub transfer: Vec<Vec<Vec<f32>>>,
    /// The seed of the permutation tests.
    pub seed: u64,
}

impl OverviewRuns {
    /// The overview's statistics with `abs` (p-values from `permutations` relabellings).
    pub fn statistics(&self, abs: &Abstraction, permutations: usize) -> Result<Overview, String> {
        Overview::from_perturbations(self.models.clone(), self.families.clone(), self.seeds.clone(), &self.perturbations, self.rows, &self.transfer, abs, permutations, self.seed)
    }
}

/// The study's attack on every net for every seed: `[net][seed]`; `None` when cancelled.
async fn attacks<C: Compute>(c: &C, run: &Run<'_>, nets: &[Net<'_, C::Model>], seeds: &[u64], cfg: &AttackConfig) -> Result<Option<Vec<Vec<Evolved>>>, C::Error> {
    let batches: Vec<(Vec<Vec<f32>>, Vec<usize>)> = seeds.iter().map(|&s| batch(s)).collect::<Result<_, _>>()?;
    let k = seeds.len();
    let tasks = nets.iter().flat_map(|net| {
        batches.iter().enumerate().map(move |(si, (starts, targets))| async move {
            let label = format!("attacking {} (seed {} of {k})", net.name, si + 1);
            attack_in_pieces(c, run, net.model, None, starts, targets, cfg, &label).await
        })
    });
    let mut all = Vec::with_capacity(nets.len() * k);
    for r in futures::future::join_all(tasks).await {
        match r? {
            Some(rows) => all.push(Evolved::from_outcomes(rows)),
            None => return Ok(None),
        }
    }
    let mut it = all.into_iter();
    Ok(Some(nets.iter().map(|_| it.by_ref().take(k).collect()).collect()))
}

/// The transfer matrix of every seed: `runs[i][k]` (model i's run of seed k) read by every
/// model j; `transfer[k][i][j]`. `None` when cancelled.
async fn transfer<C: Compute>(c: &C, run: &Run<'_>, nets: &[Net<'_, C::Model>], runs: &[Vec<&Evolved>]) -> Result<Option<Vec<Vec<Vec<f32>>>>, C::Error> {
    let n = nets.len();
    let k = runs.first().map_or(0, |r| r.len());
    let inputs: Vec<Vec<(Vec<f32>, Vec<usize>)>> = runs.iter().map(|r| r.iter().map(|e| transfer_inputs(e)).collect()).collect();
    let inputs = &inputs;
    let tasks = (0..k).flat_map(|si| {
        (0..n).flat_map(move |i| {
            (0..n).map(move |j| async move {
                let (images, targets) = &inputs[i][si];
                let label = format!("{} reads {}'s examples (seed {} of {k})", nets[j].name, nets[i].name, si + 1);
                Ok::<_, C::Error>(read(c, run, nets[j].model, images, &label).await?.map(|p| transfer_rate(&predicted(&p), targets)))
            })
        })
    });
    let mut rates = Vec::with_capacity(k * n * n);
    for r in futures::future::join_all(tasks).await {
        match r? {
            Some(rate) => rates.push(rate),
            None => return Ok(None),
        }
    }
    Ok(Some((0..k).map(|si| (0..n).map(|i| (0..n).map(|j| rates[(si * n + i) * n + j]).collect()).collect()).collect()))
}

/// Transfer between runs made elsewhere (the CLI's report attacks every model for its studies
/// first): `runs[i][k]` is model i's study run of seed k; `transfer[k][i][j]`.
pub async fn transfer_of<C: Compute>(c: &C, nets: &[Net<'_, C::Model>], runs: &[Vec<&Evolved>], progress: &dyn Fn(&Progress), cancelled: &dyn Fn() -> bool) -> Result<Option<Vec<Vec<Vec<f32>>>>, C::Error> {
    let k = runs.first().map_or(0, |r| r.len());
    let run = Run::new(c.lanes(), 0, nets.len() * nets.len() * k, progress, cancelled);
    transfer(c, &run, nets, runs).await
}

/// The overview's attacks and readings for `nets` over `seeds` with the attack `cfg`; the
/// permutation tests of its statistics will draw from `seed`. `None` when cancelled.
pub async fn overview<C: Compute>(
    c: &C,
    nets: &[Net<'_, C::Model>],
    seeds: &[u64],
    cfg: &AttackConfig,
    seed: u64,
    progress: &dyn Fn(&Progress),
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<OverviewRuns>, C::Error> {
    let (n, k) = (nets.len(), seeds.len());
    let rows = batch(seeds.first().copied().unwrap_or(seed))?.0.len();
    let run = Run::new(c.lanes(), n * k * piece_count(c, rows), n * n * k, progress, cancelled);
    let Some(evolved) = attacks(c, &run, nets, seeds, cfg).await? else { return Ok(None) };
    let borrowed: Vec<Vec<&Evolved>> = evolved.iter().map(|r| r.iter().collect()).collect();
    let Some(transfer) = transfer(c, &run, nets, &borrowed).await? else { return Ok(None) };
    let perturbations: Vec<f32> = evolved.iter().flatten().flat_map(|e| e.per_input.iter().flatten().flat_map(|o| o.perturbation())).collect();
    debug_assert_eq!(perturbations.len(), n * k * rows * PIXELS);
    Ok(Some(OverviewRuns { models: nets.iter().map(|n| n.name.to_string()).collect(), families: nets.iter().map(|n| n.family).collect(), seeds: seeds.to_vec(), perturbations, rows, transfer, seed }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drive::fake::{Fake, block_on};
    use crate::study::overview::Overview;
    use crate::study::replicates::replicate_seeds;

    fn nets(models: &[u64]) -> Vec<Net<'_, u64>> {
        models.iter().map(|m| Net { name: ["a", "b", "c", "d"][*m as usize], family: (*m % 2) as usize, model: m }).collect()
    }

    #[test]
    fn the_runs_do_not_depend_on_the_lanes_and_their_statistics_are_the_overviews() {
        let models = [0u64, 1, 2];
        let seeds = replicate_seeds(0, 2);
        let cfg = AttackConfig::default();
        let one = Fake::new(1).whole();
        let four = Fake::new(4);
        let a = block_on(overview(&one, &nets(&models), &seeds, &cfg, 5, &|_| {}, &|| false)).unwrap().unwrap();
        let b = block_on(overview(&four, &nets(&models), &seeds, &cfg, 5, &|_| {}, &|| false)).unwrap().unwrap();
        assert_eq!(a, b);
        assert_eq!((one.attacks(), one.readings()), (6, 18));
        assert_eq!((four.attacks(), four.readings()), (30, 18));
        assert_eq!(four.lanes_seen(), 0b1111, "every lane took work");
        // The transfer rates are the readings of the quantised examples.
        for (si, &s) in seeds.iter().enumerate() {
            for i in 0..3u64 {
                let (starts, targets) = batch(s).unwrap();
                let rows: Vec<_> = starts.iter().zip(&targets).map(|(st, &t)| Fake::outcome(i, None, st, t)).collect();
                let (images, targets) = transfer_inputs(&Evolved::from_outcomes(rows));
                for j in 0..3u64 {
                    let p: Vec<f32> = images.chunks(PIXELS).flat_map(|img| Fake::probs(j, img)).collect();
                    assert_eq!(a.transfer[si][i as usize][j as usize], transfer_rate(&predicted(&p), &targets));
                }
            }
        }
        // The statistics equal the overview built from the runs' patterns.
        let abs = Abstraction::default();
        let stats = a.statistics(&abs, 99).unwrap();
        let patterns: Vec<Vec<Vec<Vec<f32>>>> = models
            .iter()
            .map(|&m| {
                seeds
                    .iter()
                    .map(|&s| {
                        let (starts, targets) = batch(s).unwrap();
                        Evolved::from_outcomes(starts.iter().zip(&targets).map(|(st, &t)| Fake::outcome(m, None, st, t)).collect()).patterns(&abs)
                    })
                    .collect()
            })
            .collect();
        let direct = Overview::new(a.models.clone(), a.families.clone(), seeds.clone(), &patterns, &a.transfer, 99, 5).unwrap();
        assert_eq!(stats, direct);
    }

    #[test]
    fn progress_reaches_every_attack_and_reading_and_a_cancel_stops_the_readings() {
        let c = Fake::new(2);
        let last = std::cell::RefCell::new(Progress::default());
        block_on(overview(&c, &nets(&[0, 1]), &[0], &AttackConfig::default(), 0, &|p| *last.borrow_mut() = p.clone(), &|| false)).unwrap().unwrap();
        let p = last.borrow().clone();
        assert_eq!((p.attacks_done, p.attacks, p.readings_done, p.readings), (10, 10, 4, 4));
        let c = Fake::new(2);
        let stop = || c.readings() >= 1;
        assert!(block_on(overview(&c, &nets(&[0, 1]), &[0], &AttackConfig::default(), 0, &|_| {}, &stop)).unwrap().is_none());
        assert!(c.readings() <= 2, "no reading starts after the cancel ({} did)", c.readings());
        let c = Fake::new(2).fail_readings();
        assert!(block_on(overview(&c, &nets(&[0, 1]), &[0], &AttackConfig::default(), 0, &|_| {}, &|| false)).unwrap_err().contains("reading"));
    }
}
