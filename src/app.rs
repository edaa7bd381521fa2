//! The app: wires settings -> attack job -> results -> views. All computing is in `dough_core`.

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use dough_core::Device;
use dough_core::attack::SampleOutcome;
use dough_core::manifest::{DatasetId, ModelEntry};
use dough_core::pack::SamplePack;
use dough_core::settings::{InputChoice, Settings};

use crate::assets::{self, LoadedModel};
use crate::backend::{self, BackendKind};
use crate::components::controls::Controls;
use crate::components::gallery::Gallery;
use crate::components::status::{BackendLine, Messages, Progress};
use crate::job::{JobEnd, JobProgress, run_gallery};
use crate::platform;
use crate::state::Status;

/// Everything the page holds; signals for what views show, local stores for runtime resources.
#[derive(Clone, Copy)]
struct Page {
    settings: RwSignal<Settings>,
    status: RwSignal<Status>,
    error: RwSignal<Option<String>>,
    notices: RwSignal<Vec<String>>,
    backend: RwSignal<Option<BackendKind>>,
    entry: RwSignal<Option<ModelEntry>>,
    rows: RwSignal<Vec<SampleOutcome>>,
    progress: RwSignal<JobProgress>,
    device: StoredValue<Option<Device>, LocalStorage>,
    model: StoredValue<Option<LoadedModel>, LocalStorage>,
    pack: StoredValue<Option<SamplePack>, LocalStorage>,
    cancel: StoredValue<Rc<Cell<bool>>, LocalStorage>,
}

impl Page {
    fn new(settings: Settings, notices: Vec<String>) -> Self {
        Self {
            settings: RwSignal::new(settings),
            status: RwSignal::new(Status::Loading),
            error: RwSignal::new(None),
            notices: RwSignal::new(notices),
            backend: RwSignal::new(None),
            entry: RwSignal::new(None),
            rows: RwSignal::new(Vec::new()),
            progress: RwSignal::new(JobProgress::default()),
            device: StoredValue::new_local(None),
            model: StoredValue::new_local(None),
            pack: StoredValue::new_local(None),
            cancel: StoredValue::new_local(Rc::new(Cell::new(false))),
        }
    }

    fn fail(&self, msg: String) {
        web_sys::console::warn_1(&msg.clone().into());
        self.error.set(Some(msg));
        self.status.set(Status::Error);
    }

    /// Chooses the backend and loads the model, then runs the first gallery.
    async fn start(self) {
        let s = self.settings.get_untracked();
        let b = backend::choose(s.force_cpu).await;
        self.backend.set(Some(b.kind.clone()));
        self.device.set_value(Some(b.device));
        let entries = match assets::load_manifest().await {
            Ok(e) => e,
            Err(e) => return self.fail(format!("The model list could not be loaded: {e}")),
        };
        let (entry, notice) = assets::pick(&entries, s.model.as_deref());
        if let Some(n) = notice {
            self.notices.update(|v| v.push(n));
        }
        match assets::load_model(entry).await {
            Ok(m) => {
                self.entry.set(Some(m.entry.clone()));
                self.model.set_value(Some(m));
            }
            Err(e) => return self.fail(format!("The model could not be loaded: {e}")),
        }
        self.run(s);
    }

    /// Cancels any run in flight and starts a new one with `settings`.
    fn run(self, settings: Settings) {
        self.cancel.with_value(|c| c.set(true));
        let cancel = Rc::new(Cell::new(false));
        self.cancel.set_value(cancel.clone());
        self.settings.set(settings.clone());
        self.error.set(None);
        let (Some(device), Some(model)) = (self.device.get_value(), self.model.get_value()) else {
            return;
        };
        self.status.set(Status::Running);
        self.progress.set(JobProgress { max_steps: settings.attack.max_steps, samples: 10, ..Default::default() });
        spawn_local(async move {
            if settings.input == InputChoice::Sample && self.pack.with_value(|p| p.is_none()) {
                match assets::load_pack(model.entry.dataset).await {
                    Ok(p) => self.pack.set_value(Some(p)),
                    Err(e) => return self.fail(format!("The sample images could not be loaded: {e}")),
                }
            }
            if cancel.get() {
                return;
            }
            let pack = self.pack.get_value();
            let progress = self.progress;
            let result = run_gallery(&model, &device, &settings, pack.as_ref(), cancel.clone(), |p| progress.set(p)).await;
            if cancel.get() {
                return;
            }
            match result {
                Ok(JobEnd::Done(rows)) => {
                    publish_result(&self, &settings, &rows);
                    self.rows.set(rows);
                    self.status.set(Status::Done);
                }
                Ok(JobEnd::Cancelled) => {}
                Err(e) => self.fail(format!("The attack failed: {e}")),
            }
        });
    }

    fn cancel_run(self) {
        self.cancel.with_value(|c| c.set(true));
        if self.status.get_untracked() == Status::Running {
            self.status.set(if self.rows.with_untracked(|r| r.is_empty()) { Status::Loading } else { Status::Done });
            self.notices.update(|v| v.push("Cancelled; the gallery shows the last finished run.".into()));
        }
    }
}

/// `window.__dough`: the last finished run, for tests and tools.
fn publish_result(page: &Page, settings: &Settings, rows: &[SampleOutcome]) {
    #[derive(serde::Serialize)]
    struct Published<'a> {
        backend: &'a str,
        model: String,
        input: String,
        seed: u64,
        rows: &'a [SampleOutcome],
    }
    let backend = page.backend.get_untracked().map(|b| b.slug()).unwrap_or("");
    let p = Published {
        backend,
        model: page.entry.get_untracked().map(|e| e.name).unwrap_or_default(),
        input: settings.controlled_input().slug(),
        seed: settings.seed,
        rows,
    };
    if let Ok(json) = serde_json::to_string(&p) {
        platform::publish(&json);
    }
}

#[component]
fn ModelLine(entry: RwSignal<Option<ModelEntry>>) -> impl IntoView {
    move || {
        entry.get().map(|e| {
            let arch = match e.arch {
                dough_core::manifest::ArchKind::Mlp => format!("fully connected {:?}", e.config.hidden),
                dough_core::manifest::ArchKind::Cnn => {
                    let convs: Vec<String> = e
                        .config
                        .conv
                        .iter()
                        .map(|c| format!("{}×{k}×{k}{}", c.channels, if c.pool { "+pool" } else { "" }, k = c.kernel))
                        .collect();
                    format!("convolutional [{}] dense {:?}", convs.join(", "), e.config.dense)
                }
            };
            view! {
                <p class="model-line" id="model-line">
                    "Model: " <strong>{e.name.clone()}</strong>
                    {format!(" · {} · {} · {} parameters · test accuracy {:.2}%", e.dataset.title(), arch, e.params, e.test_accuracy * 100.0)}
                </p>
            }
        })
    }
}

#[component]
pub fn App() -> impl IntoView {
    let (settings, notices) = Settings::from_query(&platform::query_pairs());
    let page = Page::new(settings, notices);
    spawn_local(page.start());

    let names = Signal::derive(move || page.entry.get().map(|e| e.dataset).unwrap_or(DatasetId::Mnist).class_names());
    let busy = Signal::derive(move || matches!(page.status.get(), Status::Loading));
    let on_change = Callback::new(move |s: Settings| page.run(s));
    let on_cancel = Callback::new(move |_| page.cancel_run());

    view! {
        <main id="app" data-backend=move || page.backend.get().map(|b| b.slug()) data-status=move || page.status.get().slug()>
            <header>
                <h1>"Dough"</h1>
                <p class="tagline">"Watch a neural network play dough with its input: a targeted attack evolves one starting image into every class, as little as it can."</p>
            </header>
            <section class="status" aria-label="Status">
                <BackendLine backend=page.backend/>
                <ModelLine entry=page.entry/>
                <Progress status=page.status progress=page.progress on_cancel=on_cancel/>
                <Messages error=page.error notices=page.notices/>
            </section>
            <Controls settings=page.settings names=names on_change=on_change busy=busy/>
            <Gallery rows=page.rows names=names/>
        </main>
    }
}
