//! The study's driver: for every seed of the controlled inputs, the study batch (every input
//! toward every class) on the model and on its untrained twin; then the statistics of those runs
//! (patterns against the dataset's templates with both nulls, the scores over seeds with their
//! permutation p-values, and the planted-feature check), which the page computes in a worker and
//! the CLI in its own process, with the same function.

use crate::attack::{AttackConfig, SampleOutcome};
use crate::plant::Plant;
use crate::study::abstraction::Abstraction;
use crate::study::pipeline::{self, Evolved, StudyResult};
use crate::study::plant_check::{self, PlantCheck};
use crate::study::replicates::{Replicated, study_of_runs};

use super::{Compute, DriveError, Progress, Run, attack_in_pieces, piece_count};

/// One seed of the study: the model's rows and its untrained twin's (start-major, as
/// `pipeline::batch` lays them; the twin's rows are empty when it was not run).
#[derive(Clone, Debug, PartialEq)]
pub struct StudyRun {
    pub seed: u64,
    pub trained: Vec<SampleOutcome>,
    pub untrained: Vec<SampleOutcome>,
}

/// The study batch of one seed: every controlled input of the study toward every class.
pub fn batch(seed: u64) -> Result<(Vec<Vec<f32>>, Vec<usize>), DriveError> {
    let starts: Vec<Vec<f32>> = pipeline::default_inputs(seed).iter().map(|i| i.pixels(None)).collect::<Result<_, _>>().map_err(|e| DriveError::Inputs(e.to_string()))?;
    Ok(pipeline::batch(&starts))
}

/// The study's attacks on `model` (named `name` in the progress) for each of `seeds`, with its
/// untrained twin when `twin` (the statistics' second null); `None` when cancelled.
pub async fn study<C: Compute>(
    c: &C,
    model: &C::Model,
    name: &str,
    seeds: &[u64],
    cfg: &AttackConfig,
    twin: bool,
    progress: &dyn Fn(&Progress),
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<Vec<StudyRun>>, C::Error> {
    let batches: Vec<(Vec<Vec<f32>>, Vec<usize>)> = seeds.iter().map(|&s| batch(s)).collect::<Result<_, _>>()?;
    let per_run = batches.first().map_or(0, |(s, _)| piece_count(c, s.len()));
    let run = Run::new(c.lanes(), per_run * seeds.len() * (1 + usize::from(twin)), 0, progress, cancelled);
    let n = seeds.len();
    let runs = seeds.iter().zip(&batches).enumerate().flat_map(|(k, (&seed, (starts, targets)))| {
        let run = &run;
        let trained_label = format!("attacking {name} (seed {} of {n})", k + 1);
        let twin_label = format!("attacking {name}'s untrained twin (seed {} of {n})", k + 1);
        let trained = async move { attack_in_pieces(c, run, model, None, starts, targets, cfg, &trained_label).await };
        let untrained = async move {
            if !twin {
                return Ok(Some(Vec::new()));
            }
            attack_in_pieces(c, run, model, Some(pipeline::untrained_seed(seed)), starts, targets, cfg, &twin_label).await
        };
        [futures::future::Either::Left(trained), futures::future::Either::Right(untrained)]
    });
    let mut rows: Vec<Option<Vec<SampleOutcome>>> = Vec::with_capacity(2 * n);
    for r in futures::future::join_all(runs).await {
        rows.push(r?);
    }
    if run.cancelled() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(n);
    let mut it = rows.into_iter();
    for &seed in seeds {
        match (it.next().flatten(), it.next().flatten()) {
            (Some(trained), Some(untrained)) => out.push(StudyRun { seed, trained, untrained }),
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// What the study's statistics say of its runs: the first seed's study (the one the page
/// shows), the scores over the seeds (with more than one), and the planted-feature check over
/// every seed's controlled inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyStats {
    pub result: StudyResult,
    pub replicated: Option<Replicated>,
    pub plant: Option<PlantCheck>,
}

/// The statistics of `runs` with `abs` against `templates` (one per class); the planted-feature
/// check uses `plant`'s patch (the default patch when `None`). `None` without runs.
pub fn statistics(runs: &[StudyRun], abs: &Abstraction, templates: &[Vec<f32>], plant: Option<Plant>) -> Option<StudyStats> {
    let evolved: Vec<(u64, Evolved, Option<Evolved>)> = runs
        .iter()
        .map(|r| (r.seed, Evolved::from_outcomes(r.trained.clone()), (!r.untrained.is_empty()).then(|| Evolved::from_outcomes(r.untrained.clone()))))
        .collect();
    let borrowed: Vec<(u64, &Evolved, Option<&Evolved>)> = evolved.iter().map(|(s, t, u)| (*s, t, u.as_ref())).collect();
    let (result, replicated) = study_of_runs(&borrowed, abs, templates)?;
    let l2: Vec<Vec<f32>> = evolved.iter().flat_map(|(_, t, _)| plant_check::norms(t)).collect();
    let seed = evolved.first().map_or(0, |(s, _, _)| *s);
    let plant = plant.unwrap_or_default().mask().ok().and_then(|mask| plant_check::check(&l2, &result.patterns, &mask, seed).ok());
    Some(StudyStats { result, replicated, plant })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drive::fake::{Fake, block_on};
    use crate::study::replicates::replicate_seeds;

    #[test]
    fn the_runs_are_the_same_on_one_lane_and_on_three_and_come_back_in_seed_order() {
        let seeds = replicate_seeds(4, 3);
        let cfg = AttackConfig::default();
        let one = Fake::new(1).whole();
        let three = Fake::new(3);
        let a = block_on(study(&one, &7, "m", &seeds, &cfg, true, &|_| {}, &|| false)).unwrap().unwrap();
        let b = block_on(study(&three, &7, "m", &seeds, &cfg, true, &|_| {}, &|| false)).unwrap().unwrap();
        assert_eq!(a, b);
        assert_eq!(a, block_on(study(&Fake::new(1), &7, "m", &seeds, &cfg, true, &|_| {}, &|| false)).unwrap().unwrap());
        assert_eq!(a.iter().map(|r| r.seed).collect::<Vec<_>>(), seeds);
        // Each seed's rows are its own batch, the twin's from the twin's weights.
        for r in &a {
            let (starts, targets) = batch(r.seed).unwrap();
            assert_eq!(r.trained.iter().map(|o| o.target).collect::<Vec<_>>(), targets);
            assert_eq!(r.trained.iter().map(|o| o.start.clone()).collect::<Vec<_>>(), starts);
            assert!(r.untrained.iter().zip(&r.trained).all(|(u, t)| u.adversarial != t.adversarial));
        }
        // Whole: one task per run; cut: one per controlled input (5 per run).
        assert_eq!(one.attacks(), 6);
        assert_eq!(three.attacks(), 30);
        assert!(three.max_in_flight() > 1, "the pieces run side by side");
    }

    #[test]
    fn progress_counts_every_piece_and_cancel_stops_the_rest() {
        let c = Fake::new(2);
        let seen = std::cell::RefCell::new(Vec::new());
        let out = block_on(study(&c, &1, "m", &[0, 1000], &AttackConfig::default(), false, &|p| seen.borrow_mut().push(p.clone()), &|| false)).unwrap().unwrap();
        assert!(out.iter().all(|r| r.untrained.is_empty()));
        let last = seen.borrow().last().cloned().unwrap();
        assert_eq!((last.attacks_done, last.attacks), (10, 10));
        // Cancelled once two pieces are done: no more attacks start, and the answer is None.
        let c = Fake::new(1).whole();
        let stop = || c.attacks() >= 2;
        let out = block_on(study(&c, &1, "m", &replicate_seeds(0, 4), &AttackConfig::default(), true, &|_| {}, &stop)).unwrap();
        assert!(out.is_none());
        assert_eq!(c.attacks(), 2);
        // A cancelled attack (the compute's own answer) ends the driver with None too.
        let c = Fake::new(2).cancel_at(3);
        assert!(block_on(study(&c, &1, "m", &[0], &AttackConfig::default(), true, &|_| {}, &|| false)).unwrap().is_none());
    }

    #[test]
    fn a_failed_attack_is_the_drivers_error_and_a_short_answer_is_one_too() {
        let c = Fake::new(2).fail_at(2);
        assert_eq!(block_on(study(&c, &1, "m", &[0], &AttackConfig::default(), true, &|_| {}, &|| false)).unwrap_err(), "attack 2 failed");
        let c = Fake::new(1).whole().short_answers();
        let e = block_on(study(&c, &1, "m", &[0], &AttackConfig::default(), true, &|_| {}, &|| false)).unwrap_err();
        assert!(e.contains("answered 49"), "{e}");
    }
}
