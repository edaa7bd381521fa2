//! The effects that keep what lies outside the views in step with the settings and the results:
//! the statistics of the study, the overview and compare mode, requested from a worker whenever
//! their runs or the abstraction change (and only then), and `window.__dough`'s fields for tests
//! and tools. One place, so that `App` only composes the views.

use leptos::prelude::*;
use leptos::task::spawn_local;

use dough_core::settings::SettingsStoreFields;
use dough_core::study::overview::Overview;
use dough_core::study::pipeline::StudyResult;
use dough_core::study::replicates::Replicated;

use super::Page;
use crate::platform;

/// What the views read of the statistics.
pub(super) struct Synced {
    pub result: Memo<Option<StudyResult>>,
    pub replicated: Memo<Option<Replicated>>,
    pub overview_result: Memo<Option<Result<Overview, String>>>,
}

impl Page {
    /// Installs the effects; returns the memos the views read.
    pub(super) fn sync(self) -> Synced {
        // The overview's statistics, computed in a worker when its runs or the abstraction change.
        let abstraction = Memo::new(move |_| self.run.settings.abstraction().get());
        Effect::new(move |_| {
            let abs = abstraction.get();
            self.overview.runs.track();
            self.request_overview_stats(abs);
        });
        let overview_result = Memo::new(move |_| {
            let d = self.models.entry.with(|e| e.as_ref().map(|e| e.dataset));
            let names: Vec<String> = self.models.entries.with(|es| es.iter().filter(|e| Some(e.dataset) == d).map(|e| e.name.clone()).collect());
            // Only an overview of the dataset shown.
            self.overview.result.get().filter(|r| r.as_ref().map_or(true, |o| o.models.iter().all(|m| names.contains(m))))
        });
        Effect::new(move |_| {
            if let Some(Ok(ov)) = overview_result.get()
                && let Ok(json) = serde_json::to_string(&ov)
            {
                platform::publish_field("overview", &json);
            }
        });
        // The study's statistics, computed in a worker whenever the runs or the analysis settings
        // change (and only then: the Memo keeps other settings' writes from reaching the Effect).
        let analysis_settings = Memo::new(move |_| (self.run.settings.abstraction().get(), self.run.settings.template().get()));
        Effect::new(move |_| {
            let (abs, template) = analysis_settings.get();
            let _ = self.study.templates.with(|t| t.as_ref().map(|t| t.dataset.clone()));
            self.study.evolved.track();
            self.request_stats(abs, template);
        });
        let result = Memo::new(move |_| self.study.result.get());
        let replicated = Memo::new(move |_| self.study.replicated.get());
        // `window.__dough.analysis`, for tests and tools: a frame after the views redraw (its JSON
        // is large), so that the two are two short tasks, not one long one.
        Effect::new(move |_| {
            let Some(r) = result.get() else { return };
            spawn_local(async move {
                platform::next_frame().await;
                if result.with_untracked(|now| now.as_ref() != Some(&r)) {
                    return;
                }
                let s = self.run.settings.get_untracked();
                let (abstraction, template) = self.study.stats_for.get_value().unwrap_or((s.abstraction, s.template));
                let published = serde_json::json!({
                    "model": self.models.entry.get_untracked().map(|e| e.name),
                    "abstraction": abstraction,
                    "template": template,
                    "seed": s.seed,
                    "result": r,
                    "replicated": replicated.get_untracked(),
                });
                platform::publish_field("analysis", &published.to_string());
            });
        });
        // Compare mode: A's and B's patterns side by side (from A's gallery and B's own run), their
        // statistics computed in a worker whenever the runs or the abstraction change.
        let compare_inputs = Memo::new(move |_| {
            let (abs, seed) = (self.run.settings.abstraction().get(), self.run.settings.seed().get());
            (self.compare.own.get(), abs, seed)
        });
        Effect::new(move |_| {
            let (own, abs, seed) = compare_inputs.get();
            self.request_compare_stats(self.run.rows.get_untracked(), own, abs, seed);
        });
        let pair = self.compare.pair;
        Effect::new(move |_| {
            if let Some((b, p)) = pair.get() {
                let reverse = self.compare.own.with_untracked(|o| o.as_ref().and_then(|o| o.reverse.clone()));
                let forward = self.compare.readings.get_untracked();
                let a = self.models.entry.get_untracked().map(|e| e.name).unwrap_or_default();
                let published = dough_core::drive::compare::published(&a, &b, &p, forward.as_ref(), reverse.as_ref());
                platform::publish_field("compare_patterns", &published.to_string());
            }
        });
        Synced { result, replicated, overview_result }
    }
}
