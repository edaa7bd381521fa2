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
use dough_core::study::pipeline::{self, Evolved};
use dough_core::study::templates::Templates;

use crate::assets::{self, LoadedModel};
use crate::backend::{self, BackendKind};
use crate::components::controls::Controls;
use crate::components::analysis::{AnalysisView, StudyStatus};
use crate::components::draw::{DrawPanel, Scrubber};
use crate::components::export::ExportBar;
use crate::components::gallery::Gallery;
use crate::components::shortcuts::{self, Command, ShortcutHelp, fullscreen};
use crate::components::model_card::{ModelCard, ModelPicker, SaveOffline};
use crate::components::status::{BackendLine, Messages, Progress};
use crate::job::{JobEnd, JobProgress, run_gallery, run_study};
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
    entries: RwSignal<Vec<ModelEntry>>,
    entry: RwSignal<Option<ModelEntry>>,
    rows: RwSignal<Vec<SampleOutcome>>,
    progress: RwSignal<JobProgress>,
    device: StoredValue<Option<Device>, LocalStorage>,
    model: StoredValue<Option<LoadedModel>, LocalStorage>,
    pack: StoredValue<Option<SamplePack>, LocalStorage>,
    cancel: StoredValue<Rc<Cell<bool>>, LocalStorage>,
    study: RwSignal<Option<(Evolved, Evolved)>>,
    study_status: RwSignal<StudyStatus>,
    study_progress: RwSignal<JobProgress>,
    study_cancel: StoredValue<Rc<Cell<bool>>, LocalStorage>,
    templates: RwSignal<Option<Templates>>,
    custom: RwSignal<Option<Vec<f32>>>,
    prediction: RwSignal<Option<Vec<f32>>>,
    frames: RwSignal<Vec<(usize, Vec<f32>)>>,
    frame: RwSignal<Option<usize>>,
}

impl Page {
    fn new(settings: Settings, notices: Vec<String>) -> Self {
        Self {
            settings: RwSignal::new(settings),
            status: RwSignal::new(Status::Loading),
            error: RwSignal::new(None),
            notices: RwSignal::new(notices),
            backend: RwSignal::new(None),
            entries: RwSignal::new(Vec::new()),
            entry: RwSignal::new(None),
            rows: RwSignal::new(Vec::new()),
            progress: RwSignal::new(JobProgress::default()),
            device: StoredValue::new_local(None),
            model: StoredValue::new_local(None),
            pack: StoredValue::new_local(None),
            cancel: StoredValue::new_local(Rc::new(Cell::new(false))),
            study: RwSignal::new(None),
            study_status: RwSignal::new(StudyStatus::Idle),
            study_progress: RwSignal::new(JobProgress::default()),
            study_cancel: StoredValue::new_local(Rc::new(Cell::new(false))),
            templates: RwSignal::new(None),
            custom: RwSignal::new(None),
            prediction: RwSignal::new(None),
            frames: RwSignal::new(Vec::new()),
            frame: RwSignal::new(None),
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
        let (entry, notices) = assets::pick(&entries, s.model.as_deref(), s.dataset.as_deref());
        let entry = entry.clone();
        self.notices.update(|v| v.extend(notices));
        self.entries.set(entries);
        match assets::load_model(&entry).await {
            Ok(m) => self.use_model(m),
            Err(e) => return self.fail(format!("The model could not be loaded: {e}")),
        }
        self.run(self.settings.get_untracked());
    }

    /// Makes `m` the current model and records it in the settings (and so in the URL).
    fn use_model(self, m: LoadedModel) {
        if self.pack.with_value(|p| p.as_ref().is_some_and(|p| p.dataset != m.entry.dataset.slug())) {
            self.pack.set_value(None);
        }
        self.settings.update(|s| {
            s.model = Some(m.entry.name.clone());
            s.dataset = Some(m.entry.dataset.slug().to_string());
        });
        self.entry.set(Some(m.entry.clone()));
        self.model.set_value(Some(m));
    }

    /// Switches to the model `name` and reruns the gallery with the same settings. If the model
    /// cannot be loaded, the current model and gallery stay and the page says why.
    fn select_model(self, name: String) {
        if self.entry.with_untracked(|e| e.as_ref().is_some_and(|e| e.name == name)) {
            return;
        }
        let Some(entry) = self.entries.with_untracked(|es| es.iter().find(|e| e.name == name).cloned()) else {
            return self.notices.update(|v| v.push(format!("There is no model named {name}.")));
        };
        self.cancel.with_value(|c| c.set(true));
        let before = self.status.get_untracked();
        self.status.set(Status::Loading);
        spawn_local(async move {
            match assets::load_model(&entry).await {
                Ok(m) => {
                    self.use_model(m);
                    self.run(self.settings.get_untracked());
                }
                Err(e) => {
                    self.error.set(Some(format!("The model {name} could not be loaded: {e}. The previous model stays selected.")));
                    self.status.set(if before == Status::Running || self.rows.with_untracked(|r| r.is_empty()) { Status::Error } else { before });
                    self.entry.update(|_| {}); // re-render the picker on the model still in use
                }
            }
        });
    }

    fn select_dataset(self, dataset: DatasetId) {
        let name = self.entries.with_untracked(|es| assets::default_of(es, dataset).map(|e| e.name.clone()));
        match name {
            Some(n) => self.select_model(n),
            None => self.notices.update(|v| v.push(format!("No model for {} is shipped.", dataset.title()))),
        }
    }

    /// Cancels any run in flight and starts a new one with `settings`.
    fn run(self, mut settings: Settings) {
        if settings.input == InputChoice::Custom && self.custom.with_untracked(|c| c.is_none()) {
            self.notices.update(|v| v.push("input=custom needs a drawing or an upload first; starting from black.".into()));
            settings.input = InputChoice::Black;
        }
        self.cancel.with_value(|c| c.set(true));
        self.stop_study();
        let cancel = Rc::new(Cell::new(false));
        self.cancel.set_value(cancel.clone());
        self.settings.set(settings.clone());
        platform::replace_query(&settings.to_query());
        self.error.set(None);
        let (Some(device), Some(model)) = (self.device.get_value(), self.model.get_value()) else {
            return;
        };
        self.status.set(Status::Running);
        self.progress.set(JobProgress { max_steps: settings.attack.max_steps, samples: 10, ..Default::default() });
        spawn_local(async move {
            if settings.input == InputChoice::Sample && self.pack.with_value(|p| p.is_none()) {
                // (use_model drops a pack of another dataset)
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
            let custom = self.custom.get_untracked();
            let result = run_gallery(&model, &device, &settings, pack.as_ref(), custom.as_deref(), cancel.clone(), |p| progress.set(p)).await;
            if cancel.get() {
                return;
            }
            match result {
                Ok(JobEnd::Done(rows, frames)) => {
                    publish_result(&self, &settings, &rows);
                    // Render the rows in two slices, each its own task, so that drawing the
                    // gallery never holds the page for long.
                    platform::yield_now().await;
                    if cancel.get() {
                        return;
                    }
                    self.frame.set(None);
                    self.frames.set(frames.frames);
                    self.rows.set(rows[..rows.len().div_ceil(2)].to_vec());
                    platform::yield_now().await;
                    if cancel.get() {
                        return;
                    }
                    self.rows.set(rows);
                    self.status.set(Status::Done);
                    if settings.analysis {
                        self.run_study();
                    }
                }
                Ok(JobEnd::Cancelled) => {}
                Err(e) => self.fail(format!("The attack failed: {e}")),
            }
        });
    }

    /// Drops the study's results (they belong to the previous model or attack settings).
    fn stop_study(self) {
        self.study_cancel.with_value(|c| c.set(true));
        self.study.set(None);
        self.study_status.set(StudyStatus::Idle);
    }

    /// Runs the study's attacks (model and untrained twin) and shows the analysis.
    fn run_study(self) {
        self.study_cancel.with_value(|c| c.set(true));
        let cancel = Rc::new(Cell::new(false));
        self.study_cancel.set_value(cancel.clone());
        let (Some(device), Some(model)) = (self.device.get_value(), self.model.get_value()) else {
            return;
        };
        let settings = self.settings.get_untracked();
        if !settings.analysis {
            let mut s = settings.clone();
            s.analysis = true;
            self.settings.set(s.clone());
            platform::replace_query(&s.to_query());
        }
        self.study_status.set(StudyStatus::Running);
        let dataset = model.entry.dataset;
        spawn_local(async move {
            if self.templates.with_untracked(|t| t.as_ref().is_none_or(|t| t.dataset != dataset.slug())) {
                match assets::load_templates(dataset).await {
                    Ok(t) => self.templates.set(Some(t)),
                    Err(e) => {
                        self.error.set(Some(format!("The dataset templates could not be loaded: {e}")));
                        return self.study_status.set(StudyStatus::Error);
                    }
                }
            }
            let progress = self.study_progress;
            let result = run_study(&model, &device, &settings, cancel.clone(), |p| progress.set(p)).await;
            if cancel.get() {
                return;
            }
            match result {
                Ok(Some(ev)) => {
                    self.study.set(Some(ev));
                    self.study_status.set(StudyStatus::Done);
                }
                Ok(None) => {}
                Err(e) => {
                    self.error.set(Some(format!("The study's attack failed: {e}")));
                    self.study_status.set(StudyStatus::Error);
                }
            }
        });
    }

    /// New abstraction or template settings: recomputed from the stored perturbations.
    fn set_analysis_settings(self, s: Settings) {
        platform::replace_query(&s.to_query());
        self.settings.set(s);
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
pub fn App() -> impl IntoView {
    let (settings, notices) = Settings::from_query(&platform::query_pairs());
    let page = Page::new(settings, notices);
    spawn_local(page.start());

    let names = Signal::derive(move || page.entry.get().map(|e| e.dataset).unwrap_or(DatasetId::Mnist).class_names());
    let busy = Signal::derive(move || matches!(page.status.get(), Status::Loading));
    let on_change = Callback::new(move |s: Settings| page.run(s));
    let on_dataset = Callback::new(move |d: DatasetId| page.select_dataset(d));
    let on_model = Callback::new(move |name: String| page.select_model(name));
    let on_analysis_settings = Callback::new(move |s: Settings| page.set_analysis_settings(s));
    let on_study = Callback::new(move |_| page.run_study());
    let study_busy = Signal::derive(move || page.status.get() != Status::Done || page.study_status.get() == StudyStatus::Running);
    let result = Memo::new(move |_| {
        let (abs, template, seed) = page.settings.with(|s| (s.abstraction, s.template, s.seed));
        let dataset = page.entry.with(|e| e.as_ref().map(|e| e.dataset.slug()));
        page.study.with(|st| {
            page.templates.with(|t| match (st, t) {
                (Some((trained, untrained)), Some(t)) if Some(t.dataset.as_str()) == dataset => {
                    Some(pipeline::study(trained, Some(untrained), &abs, t.get(template), seed))
                }
                _ => None,
            })
        })
    });
    Effect::new(move |_| {
        if let Some(r) = result.get() {
            let s = page.settings.get_untracked();
            let published = serde_json::json!({
                "model": page.entry.get_untracked().map(|e| e.name),
                "abstraction": s.abstraction,
                "template": s.template,
                "seed": s.seed,
                "result": r,
            });
            platform::publish_field("analysis", &published.to_string());
        }
    });
    let on_cancel = Callback::new(move |_| page.cancel_run());

    let draw_open = RwSignal::new(page.settings.with_untracked(|s| s.input == InputChoice::Custom));
    let on_attack_drawing = Callback::new(move |target: Option<u8>| {
        let mut s = page.settings.get_untracked();
        s.input = InputChoice::Custom;
        s.target = target;
        page.run(s);
    });
    // The network's live guess on the drawing (and again when the model changes).
    Effect::new(move |_| {
        let px = page.custom.get();
        let _ = page.entry.get();
        let (Some(px), Some(device), Some(model)) = (px, page.device.get_value(), page.model.get_value()) else { return };
        spawn_local(async move {
            if let Ok(p) = dough_core::eval::probabilities(&model.spec, &model.weights, &device, &px).await
                && page.custom.with_untracked(|c| c.as_deref() == Some(&px[..]))
            {
                page.prediction.set(Some(p));
            }
        });
    });
    let presenting = RwSignal::new(false);
    let help = RwSignal::new(false);
    let current_row = RwSignal::new(None::<usize>);
    let on_command = Callback::new(move |c: Command| match c {
        Command::TogglePresentation => {
            let on = !presenting.get_untracked();
            presenting.set(on);
            fullscreen(on);
        }
        Command::ToggleHelp => help.update(|h| *h = !*h),
        Command::Run => page.run(page.settings.get_untracked()),
        Command::Cancel => {
            if help.get_untracked() {
                help.set(false);
            } else {
                page.cancel_run();
            }
        }
        Command::NextClass | Command::PreviousClass => {
            let step = if c == Command::NextClass { 1 } else { 9 };
            current_row.update(|r| *r = Some(r.map_or(0, |r| (r + step) % 10)));
        }
        Command::NextModel => {
            let next = page.entry.with_untracked(|cur| {
                let cur = cur.as_ref()?;
                page.entries.with_untracked(|es| {
                    let same: Vec<&ModelEntry> = es.iter().filter(|e| e.dataset == cur.dataset).collect();
                    let i = same.iter().position(|e| e.name == cur.name)?;
                    Some(same[(i + 1) % same.len()].name.clone())
                })
            });
            if let Some(n) = next {
                page.select_model(n);
            }
        }
        Command::SwitchDataset => {
            let other = match page.entry.with_untracked(|e| e.as_ref().map(|e| e.dataset)) {
                Some(DatasetId::Mnist) => DatasetId::FashionMnist,
                _ => DatasetId::Mnist,
            };
            page.select_dataset(other);
        }
        Command::Study => page.run_study(),
    });
    shortcuts::listen(on_command);

    view! {
        <main id="app" class:presenting=move || presenting.get() data-backend=move || page.backend.get().map(|b| b.slug()) data-status=move || page.status.get().slug()>
            <div class="toolbar">
                <button type="button" id="present-toggle" class="secondary" aria-pressed=move || presenting.get().to_string()
                    on:click=move |_| on_command.run(Command::TogglePresentation)>
                    {move || if presenting.get() { "Leave presentation (P)" } else { "Present (P)" }}
                </button>
                <button type="button" id="help-toggle" class="secondary" aria-expanded=move || help.get().to_string()
                    on:click=move |_| help.update(|h| *h = !*h)>"Shortcuts (?)"</button>
            </div>
            <ShortcutHelp open=help/>
            <header>
                <h1>"Dough"</h1>
                <p class="tagline">"Watch a neural network play dough with its input: a targeted attack evolves one starting image into every class, as little as it can."</p>
            </header>
            <section class="status" aria-label="Status">
                <BackendLine backend=page.backend/>
                <ModelPicker entries=page.entries current=page.entry on_dataset=on_dataset on_model=on_model busy=busy/>
                <ModelCard entry=page.entry/>
                <SaveOffline entries=page.entries/>
                <Progress status=page.status progress=page.progress on_cancel=on_cancel/>
                <Messages error=page.error notices=page.notices/>
            </section>
            <Controls settings=page.settings names=names on_change=on_change busy=busy/>
            <DrawPanel names=names custom=page.custom prediction=page.prediction on_attack=on_attack_drawing open=draw_open/>
            <Scrubber frames=page.frames frame=page.frame/>
            <ExportBar rows=page.rows entry=page.entry backend=page.backend settings=page.settings names=names analysis=result error=page.error/>
            <Gallery rows=page.rows names=names current=current_row frames=page.frames frame=page.frame/>
            <AnalysisView settings=page.settings names=names status=page.study_status result=result templates=page.templates
                on_settings=on_analysis_settings on_run=on_study busy=study_busy/>
        </main>
    }
}
