//! The page's commands (keys, and the buttons that share them): what each does to the page and
//! to the chrome around the views (presentation, theme, help, the current class).

use leptos::prelude::*;

use dough_core::manifest::{DatasetId, ModelEntry};

use super::Page;
use crate::components::knead::Knead;
use crate::components::overview::OverviewStatus;
use crate::components::shortcuts::{Command, fullscreen};
use crate::platform;

/// The state around the views that commands change.
#[derive(Clone, Copy)]
pub(super) struct Chrome {
    pub presenting: RwSignal<bool>,
    /// Light or dark colours: `None` follows the system's preference.
    pub dark: RwSignal<Option<bool>>,
    pub help: RwSignal<bool>,
    /// The class row the keys move through.
    pub current_row: RwSignal<Option<usize>>,
    pub knead: Knead,
}

impl Page {
    pub(super) fn command(self, ui: Chrome, c: Command) {
        match c {
            Command::TogglePresentation => {
                let on = !ui.presenting.get_untracked();
                ui.presenting.set(on);
                fullscreen(on);
            }
            Command::ToggleHelp => ui.help.update(|h| *h = !*h),
            Command::Run => self.run(self.run.settings.get_untracked()),
            Command::Cancel => {
                if ui.help.get_untracked() {
                    ui.help.set(false);
                } else if self.story_step().is_some() {
                    self.leave_story();
                } else {
                    self.cancel_run();
                }
            }
            Command::Play => ui.knead.toggle(),
            Command::Tour => match self.story_step() {
                Some(_) => self.leave_story(),
                None => self.go_story(1),
            },
            Command::ToggleTheme => {
                let now = ui.dark.get_untracked().unwrap_or_else(platform::prefers_dark);
                ui.dark.set(Some(!now));
            }
            Command::Forward | Command::Back if self.story_step().is_some() => {
                let n = self.story_step().unwrap_or(1);
                let next = if c == Command::Forward { n + 1 } else { n.saturating_sub(1) };
                if (1..=dough_core::story::STEPS).contains(&next) {
                    self.go_story(next);
                }
            }
            Command::Forward | Command::Back => {
                let step = if c == Command::Forward { 1 } else { 9 };
                ui.current_row.update(|r| *r = Some(r.map_or(0, |r| (r + step) % 10)));
            }
            Command::NextClass | Command::PreviousClass => {
                let step = if c == Command::NextClass { 1 } else { 9 };
                ui.current_row.update(|r| *r = Some(r.map_or(0, |r| (r + step) % 10)));
            }
            Command::NextModel => {
                let next = self.models.entry.with_untracked(|cur| {
                    let cur = cur.as_ref()?;
                    self.models.entries.with_untracked(|es| {
                        let same: Vec<&ModelEntry> = es.iter().filter(|e| e.dataset == cur.dataset).collect();
                        let i = same.iter().position(|e| e.name == cur.name)?;
                        Some(same[(i + 1) % same.len()].name.clone())
                    })
                });
                if let Some(n) = next {
                    self.select_model(n);
                }
            }
            Command::SwitchDataset => {
                let other = match self.models.entry.with_untracked(|e| e.as_ref().map(|e| e.dataset)) {
                    Some(DatasetId::Mnist) => DatasetId::FashionMnist,
                    _ => DatasetId::Mnist,
                };
                self.select_dataset(other);
            }
            Command::Study => self.run_study(),
            Command::SwapModels => self.swap_models(),
            Command::Overview => {
                if self.overview.status.get_untracked() != OverviewStatus::Running {
                    self.run_overview();
                }
            }
        }
    }
}
