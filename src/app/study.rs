//! The study in the app: its driver (`dough_core::drive::study`, the CLI's too) runs the
//! attacks (the model and its untrained twin, for every seed of the controlled inputs) on the
//! pool, then its statistics are computed in a worker whenever the runs or the analysis settings
//! change.

use leptos::prelude::*;
use dough_core::settings::SettingsStoreFields;
use leptos::task::spawn_local;

use dough_core::drive::Progress;
use dough_core::drive::study::{StudyRun, StudyStats, study};
use dough_core::protocol::pack_runs;
use dough_core::study::abstraction::Abstraction;
use dough_core::study::pipeline::StudyResult;
use dough_core::study::plant_check::PlantCheck;
use dough_core::study::replicates::{Replicated, replicate_seeds};
use dough_core::study::templates::{TemplateKind, Templates};

use super::Page;
use crate::assets;
use crate::components::analysis::StudyStatus;
use crate::job_slot::JobSlot;
use crate::platform;
use crate::pool::PoolCompute;
use crate::held::Held;
use crate::worker_handle::ClientError;

/// The study: its attacks' outcomes (model, untrained twin), status, progress, templates, and
/// the statistics the worker computed from them.
#[derive(Clone, Copy)]
pub(super) struct StudyStore {
    /// One run per seed of the controlled inputs (`seeds=`), the first from the run's seed.
    pub(super) evolved: RwSignal<Option<Vec<StudyRun>>>,
    pub(super) status: RwSignal<StudyStatus>,
    /// The driver's progress: attacks done of all, and which.
    pub(super) progress: RwSignal<Progress>,
    /// The study's attacks.
    pub(super) slot: JobSlot,
    pub(super) templates: RwSignal<Option<Templates>>,
    /// The templates as the worker reads them (`Templates::encode`).
    pub(super) template_bytes: StoredValue<Vec<u8>, LocalStorage>,
    /// The statistics (computed in a worker): the first seed's study and the scores over seeds.
    pub(super) result: RwSignal<Option<StudyResult>>,
    pub(super) replicated: RwSignal<Option<Replicated>>,
    /// The planted-feature check of the runs (with the model's patch, or the default one).
    pub(super) plant: RwSignal<Option<PlantCheck>>,
    /// The statistics' request (superseded by every analysis-settings change).
    pub(super) stats_slot: JobSlot,
    /// The runs in `evolved` and the templates as a worker holds them (an abstraction change
    /// then sends only its settings).
    pub(super) held: Held,
    /// The analysis settings of `result`.
    pub(super) stats_for: StoredValue<Option<(dough_core::study::abstraction::Abstraction, dough_core::study::templates::TemplateKind)>>,
}

impl StudyStore {
    pub(super) fn new() -> Self {
        Self {
            evolved: RwSignal::new(None),
            status: RwSignal::new(StudyStatus::Idle),
            progress: RwSignal::new(Progress::default()),
            slot: JobSlot::new(),
            templates: RwSignal::new(None),
            template_bytes: StoredValue::new_local(Vec::new()),
            result: RwSignal::new(None),
            replicated: RwSignal::new(None),
            plant: RwSignal::new(None),
            stats_slot: JobSlot::new(),
            held: Held::new(),
            stats_for: StoredValue::new(None),
        }
    }
}

impl Page {
    /// Drops the study's results (they belong to the previous model or attack settings).
    pub(super) fn stop_study(self) {
        self.study.slot.stop();
        self.study.evolved.set(None);
        self.study.status.set(StudyStatus::Idle);
    }

    /// Runs the study's attacks (model and untrained twin, for every seed) on the pool; the
    /// statistics follow in a worker ([`Page::request_stats`]).
    pub(super) fn run_study(self) {
        self.stop_study();
        let ticket = self.study.slot.current();
        let (Some(crew), Some(model)) = (self.crew(), self.models.loaded.get_value()) else {
            return;
        };
        let settings = self.run.settings.get_untracked();
        if !settings.analysis {
            self.run.settings.analysis().set(true);
        }
        self.study.status.set(StudyStatus::Running);
        let dataset = model.entry.dataset;
        let slot = self.study.slot;
        let stale = move || !slot.is_current(ticket);
        spawn_local(async move {
            if self.study.templates.with_untracked(|t| t.as_ref().is_none_or(|t| t.dataset != dataset.slug())) {
                match assets::load_templates(dataset).await {
                    Ok(t) => {
                        self.study.template_bytes.set_value(t.encode());
                        self.study.templates.set(Some(t));
                    }
                    Err(e) => {
                        self.run.error.set(Some(format!("The dataset templates could not be loaded: {e}")));
                        return self.study.status.set(StudyStatus::Error);
                    }
                }
            }
            // The study's driver: one run of the model and one of its untrained twin per seed of
            // the controlled inputs, cut into pieces over the pool's workers.
            let seeds = replicate_seeds(settings.seed, settings.seeds.max(1));
            let compute = PoolCompute::new(&crew, slot, ticket);
            let progress = self.study.progress;
            let out = study(&compute, &model, &model.entry.name, &seeds, &settings.attack_config(), true, &|p| progress.set(p.clone()), &stale).await;
            if stale() {
                return;
            }
            let runs = match out {
                Ok(Some(runs)) => runs,
                Ok(None) | Err(ClientError::Crashed(_)) => return,
                Err(ClientError::Failed(e)) => return self.study_failed(e),
            };
            // Done once the worker's statistics for these runs are in (`request_stats`).
            self.study.held.renew();
            self.study.evolved.set(Some(runs));
        });
    }

    /// The study's statistics for the runs shown, computed in a worker (the last of the pool,
    /// which a gallery needs least); a newer request supersedes an older one. The runs and the
    /// templates travel to that worker once; a new abstraction sends only its settings (and the
    /// runs again if the worker no longer holds them).
    pub(super) fn request_stats(self, abstraction: Abstraction, template: TemplateKind) {
        let slot = self.study.stats_slot;
        let ticket = slot.begin();
        let dataset = self.models.entry.with_untracked(|e| e.as_ref().map(|e| e.dataset.slug()));
        let templates_fit = self.study.templates.with_untracked(|t| t.as_ref().is_some_and(|t| Some(t.dataset.as_str()) == dataset));
        let has_runs = self.study.evolved.with_untracked(|r| r.as_ref().is_some_and(|r| !r.is_empty()));
        if !has_runs || !templates_fit {
            self.study.result.set(None);
            self.study.replicated.set(None);
            self.study.plant.set(None);
            return;
        }
        let Some(w) = self.crew().and_then(|c| c.workers.last().cloned()) else { return };
        let plant = self.models.entry.with_untracked(|e| e.as_ref().and_then(|e| e.plant().copied()));
        let to = w.clone();
        let send = move |key: u64, with_runs: bool| {
            let w = &to;
            if with_runs {
                let runs = self.study.evolved.get_untracked().unwrap_or_default();
                let (meta, images) = pack_runs(runs.into_iter().map(|r| (r.seed, r.trained, r.untrained)).collect());
                w.analyse(key, meta, images, &self.study.template_bytes.get_value(), abstraction, template, plant)
            } else {
                w.analyse(key, Vec::new(), Vec::new(), &[], abstraction, template, plant)
            }
        };
        spawn_local(async move {
            let Some(r) = self.study.held.follow(slot, ticket, &w, send).await else { return };
            match r {
                Ok(Some(StudyStats { result, replicated, plant })) => {
                    self.study.stats_for.set_value(Some((abstraction, template)));
                    self.study.result.set(Some(result));
                    self.study.replicated.set(replicated);
                    if self.study.status.get_untracked() == StudyStatus::Running {
                        self.study.status.set(StudyStatus::Done);
                    }
                    // The planted-feature check's view redraws a frame later: two short tasks,
                    // not one long one.
                    platform::next_frame().await;
                    if slot.is_current(ticket) {
                        self.study.plant.set(plant);
                    }
                }
                Ok(None) | Err(ClientError::Crashed(_)) => {}
                Err(ClientError::Failed(e)) => self.study_failed(format!("its statistics could not be computed: {e}")),
            }
        });
    }

    pub(super) fn study_failed(self, e: String) {
        self.run.error.set(Some(format!("The study's attack failed: {e}")));
        self.study.status.set(StudyStatus::Error);
    }
}
