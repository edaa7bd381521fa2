//! The zoo overview in the app: the study's attack on every chosen model of the dataset for each
//! seed, then every model's reading of every other model's adversarial examples, all in the
//! compute worker (each request carries its model's bytes; model A stays the worker's current
//! model). The persistence and transfer matrices are then built by `dough_core::study::overview`
//! from the stored runs, so a new abstraction recomputes them without a new attack.

use leptos::prelude::*;
use leptos::task::spawn_local;

use dough_core::manifest::ModelEntry;
use dough_core::settings::OverviewModels;
use dough_core::study::overview::{Overview, family, predicted, transfer_inputs};
use dough_core::study::pairs::transfer_rate;
use dough_core::study::pipeline::{self, Evolved};
use dough_core::study::replicates::{PERMUTATIONS, replicate_seeds};

use super::{Page, bump};
use crate::assets::LoadedModel;
use crate::components::overview::{OverviewProgress, OverviewStatus};
use crate::compute::{AttackEnd, Compute};
use crate::platform;

/// What the worker computed for an overview: per model and seed the study's outcomes, and per
/// seed the transfer matrix. Patterns (and so persistence) follow the abstraction settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OverviewRuns {
    pub models: Vec<String>,
    pub families: Vec<usize>,
    pub seeds: Vec<u64>,
    /// `evolved[model][seed]`.
    pub evolved: Vec<Vec<Evolved>>,
    /// `transfer[seed][i][j]`.
    pub transfer: Vec<Vec<Vec<f32>>>,
    /// The seed of the permutation tests.
    pub seed: u64,
}

impl OverviewRuns {
    pub fn overview(&self, abs: &dough_core::study::abstraction::Abstraction) -> Result<Overview, String> {
        let patterns: Vec<Vec<Vec<Vec<f32>>>> = self.evolved.iter().map(|r| r.iter().map(|e| e.patterns(abs)).collect()).collect();
        Overview::new(self.models.clone(), self.families.clone(), self.seeds.clone(), &patterns, &self.transfer, PERMUTATIONS, self.seed).map_err(|e| e.to_string())
    }
}

#[derive(Clone, Copy)]
pub(super) struct OverviewStore {
    pub runs: RwSignal<Option<OverviewRuns>>,
    pub status: RwSignal<OverviewStatus>,
    pub progress: RwSignal<OverviewProgress>,
    pub error: RwSignal<Option<String>>,
    pub in_flight: StoredValue<Option<(Compute, u32)>, LocalStorage>,
    pub token: StoredValue<u64>,
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
            in_flight: StoredValue::new_local(None),
            token: StoredValue::new(0),
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
            OverviewModels::All => all,
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
        platform::replace_query(&self.run.settings.with_untracked(|s| s.to_query()));
    }

    /// Stops the overview's computation (its results stay until a new one finishes).
    pub(super) fn stop_overview(self) {
        bump(self.overview.token);
        if let Some((c, id)) = self.overview.in_flight.get_value() {
            c.cancel(id);
        }
        self.overview.in_flight.set_value(None);
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
        let token = self.overview.token.get_value();
        let settings = self.run.settings.get_untracked();
        let choice = settings.overview.clone().unwrap_or(OverviewModels::All);
        let entries = self.overview_entries(&choice);
        if entries.len() < 2 {
            self.overview.error.set(Some(format!("The overview needs at least two models of the dataset; {} chosen.", entries.len())));
            return self.overview.status.set(OverviewStatus::Error);
        }
        let Some(compute) = self.engine.compute.get_value() else { return };
        if settings.overview.is_none() {
            self.set_overview_choice(Some(choice), settings.seeds);
        }
        let seeds = replicate_seeds(settings.seed, settings.seeds.max(1));
        let cfg = settings.attack_config();
        let (n, k) = (entries.len(), seeds.len());
        self.overview.error.set(None);
        self.overview.status.set(OverviewStatus::Running);
        self.overview.progress.set(OverviewProgress { attacks_done: 0, attacks: n * k, readings_done: 0, readings: n * n * k, label: String::new(), step: None });
        let stale = move || self.overview.token.get_value() != token;
        let progress = self.overview.progress;
        spawn_local(async move {
            // Every model's file (already loaded ones are reused).
            let mut files: Vec<LoadedModel> = Vec::new();
            for e in &entries {
                progress.update(|p| p.label = format!("loading {}", e.name));
                match self.model_file(e).await {
                    Ok(m) => files.push(m),
                    Err(err) => return self.overview_failed(token, format!("the model {} could not be loaded: {err}", e.name)),
                }
                if stale() {
                    return;
                }
            }
            // The study's attack on each model and seed.
            let mut evolved: Vec<Vec<Evolved>> = Vec::new();
            for f in &files {
                let mut per_seed = Vec::new();
                for (si, &seed) in seeds.iter().enumerate() {
                    let starts: Vec<Vec<f32>> = match pipeline::default_inputs(seed).iter().map(|i| i.pixels(None)).collect::<Result<_, _>>() {
                        Ok(s) => s,
                        Err(e) => return self.overview_failed(token, e.to_string()),
                    };
                    let (starts, targets) = pipeline::batch(&starts);
                    progress.update(|p| p.label = format!("attacking {} (seed {} of {k})", f.entry.name, si + 1));
                    let (id, done) = compute.attack(&starts, &targets, &cfg, None, false, Some((&f.entry, &f.bytes[..])), move |jp| progress.update(|p| p.step = Some(jp)));
                    self.overview.in_flight.set_value(Some((compute.clone(), id)));
                    let result = done.await;
                    if stale() {
                        return;
                    }
                    match result {
                        Ok(AttackEnd::Done(rows, _)) => per_seed.push(Evolved::from_outcomes(rows)),
                        Ok(AttackEnd::Cancelled) => return,
                        Err(e) => return self.overview_failed(token, e.to_string()),
                    }
                    progress.update(|p| {
                        p.attacks_done += 1;
                        p.step = None;
                    });
                }
                evolved.push(per_seed);
            }
            self.overview.in_flight.set_value(None);
            // Transfer: every model reads every model's quantised adversarial examples.
            let mut transfer = Vec::new();
            for si in 0..k {
                let mut m = vec![vec![0.0f32; n]; n];
                for i in 0..n {
                    let (flat, targets) = transfer_inputs(&evolved[i][si]);
                    let images: Vec<Vec<f32>> = flat.chunks(dough_core::model::PIXELS).map(|c| c.to_vec()).collect();
                    for (j, f) in files.iter().enumerate() {
                        progress.update(|p| p.label = format!("{} reads {}'s examples (seed {} of {k})", f.entry.name, files[i].entry.name, si + 1));
                        let probs = compute.predict_with(&f.entry, &f.bytes, &images).await;
                        if stale() {
                            return;
                        }
                        match probs {
                            Ok(p) => m[i][j] = transfer_rate(&predicted(&p), &targets),
                            Err(e) => return self.overview_failed(token, e.to_string()),
                        }
                        progress.update(|p| p.readings_done += 1);
                    }
                }
                transfer.push(m);
            }
            let runs = OverviewRuns {
                models: entries.iter().map(|e| e.name.clone()).collect(),
                families: entries.iter().map(|e| family(e.arch)).collect(),
                seeds: seeds.clone(),
                evolved,
                transfer,
                seed: settings.seed,
            };
            self.overview.runs.set(Some(runs));
            self.overview.status.set(OverviewStatus::Done);
        });
    }

    fn overview_failed(self, token: u64, e: String) {
        if self.overview.token.get_value() != token {
            return;
        }
        self.overview.in_flight.set_value(None);
        self.overview.error.set(Some(format!("The overview stopped: {e}. The gallery and analysis are unaffected; press \"Compute the overview\" to try again.")));
        self.overview.status.set(OverviewStatus::Error);
    }
}
