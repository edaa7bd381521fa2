//! The zoo overview in the app: its driver (`dough_core::drive::overview`, the CLI's too) runs
//! the study's attack on every chosen model of the dataset for each seed, then every model's
//! reading of every other model's adversarial examples, over the pool's workers (each worker
//! gets a model's bytes once, into its cache; model A stays the workers' current model). The
//! persistence and transfer matrices are then computed in a worker from the stored
//! perturbations, so a new abstraction recomputes them without a new attack and without work on
//! the page's thread.

use leptos::prelude::*;
use leptos::task::spawn_local;

use dough_core::drive::overview::{Net, OverviewRuns, overview};
use dough_core::manifest::ModelEntry;
use dough_core::protocol::Request;
use dough_core::settings::{OverviewModels, SettingsStoreFields};
use dough_core::study::abstraction::Abstraction;
use dough_core::study::overview::{Overview, family};
use dough_core::study::replicates::replicate_seeds;

use super::Page;
use crate::assets::LoadedModel;
use crate::components::overview::{OverviewProgress, OverviewStatus};
use crate::job_slot::JobSlot;
use crate::pool::PoolCompute;
use crate::held::Held;
use crate::worker_handle::ClientError;

/// The request for the overview's statistics of `runs` with `abstraction` (the perturbations
/// travel beside it).
fn stats_request(runs: &OverviewRuns, id: u32, key: u64, abstraction: Abstraction) -> Request {
    Request::Overview {
        id,
        key,
        models: runs.models.clone(),
        families: runs.families.clone(),
        seeds: runs.seeds.clone(),
        rows: runs.rows,
        transfer: runs.transfer.clone(),
        abstraction,
        seed: runs.seed,
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
    /// The perturbations of `runs` as a worker holds them (an abstraction change then sends
    /// only its settings).
    pub held: Held,
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
            held: Held::new(),
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
        self.run.settings.overview().set(choice);
        self.run.settings.seeds().set(seeds);
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
            // The overview's driver: the attacks, then the readings, over the pool's workers.
            let compute = PoolCompute::new(&crew, slot, ticket).on_step(move |jp| progress.update(|p| p.step = Some(jp)));
            let nets: Vec<Net<LoadedModel>> = entries.iter().zip(&files).map(|(e, f)| Net { name: &e.name, family: family(e.arch), model: f }).collect();
            let tell = |d: &dough_core::drive::Progress| {
                progress.update(|p| {
                    if d.attacks_done != p.attacks_done {
                        p.step = None;
                    }
                    (p.attacks_done, p.attacks, p.readings_done, p.readings) = (d.attacks_done, d.attacks, d.readings_done, d.readings);
                    p.label = d.label.clone();
                })
            };
            let out = overview(&compute, &nets, &seeds, &cfg, settings.seed, &tell, &stale).await;
            if stale() {
                return;
            }
            let runs = match out {
                Ok(Some(runs)) => runs,
                Ok(None) => return,
                Err(e) => return self.overview_failed(ticket, e.to_string()),
            };
            // Done once the worker's statistics for these runs are in.
            self.overview.awaiting_stats.set_value(true);
            self.overview.held.renew();
            self.overview.runs.set(Some(runs));
        });
    }

    /// The overview's statistics for the runs shown with `abstraction`, computed in a worker; a
    /// newer request supersedes an older one. The perturbations travel to that worker once; a
    /// new abstraction sends only its settings (and them again if the worker lost them).
    pub(super) fn request_overview_stats(self, abstraction: Abstraction) {
        let slot = self.overview.stats_slot;
        let ticket = slot.begin();
        let Some(runs) = self.overview.runs.with_untracked(|r| r.as_ref().map(|r| OverviewRuns { perturbations: Vec::new(), ..r.clone() })) else {
            return self.overview.result.set(None);
        };
        let Some(w) = self.crew().and_then(|c| c.workers.last().cloned()) else { return };
        let to = w.clone();
        let send = move |key: u64, with_runs: bool| {
            let perturbations = if with_runs { self.overview.runs.with_untracked(|r| r.as_ref().map(|r| r.perturbations.clone()).unwrap_or_default()) } else { Vec::new() };
            let runs = runs.clone();
            to.overview_stats(move |id| stats_request(&runs, id, key, abstraction), perturbations)
        };
        spawn_local(async move {
            let Some(r) = self.overview.held.follow(slot, ticket, &w, send).await else { return };
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
