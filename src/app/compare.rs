//! Compare mode in the app: model B (`compare=` in the URL, the "Compare with" picker, the
//! "standard vs robust" preset, the swap key) and its readings of the gallery made on model A.
//! B's file is fetched only when B is chosen; each worker gets B's bytes once (into its model
//! cache) and keeps A as its current model. Its driver (`dough_core::drive::compare`, the CLI's
//! too) reads the gallery with B, then, after a whole gallery, runs B's own run and B's
//! untrained twin side by side on the pool and A's reading of B's examples. The patterns side by
//! side and their statistics are computed in a worker.

use leptos::prelude::*;
use dough_core::settings::SettingsStoreFields;
use leptos::task::spawn_local;

use dough_core::attack::SampleOutcome;
use dough_core::compare::{self, ModelReadings, PatternPair};
use dough_core::drive::compare::{Named, OwnRun, own_run, readings};
use dough_core::manifest::ModelEntry;
use dough_core::study::abstraction::Abstraction;

use super::{Page, Status};
use crate::assets::{self, LoadedModel};
use crate::components::compare::OwnStatus;
use crate::job_slot::{JobSlot, Ticket};
use crate::pool::PoolCompute;
use crate::worker_handle::ClientError;

/// Model B, its verified file, and its readings of the rows shown.
#[derive(Clone, Copy)]
pub(super) struct CompareStore {
    pub entry: RwSignal<Option<ModelEntry>>,
    pub loaded: StoredValue<Option<LoadedModel>, LocalStorage>,
    /// B's readings, for the rows they were made for (set together with those rows).
    pub readings: RwSignal<Option<ModelReadings>>,
    /// B's own run on the input of the gallery shown, and where it stands.
    pub own: RwSignal<Option<OwnRun>>,
    pub own_status: RwSignal<OwnStatus>,
    /// A's and B's patterns side by side with their statistics (computed in a worker), and B's
    /// name.
    pub pair: RwSignal<Option<(String, PatternPair)>>,
    pub stats_slot: JobSlot,
}

impl CompareStore {
    pub fn new() -> Self {
        Self {
            entry: RwSignal::new(None),
            loaded: StoredValue::new_local(None),
            readings: RwSignal::new(None),
            own: RwSignal::new(None),
            own_status: RwSignal::new(OwnStatus::Idle),
            pair: RwSignal::new(None),
            stats_slot: JobSlot::new(),
        }
    }
}

impl Page {
    /// Model B named `wanted` beside model A, if it can be (same dataset, not A itself, in the
    /// manifest); otherwise a notice, and `None`.
    pub(super) fn compare_entry(self, wanted: Option<&str>, a: &ModelEntry) -> Option<ModelEntry> {
        let wanted = wanted?;
        let found = self.models.entries.with_untracked(|es| es.iter().find(|e| e.name == wanted).cloned());
        match compare::check(wanted, found.as_ref().map(|e| e.dataset), &a.name, a.dataset) {
            Ok(()) => found,
            Err(notice) => {
                self.notice(notice);
                None
            }
        }
    }

    /// Makes `b` model B (`None`: compare mode off) and keeps the URL in step.
    pub(super) fn use_compare(self, b: Option<LoadedModel>) {
        let name = b.as_ref().map(|b| b.entry.name.clone());
        self.compare.entry.set(b.as_ref().map(|b| b.entry.clone()));
        self.compare.loaded.set_value(b);
        if self.compare.readings.with_untracked(|r| r.as_ref().map(|r| &r.model) != name.as_ref()) {
            self.compare.readings.set(None);
        }
        if self.compare.own.with_untracked(|r| r.as_ref().map(|r| &r.model) != name.as_ref()) {
            self.compare.own.set(None);
            self.compare.own_status.set(OwnStatus::Idle);
        }
        self.run.settings.compare().set(name);
    }

    /// A verified file for `entry`: one already loaded (model A's or B's, or an upload), else fetched.
    pub(super) async fn model_file(self, entry: &ModelEntry) -> Result<LoadedModel, String> {
        let have = |m: Option<LoadedModel>| m.filter(|m| m.entry.name == entry.name);
        if let Some(m) = have(self.compare.loaded.get_value()).or_else(|| have(self.models.loaded.get_value())).or_else(|| self.uploaded(&entry.name)) {
            return Ok(m);
        }
        assets::load_model(entry).await
    }

    /// Sets model A to `a` and model B to `b` (`None`: compare mode off). Reruns the gallery if A
    /// changes; if only B changes, B reads the gallery already shown. If A cannot be loaded, both
    /// stay as they were and the page says why; if B cannot, compare mode is off with a notice.
    pub(super) fn set_pair(self, a: String, b: Option<String>) {
        let Some(a_entry) = self.models.entries.with_untracked(|es| es.iter().find(|e| e.name == a).cloned()) else {
            return self.notice(format!("There is no model named {a}."));
        };
        let b_entry = self.compare_entry(b.as_deref(), &a_entry);
        let a_changed = self.models.entry.with_untracked(|e| e.as_ref().is_none_or(|e| e.name != a));
        let b_changed = self.compare.entry.with_untracked(|e| e.as_ref().map(|e| &e.name) != b_entry.as_ref().map(|e| &e.name));
        if !a_changed && !b_changed {
            return;
        }
        let before = self.run.status.get_untracked();
        if a_changed {
            self.stop_gallery();
            self.run.status.set(Status::Loading);
        }
        spawn_local(async move {
            let b_file = match &b_entry {
                None => None,
                Some(e) => match self.model_file(e).await {
                    Ok(m) => Some(m),
                    Err(err) => {
                        self.notice(format!("Model B ({}) could not be loaded: {err}; compare mode is off.", e.name));
                        None
                    }
                },
            };
            if a_changed {
                let loaded = match self.model_file(&a_entry).await {
                    Ok(m) => self.use_model(m).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = loaded {
                    self.run.error.set(Some(format!("The model {a} could not be loaded: {e}. The previous model stays selected.")));
                    self.run.status.set(if before == Status::Running || self.run.rows.with_untracked(|r| r.is_empty()) { Status::Error } else { before });
                    self.models.entry.update(|_| {}); // re-render the picker on the model still in use
                    self.compare.entry.update(|_| {});
                    return;
                }
                self.use_compare(b_file);
                self.run(self.run.settings.get_untracked());
            } else {
                self.use_compare(b_file);
                self.read_shown_rows();
                self.run_b_own();
            }
        });
    }

    /// Swaps models A and B (the swap key); a notice when compare mode is off.
    pub(super) fn swap_models(self) {
        let (a, b) = (self.models.entry.get_untracked(), self.compare.entry.get_untracked());
        match (a, b) {
            (Some(a), Some(b)) => self.set_pair(b.name, Some(a.name)),
            _ => self.notice("X swaps models A and B: pick a model under \"Compare with\" first.".into()),
        }
    }

    /// B reads the gallery shown now (B changed, A did not). Dropped if a new run starts.
    fn read_shown_rows(self) {
        let rows = self.run.rows.get_untracked();
        let ticket = self.run.slot.current();
        if rows.is_empty() || self.run.status.get_untracked() != Status::Done || self.compare.loaded.with_value(|b| b.is_none()) {
            return;
        }
        spawn_local(async move {
            let readings = self.read_rows(ticket, &rows).await;
            if self.run.slot.is_current(ticket) && self.run.rows.with_untracked(|r| r.len() == rows.len()) {
                self.compare.readings.set(readings);
            }
        });
    }

    /// B's own run: the gallery's attack on the gallery's input, on model B (whole galleries
    /// only: the patterns need every class), with A's reverse reading and B's untrained twin.
    /// Runs as part of the gallery: a new run or Cancel stops it.
    pub(super) fn run_b_own(self) {
        let rows = self.run.rows.get_untracked();
        let settings = self.run.settings.get_untracked();
        let slot = self.run.slot;
        let ticket = slot.current();
        let (Some(crew), Some(a), Some(b)) = (self.crew(), self.models.loaded.get_value(), self.compare.loaded.get_value()) else { return };
        if !compare::is_full_gallery(&rows) || self.run.status.get_untracked() != Status::Done {
            self.compare.own.set(None);
            self.compare.own_status.set(OwnStatus::Idle);
            return;
        }
        self.compare.own.set(None);
        self.compare.own_status.set(OwnStatus::Running);
        spawn_local(async move {
            let compute = PoolCompute::new(&crew, slot, ticket);
            let (na, nb) = (Named { name: &a.entry.name, model: &a }, Named { name: &b.entry.name, model: &b });
            let out = own_run(&compute, &na, &nb, &rows, &settings.attack_config(), settings.seed, &|_| {}, &|| !slot.is_current(ticket)).await;
            if !slot.is_current(ticket) {
                return;
            }
            match out {
                Ok(Some(own)) => {
                    for n in &own.notes {
                        self.notice(n.clone());
                    }
                    self.compare.own.set(Some(own));
                    self.compare.own_status.set(OwnStatus::Done);
                }
                Ok(None) | Err(ClientError::Crashed(_)) => self.compare.own_status.set(OwnStatus::Idle),
                Err(ClientError::Failed(e)) => {
                    self.notice(format!("Model B's ({}) own run failed: {e}", b.entry.name));
                    self.compare.own_status.set(OwnStatus::Error);
                }
            }
        });
    }

    /// Model B's readings of `rows` (A's adversarial examples) on the pool, as part of the
    /// gallery run `ticket`; `None` when compare mode is off or B could not read them (then with
    /// a notice).
    pub(super) async fn read_rows(self, ticket: Ticket, rows: &[SampleOutcome]) -> Option<ModelReadings> {
        let b = self.compare.loaded.get_value()?;
        let crew = self.crew()?;
        let slot = self.run.slot;
        let compute = PoolCompute::new(&crew, slot, ticket);
        match readings(&compute, &Named { name: &b.entry.name, model: &b }, rows, &|| !slot.is_current(ticket)).await {
            Ok(r) => r,
            // The worker died: the app recovers and reruns the gallery, which asks B again.
            Err(ClientError::Crashed(_)) => None,
            Err(ClientError::Failed(e)) => {
                self.notice(format!("Model B ({}) could not read the gallery: {e}", b.entry.name));
                None
            }
        }
    }

    /// The patterns of A's gallery and B's own run side by side, with the persistence
    /// identification and both nulls, computed in a worker (the pool's last); a newer request
    /// supersedes an older one.
    pub(super) fn request_compare_stats(self, a_rows: Vec<SampleOutcome>, own: Option<OwnRun>, abstraction: Abstraction, seed: u64) {
        let slot = self.compare.stats_slot;
        let ticket = slot.begin();
        let Some(own) = own.filter(|_| compare::is_full_gallery(&a_rows)) else {
            return self.compare.pair.set(None);
        };
        let Some(w) = self.crew().and_then(|c| c.workers.last().cloned()) else { return };
        let mut sets = vec![a_rows, own.rows];
        sets.extend(own.untrained);
        let (id, done) = w.compare_patterns(sets, abstraction, seed);
        spawn_local(async move {
            let Some(r) = slot.follow(ticket, &w, id, done).await else { return };
            match r {
                Ok(Some(pair)) => self.compare.pair.set(pair.map(|p| (own.model.clone(), p))),
                Ok(None) | Err(ClientError::Crashed(_)) => {}
                Err(ClientError::Failed(e)) => {
                    self.notice(format!("Compare mode's statistics could not be computed: {e}"));
                    self.compare.pair.set(None);
                }
            }
        });
    }
}
