//! The zoo overview in the app: the study's attack on every chosen model of the dataset for each
//! seed, then every model's reading of every other model's adversarial examples, shared out
//! over the pool's workers (each worker gets a model's bytes once, into its cache; model A stays
//! the workers' current model). The persistence and transfer matrices are then computed in a
//! worker by `dough_core::study::overview` from the stored perturbations, so a new abstraction
//! recomputes them without a new attack and without work on the page's thread.

use leptos::prelude::*;
use leptos::task::spawn_local;

use dough_core::manifest::ModelEntry;
use dough_core::protocol::Request;
use dough_core::settings::OverviewModels;
use dough_core::study::abstraction::Abstraction;
use dough_core::study::overview::{Overview, family, predicted, transfer_inputs};
use dough_core::study::pairs::transfer_rate;
use dough_core::study::pipeline::{self, Evolved};
use dough_core::study::replicates::replicate_seeds;

use super::Page;
use crate::assets::LoadedModel;
use crate::components::overview::{OverviewProgress, OverviewStatus};
use crate::job_slot::JobSlot;
use crate::pool;
use crate::worker_handle::{AttackEnd, ClientError, WorkerHandle};

/// What the workers computed for an overview: per model and seed the study's perturbations, and
/// per seed the transfer matrix. Patterns (and so persistence) follow the abstraction settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OverviewRuns {
    pub models: Vec<String>,
    pub families: Vec<usize>,
    pub seeds: Vec<u64>,
    /// `[model][seed][row]`, 784 values each (rows start-major, as `pipeline::batch` lays them).
    pub perturbations: Vec<f32>,
    /// Rows per run.
    pub rows: usize,
    /// `transfer[seed][i][j]`.
    pub transfer: Vec<Vec<Vec<f32>>>,
    /// The seed of the permutation tests.
    pub seed: u64,
}

impl OverviewRuns {
    /// The request for the overview's statistics with `abstraction` (the perturbations travel
    /// beside it).
    pub fn request(&self, id: u32, abstraction: Abstraction) -> Request {
        Request::Overview {
            id,
            models: self.models.clone(),
            families: self.families.clone(),
            seeds: self.seeds.clone(),
            rows: self.rows,
            transfer: self.transfer.clone(),
            abstraction,
            seed: self.seed,
        }
    }
}

#[derive(Clone, Copy)]
pub(super) struct OverviewStore {
    pub runs: RwSignal<Option<OverviewRuns>>,
    pub status: RwSignal<OverviewStatus>,
    pub progress: RwSignal<OverviewProgress>,
    pub error: RwSignal<Option<String>>,
    /// The overview's attacks and readings.
    pub slot: JobSlot,
    /// The statistics (computed in a worker) of `runs` with the analysis settings.
    pub result: RwSignal<Option<Result<Overview, String>>>,
    pub stats_slot: JobSlot,
    /// The runs just finished: the overview is done when their statistics are in.
    pub awaiting_stats: StoredValue<bool>,
    /// The URL's `overview=` has been started once (on load).
    pub started_from_url: StoredValue<bool>,
}

impl OverviewStore {
    pub fn new() -> Self {
        Self {
            runs: RwSignal::new(None),
            status: RwSignal::new(OverviewStatus::Idle),
            progress: RwSignal::new(OverviewProgress::default()),
            error: RwSignal::new(None),
            slot: JobSlot::new(),
            result: RwSignal::new(None),
            stats_slot: JobSlot::new(),
            awaiting_stats: StoredValue::new(false),
            started_from_url: StoredValue::new(false),
        }
    }
}

impl Page {
    /// The models of the overview: `choice` resolved against model A's dataset (unknown names or
    /// models of another dataset are left out with a notice).
    pub(super) fn overview_entries(self, choice: &OverviewModels) -> Vec<ModelEntry> {
        let Some(a) = self.models.entry.get_untracked() else { return Vec::new() };
        let all: Vec<ModelEntry> = self.models.entries.with_untracked(|es| es.iter().filter(|e| e.dataset == a.dataset).cloned().collect());
        match choice {
            // The clean zoo, as `dough-cli overview --dataset` (a planted network only when named).
            OverviewModels::All => all.into_iter().filter(|e| e.plant().is_none()).collect(),
            OverviewModels::Named(names) => {
                let mut out: Vec<ModelEntry> = Vec::new();
                for n in names {
                    match all.iter().find(|e| &e.name == n) {
                        Some(e) if !out.iter().any(|o| o.name == e.name) => out.push(e.clone()),
                        Some(_) => {}
                        None => self.notice(format!("overview: there is no {} model named {n}; it is left out", a.dataset.title())),
                    }
                }
                out
            }
        }
    }

    /// Keeps the overview's model set (and the seeds) in the settings and the URL.
    pub(super) fn set_overview_choice(self, choice: Option<OverviewModels>, seeds: usize) {
        self.run.settings.update(|s| {
            s.overview = choice;
            s.seeds = seeds;
        });
    }

    /// Stops the overview's computation (its results stay until a new one finishes).
    pub(super) fn stop_overview(self) {
        self.overview.slot.stop();
        self.overview.awaiting_stats.set_value(false);
        if self.overview.status.get_untracked() == OverviewStatus::Running {
            self.overview.status.set(if self.overview.runs.with_untracked(|r| r.is_some()) { OverviewStatus::Done } else { OverviewStatus::Idle });
        }
    }

    /// Starts the URL's overview once, when the page has its model and worker.
    pub(super) fn maybe_start_overview_from_url(self) {
        if self.overview.started_from_url.get_value() || self.run.settings.with_untracked(|s| s.overview.is_none()) {
            return;
        }
        self.overview.started_from_url.set_value(true);
        self.run_overview();
    }

    /// Computes the overview of the settings' model set over the settings' seeds.
    pub(super) fn run_overview(self) {
        self.stop_overview();
        let slot = self.overview.slot;
        let ticket = slot.current();
        let settings = self.run.settings.get_untracked();
        let choice = settings.overview.clone().unwrap_or(OverviewModels::All);
        let entries = self.overview_entries(&choice);
        if entries.len() < 2 {
            self.overview.error.set(Some(format!("The overview needs at least two models of the dataset; {} chosen.", entries.len())));
            return self.overview.status.set(OverviewStatus::Error);
        }
        let Some(crew) = self.crew() else { return };
        if settings.overview.is_none() {
            self.set_overview_choice(Some(choice), settings.seeds);
        }
        let seeds = replicate_seeds(settings.seed, settings.seeds.max(1));
        let cfg = settings.attack_config();
        let (n, k) = (entries.len(), seeds.len());
        self.overview.error.set(None);
        self.overview.status.set(OverviewStatus::Running);
        self.overview.progress.set(OverviewProgress { attacks_done: 0, attacks: n * k, readings_done: 0, readings: n * n * k, label: String::new(), step: None });
        let stale = move || !slot.is_current(ticket);
        let progress = self.overview.progress;
        spawn_local(async move {
            // Every model's file (already loaded ones are reused).
            let mut files: Vec<LoadedModel> = Vec::new();
            for e in &entries {
                progress.update(|p| p.label = format!("loading {}", e.name));
                match self.model_file(e).await {
                    Ok(m) => files.push(m),
                    Err(err) => return self.overview_failed(ticket, format!("the model {} could not be loaded: {err}", e.name)),
                }
                if stale() {
                    return;
                }
            }
            let files = std::rc::Rc::new(files);
            // The study's attack on each model and seed, each on the next free worker.
            let jobs: Vec<(usize, usize)> = (0..n).flat_map(|m| (0..k).map(move |si| (m, si))).collect();
            let (f2, seeds2, cfg2) = (files.clone(), seeds.clone(), cfg.clone());
            let attacked = pool::each(&crew, jobs, move |w: WorkerHandle, (m, si): (usize, usize)| {
                let (files, seeds, cfg) = (f2.clone(), seeds2.clone(), cfg2.clone());
                async move {
                    let f = &files[m];
                    let starts: Vec<Vec<f32>> = pipeline::default_inputs(seeds[si]).iter().map(|i| i.pixels(None)).collect::<Result<_, _>>().map_err(|e| ClientError::Failed(e.to_string()))?;
                    let (starts, targets) = pipeline::batch(&starts);
                    w.load_model(&f.entry, &f.bytes, false).await?;
                    if !slot.is_current(ticket) {
                        return Ok(None);
                    }
                    progress.update(|p| p.label = format!("attacking {} (seed {} of {})", f.entry.name, si + 1, seeds.len()));
                    let (id, done) = w.attack(&starts, &targets, &cfg, None, false, Some(f.entry.sha256.as_str()), move |jp| progress.update(|p| p.step = Some(jp)), None);
                    let Some(end) = slot.follow(ticket, &w, id, done).await else { return Ok(None) };
                    progress.update(|p| {
                        p.attacks_done += 1;
                        p.step = None;
                    });
                    match end? {
                        AttackEnd::Done(rows, _) => Ok(Some(Evolved::from_outcomes(rows))),
                        AttackEnd::Cancelled => Ok(None),
                    }
                }
            })
            .await;
            if stale() {
                return;
            }
            let evolved: Vec<Evolved> = match attacked.map(|v| v.into_iter().collect::<Option<Vec<_>>>()) {
                Ok(Some(v)) => v,
                Ok(None) => return,
                Err(e) => return self.overview_failed(ticket, e.to_string()),
            };
            // `evolved[m * k + si]`.
            let inputs: std::rc::Rc<Vec<(Vec<Vec<f32>>, Vec<usize>)>> = std::rc::Rc::new(
                evolved
                    .iter()
                    .map(|e| {
                        let (flat, targets) = transfer_inputs(e);
                        (flat.chunks(dough_core::model::PIXELS).map(|c| c.to_vec()).collect(), targets)
                    })
                    .collect(),
            );
            // Transfer: every model reads every model's quantised adversarial examples.
            let jobs: Vec<(usize, usize, usize)> = (0..k).flat_map(|si| (0..n).flat_map(move |i| (0..n).map(move |j| (si, i, j)))).collect();
            let f2 = files.clone();
            let read = pool::each(&crew, jobs, move |w: WorkerHandle, (si, i, j): (usize, usize, usize)| {
                let (files, inputs) = (f2.clone(), inputs.clone());
                async move {
                    if !slot.is_current(ticket) {
                        return Ok(0.0);
                    }
                    let (images, targets) = &inputs[i * k + si];
                    progress.update(|p| p.label = format!("{} reads {}'s examples (seed {} of {k})", files[j].entry.name, files[i].entry.name, si + 1));
                    let probs = w.predict_with(&files[j].entry, &files[j].bytes, images).await?;
                    progress.update(|p| p.readings_done += 1);
                    Ok(transfer_rate(&predicted(&probs), targets))
                }
            })
            .await;
            if stale() {
                return;
            }
            let rates = match read {
                Ok(r) => r,
                Err(e) => return self.overview_failed(ticket, e.to_string()),
            };
            let transfer: Vec<Vec<Vec<f32>>> = (0..k).map(|si| (0..n).map(|i| (0..n).map(|j| rates[(si * n + i) * n + j]).collect()).collect()).collect();
            let rows = evolved.first().map_or(0, |e| e.per_input.iter().map(|r| r.len()).sum());
            let perturbations: Vec<f32> = evolved.iter().flat_map(|e| e.per_input.iter().flatten().flat_map(|o| o.perturbation())).collect();
            let runs = OverviewRuns {
                models: entries.iter().map(|e| e.name.clone()).collect(),
                families: entries.iter().map(|e| family(e.arch)).collect(),
                seeds: seeds.clone(),
                perturbations,
                rows,
                transfer,
                seed: settings.seed,
            };
            // Done once the worker's statistics for these runs are in.
            self.overview.awaiting_stats.set_value(true);
            self.overview.runs.set(Some(runs));
        });
    }

    /// The overview's statistics for the runs shown with `abstraction`, computed in a worker; a
    /// newer request supersedes an older one.
    pub(super) fn request_overview_stats(self, abstraction: Abstraction) {
        let slot = self.overview.stats_slot;
        let ticket = slot.begin();
        let Some(runs) = self.overview.runs.get_untracked() else {
            return self.overview.result.set(None);
        };
        let Some(w) = self.crew().and_then(|c| c.workers.last().cloned()) else { return };
        let (id, done) = w.overview_stats(|id| runs.request(id, abstraction), runs.perturbations.clone());
        spawn_local(async move {
            let Some(r) = slot.follow(ticket, &w, id, done).await else { return };
            match r {
                Ok(Some(ov)) => self.overview.result.set(Some(ov)),
                Ok(None) | Err(ClientError::Crashed(_)) => return,
                Err(ClientError::Failed(e)) => self.overview.result.set(Some(Err(e))),
            }
            if self.overview.awaiting_stats.get_value() {
                self.overview.awaiting_stats.set_value(false);
                self.overview.status.set(OverviewStatus::Done);
            }
        });
    }

    fn overview_failed(self, ticket: crate::job_slot::Ticket, e: String) {
        if !self.overview.slot.is_current(ticket) {
            return;
        }
        self.overview.slot.stop();
        self.overview.error.set(Some(format!("The overview stopped: {e}. The gallery and analysis are unaffected; press \"Compute the overview\" to try again.")));
        self.overview.status.set(OverviewStatus::Error);
    }
}
