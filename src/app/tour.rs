//! The guided story on the page: going to a step sets the state it names (models, input, target,
//! analysis) and reruns only what changed; leaving keeps that state. The step's own numbers come
//! from this page's gallery, study and compare mode (`live_line`).

use dough_core::compare::{ModelReadings, PatternPair};
use dough_core::attack::SampleOutcome;
use dough_core::manifest::DatasetId;
use dough_core::settings::{Settings, SettingsStoreFields};
use reactive_stores::Patch;
use dough_core::story::{self, Live, STEPS};
use dough_core::study::pipeline::StudyResult;
use dough_core::study::stats::p_label;
use leptos::prelude::*;

use super::Page;

/// Writes step `n`'s scene into settings read from the URL, before the page starts.
pub(super) fn apply_on_load(s: &mut Settings) {
    let Some(n) = s.story else { return };
    let d = match s.dataset.as_deref().or(s.model.as_deref()) {
        Some(v) if v.starts_with("fashion-mnist") => DatasetId::FashionMnist,
        _ => DatasetId::Mnist,
    };
    if let Some(step) = story::step(n, d) {
        step.scene.apply(s);
    }
}

impl Page {
    fn dataset(self) -> DatasetId {
        self.models.entry.with_untracked(|e| e.as_ref().map(|e| e.dataset)).unwrap_or(DatasetId::Mnist)
    }

    /// Goes to step `n` (clamped to the story): its state is set, and the gallery (and B, and the
    /// study) run again only if that state differs from the page's.
    pub(super) fn go_story(self, n: usize) {
        let n = n.clamp(1, STEPS);
        let Some(step) = story::step(n, self.dataset()) else { return };
        let mut s = self.run.settings.get_untracked();
        let shown = step.scene.shown_by(&s) && self.models.entry.with_untracked(|e| e.as_ref().map(|e| &e.name) == Some(&step.scene.model));
        step.scene.apply(&mut s);
        s.story = Some(n);
        if shown {
            return self.run.settings.patch(s);
        }
        let a = step.scene.model.clone();
        let a_changed = self.models.entry.with_untracked(|e| e.as_ref().is_none_or(|e| e.name != a));
        let b_changed = self.compare.entry.with_untracked(|e| e.as_ref().map(|e| e.name.clone())) != step.scene.compare;
        self.run.settings.patch(s.clone());
        if a_changed {
            // Loads A (and B), then reruns the gallery with the settings just set.
            self.set_pair(a, step.scene.compare);
        } else {
            if b_changed {
                self.set_pair(a, step.scene.compare);
            }
            self.run(s);
        }
    }

    /// Leaves the story; the state it set stays.
    pub(super) fn leave_story(self) {
        self.run.settings.story().set(None);
    }

    pub(super) fn story_step(self) -> Option<usize> {
        self.run.settings.with_untracked(|s| s.story)
    }
}

/// What this page measured for a step: a line under its paragraph (`None`: nothing yet).
pub(super) fn live_line(
    live: Live,
    rows: &[SampleOutcome],
    study: Option<&StudyResult>,
    study_running: bool,
    pair: Option<&(String, PatternPair)>,
    readings: Option<&ModelReadings>,
) -> Option<String> {
    let pct = |v: f32| format!("{:.0}%", v * 100.0);
    match live {
        Live::Nothing => None,
        Live::Gallery => {
            if rows.is_empty() {
                return None;
            }
            let n = rows.len();
            let reached = rows.iter().filter(|o| o.reached).count();
            let mut l2: Vec<f32> = rows.iter().map(|o| o.l2).collect();
            l2.sort_by(f32::total_cmp);
            let steps = rows.iter().map(|o| o.steps).sum::<usize>() as f32 / n as f32;
            Some(format!(
                "Measured here: {reached} of {n} {} reached the target; median L2 {:.2}, {steps:.0} steps on average.",
                if n == 1 { "column" } else { "columns" },
                l2[n / 2]
            ))
        }
        Live::Study => match study {
            Some(r) => Some(format!(
                "Measured here: the patterns identify {} of the classes (p {}); random perturbations {}{}; chance 10%.",
                pct(r.model.vs_dataset.identification),
                p_label(r.p_values.model),
                pct(r.random_null.vs_dataset.identification),
                r.untrained_null.as_ref().map(|u| format!(", the untrained network {}", pct(u.vs_dataset.identification))).unwrap_or_default()
            )),
            None if study_running => Some("The study is running on this page…".into()),
            None => None,
        },
        Live::Compare => {
            let fooled = readings.map(|r| r.rows.iter().filter(|x| x.fooled).count());
            let persistence = pair.map(|(b, p)| {
                format!("A's patterns identify {} of the classes among B's ({b}), p {}", pct(p.comparison.identification), p_label(p.p_value))
            });
            match (persistence, fooled) {
                (None, None) => None,
                (p, f) => Some(format!(
                    "Measured here, on this input: {}{}.",
                    p.map(|p| format!("{p}; ")).unwrap_or_default(),
                    f.map(|f| format!("B is fooled by {f} of {} of A's examples", readings.map_or(0, |r| r.rows.len()))).unwrap_or_else(|| "B's own run is still going".into())
                )),
            }
        }
    }
}
