//! Compare mode in the app: model B (`compare=` in the URL, the "Compare with" picker, the
//! "standard vs robust" preset, the swap key) and its readings of the gallery made on model A.
//! B's file is fetched only when B is chosen; its predictions run in the main compute worker,
//! which gets B's bytes once (into its model cache) and keeps A as its current model. After a whole gallery,
//! B also runs the same attack on the same input (its own run), for the patterns side by side.

use leptos::prelude::*;
use leptos::task::spawn_local;

use dough_core::attack::SampleOutcome;
use dough_core::compare::{self, ModelReadings};
use dough_core::manifest::ModelEntry;
use dough_core::study::pipeline;

use super::{Page, Status};
use crate::assets::{self, LoadedModel};
use crate::components::compare::OwnStatus;
use crate::worker_handle::{AttackEnd, ClientError, WorkerHandle};

/// B's own run of the gallery's attack on the gallery's input.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnRun {
    pub model: String,
    pub rows: Vec<SampleOutcome>,
    /// The reverse direction: model A's readings of B's own adversarial examples (`None` if A
    /// could not read them).
    pub reverse: Option<ModelReadings>,
    /// The same attack from the same input on an untrained network of B's architecture (the
    /// untrained null of the persistence; `None` if that run failed).
    pub untrained: Option<Vec<SampleOutcome>>,
}

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
}

impl CompareStore {
    pub fn new() -> Self {
        Self {
            entry: RwSignal::new(None),
            loaded: StoredValue::new_local(None),
            readings: RwSignal::new(None),
            own: RwSignal::new(None),
            own_status: RwSignal::new(OwnStatus::Idle),
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
        self.run.settings.update(|s| s.compare = name);
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
        let Some(compute) = self.engine.compute.get_value() else { return };
        if rows.is_empty() || self.run.status.get_untracked() != Status::Done || self.compare.loaded.with_value(|b| b.is_none()) {
            return;
        }
        spawn_local(async move {
            let readings = self.read_rows(&compute, &rows).await;
            if self.run.slot.is_current(ticket) && self.run.rows.with_untracked(|r| r.len() == rows.len()) {
                self.compare.readings.set(readings);
            }
        });
    }

    /// B's own run: the gallery's attack on the gallery's input, on model B (whole galleries
    /// only: the patterns need every class). Runs as part of the gallery: a new run or Cancel
    /// stops it.
    pub(super) fn run_b_own(self) {
        let rows = self.run.rows.get_untracked();
        let settings = self.run.settings.get_untracked();
        let slot = self.run.slot;
        let ticket = slot.current();
        let (Some(compute), Some(b)) = (self.engine.compute.get_value(), self.compare.loaded.get_value()) else { return };
        if !compare::is_full_gallery(&rows) || self.run.status.get_untracked() != Status::Done {
            self.compare.own.set(None);
            self.compare.own_status.set(OwnStatus::Idle);
            return;
        }
        self.compare.own.set(None);
        self.compare.own_status.set(OwnStatus::Running);
        let starts: Vec<Vec<f32>> = rows.iter().map(|o| o.start.clone()).collect();
        let targets: Vec<usize> = rows.iter().map(|o| o.target).collect();
        spawn_local(async move {
            if let Err(e) = compute.load_model(&b.entry, &b.bytes, false).await {
                self.notice(format!("Model B's ({}) own run failed: {e}", b.entry.name));
                return self.compare.own_status.set(OwnStatus::Error);
            }
            let sha = Some(b.entry.sha256.as_str());
            let (id, done) = compute.attack(&starts, &targets, &settings.attack_config(), None, false, sha, |_| {}, None);
            let Some(result) = slot.follow(ticket, &compute, id, done).await else { return };
            match result {
                Ok(AttackEnd::Done(rows, _)) => {
                    let reverse = self.read_with_a(&compute, &rows).await;
                    if !slot.is_current(ticket) {
                        return;
                    }
                    // The untrained null: B's architecture with untrained weights, same attack.
                    let seed = pipeline::untrained_seed(settings.seed);
                    let (id, done) = compute.attack(&starts, &targets, &settings.attack_config(), Some(seed), false, sha, |_| {}, None);
                    let Some(untrained) = slot.follow(ticket, &compute, id, done).await else { return };
                    let untrained = match untrained {
                        Ok(AttackEnd::Done(u, _)) => Some(u),
                        Ok(AttackEnd::Cancelled) | Err(ClientError::Crashed(_)) => return self.compare.own_status.set(OwnStatus::Idle),
                        Err(ClientError::Failed(e)) => {
                            self.notice(format!("The untrained null of model B ({}) failed: {e}; its row is left out.", b.entry.name));
                            None
                        }
                    };
                    self.compare.own.set(Some(OwnRun { model: b.entry.name.clone(), rows, reverse, untrained }));
                    self.compare.own_status.set(OwnStatus::Done);
                }
                Ok(AttackEnd::Cancelled) | Err(ClientError::Crashed(_)) => self.compare.own_status.set(OwnStatus::Idle),
                Err(ClientError::Failed(e)) => {
                    self.notice(format!("Model B's ({}) own run failed: {e}", b.entry.name));
                    self.compare.own_status.set(OwnStatus::Error);
                }
            }
        });
    }

    /// The reverse direction: model A's readings of B's own adversarial examples (`rows`).
    async fn read_with_a(self, compute: &WorkerHandle, rows: &[SampleOutcome]) -> Option<ModelReadings> {
        let a = self.models.loaded.get_value()?;
        let images: Vec<Vec<f32>> = rows.iter().map(|o| o.adversarial.clone()).collect();
        let targets: Vec<usize> = rows.iter().map(|o| o.target).collect();
        match compute.predict_with(&a.entry, &a.bytes, &images).await.map_err(|e| e.to_string()).and_then(|p| compare::readings(&p, &targets)) {
            Ok(rows) => Some(ModelReadings { model: a.entry.name.clone(), rows }),
            Err(e) => {
                self.notice(format!("Model A ({}) could not read B's examples: {e}", a.entry.name));
                None
            }
        }
    }

    /// Model B's readings of `rows` (A's adversarial examples), computed in the worker; `None`
    /// when compare mode is off or B could not read them (then with a notice).
    pub(super) async fn read_rows(self, compute: &WorkerHandle, rows: &[SampleOutcome]) -> Option<ModelReadings> {
        let b = self.compare.loaded.get_value()?;
        if rows.is_empty() {
            return None;
        }
        let images: Vec<Vec<f32>> = rows.iter().map(|o| o.adversarial.clone()).collect();
        let targets: Vec<usize> = rows.iter().map(|o| o.target).collect();
        let answer = compute.predict_with(&b.entry, &b.bytes, &images).await;
        let read = match answer {
            Ok(probs) => compare::readings(&probs, &targets),
            // The worker died: the app recovers and reruns the gallery, which asks B again.
            Err(ClientError::Crashed(_)) => return None,
            Err(ClientError::Failed(e)) => Err(e),
        };
        match read {
            Ok(rows) => Some(ModelReadings { model: b.entry.name.clone(), rows }),
            Err(e) => {
                self.notice(format!("Model B ({}) could not read the gallery: {e}", b.entry.name));
                None
            }
        }
    }
}
