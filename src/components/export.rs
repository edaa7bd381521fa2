//! Export buttons: the run's numbers as JSON and CSV, the gallery, the adversarial images and the
//! analysis heatmap as PNG files.

use leptos::prelude::*;
use reactive_stores::Store;

use dough_core::attack::SampleOutcome;
use dough_core::colormap::{diverging_rgba, gray_rgba, symmetric_scale};
use dough_core::compare::{ModelReadings, for_rows};
use dough_core::study::replicates::Replicated;
use dough_core::export::{RunExport, heatmap_sheet, rows as export_rows, tile_sheet, with_compare};
use dough_core::manifest::ModelEntry;
use dough_core::settings::Settings;
use dough_core::study::pipeline::StudyResult;

use crate::backend_state::BackendState;
use crate::platform::{download_png, download_text};

#[component]
pub fn ExportBar(
    rows: RwSignal<Vec<SampleOutcome>>,
    entry: RwSignal<Option<ModelEntry>>,
    backend: RwSignal<Option<BackendState>>,
    settings: Store<Settings>,
    names: Signal<[&'static str; 10]>,
    analysis: Memo<Option<StudyResult>>,
    /// The analysis over several seeds, when it ran on more than one.
    scores: Memo<Option<Replicated>>,
    error: RwSignal<Option<String>>,
    readings: RwSignal<Option<ModelReadings>>,
) -> impl IntoView {
    let base = move || {
        let e = entry.get_untracked();
        format!("dough-{}-{}-seed{}", e.map(|e| e.name).unwrap_or_default(), settings.with_untracked(|s| s.controlled_input().slug()), settings.with_untracked(|s| s.seed))
    };
    let report = move |r: Result<(), String>| {
        if let Err(e) = r {
            error.set(Some(format!("The export failed: {e}")));
        }
    };
    let numbers = move |csv: bool| {
        let e = entry.get_untracked();
        let a = analysis.get_untracked();
        let sc = scores.get_untracked();
        let shown = rows.get_untracked();
        let mut out = export_rows(&shown, &names.get_untracked());
        // Compare mode: model B's readings, when they belong to the rows shown.
        let b = readings.get_untracked().filter(|b| for_rows(&b.rows, &shown).is_some());
        if let Some(b) = &b {
            out = with_compare(out, &b.model, &b.rows);
        }
        let x = RunExport {
            dough: env!("CARGO_PKG_VERSION"),
            model: e.as_ref().map(|e| e.name.as_str()).unwrap_or(""),
            dataset: e.as_ref().map(|e| e.dataset.slug()).unwrap_or(""),
            backend: backend.get_untracked().map(|b| b.choice.kind.slug()).unwrap_or(""),
            compare: b.as_ref().map(|b| b.model.as_str()),
            settings: settings.get_untracked().to_query(),
            rows: out,
            analysis: a.as_ref(),
            scores: sc.as_ref(),
        };
        if csv {
            report(download_text(&format!("{}.csv", base()), "text/csv", &x.to_csv()));
        } else {
            report(download_text(&format!("{}.json", base()), "application/json", &x.to_json()));
        }
    };
    let gallery_png = move |_| {
        let tiles: Vec<Vec<u8>> = rows
            .get_untracked()
            .iter()
            .flat_map(|o| {
                let d = o.perturbation();
                [gray_rgba(&o.start), gray_rgba(&o.adversarial), diverging_rgba(&d, symmetric_scale(&d))]
            })
            .collect();
        let s = tile_sheet(&tiles, 3, 4);
        report(download_png(&format!("{}-gallery.png", base()), s.width, s.height, &s.rgba));
    };
    let adversarial_png = move |_| {
        let tiles: Vec<Vec<u8>> = rows.get_untracked().iter().map(|o| gray_rgba(&o.adversarial)).collect();
        let s = tile_sheet(&tiles, 5, 4);
        report(download_png(&format!("{}-adversarial.png", base()), s.width, s.height, &s.rgba));
    };
    let heatmap_png = move |_| {
        if let Some(a) = analysis.get_untracked() {
            let s = heatmap_sheet(&a.model.vs_dataset.matrix, 32);
            report(download_png(&format!("{}-heatmap.png", base()), s.width, s.height, &s.rgba));
        }
    };
    let empty = move || rows.with(|r| r.is_empty());
    view! {
        <div class="export" role="group" aria-label="Export">
            "Export: "
            <button type="button" class="secondary" id="export-json" disabled=empty on:click=move |_| numbers(false)>"numbers (JSON)"</button>
            <button type="button" class="secondary" id="export-csv" disabled=empty on:click=move |_| numbers(true)>"numbers (CSV)"</button>
            <button type="button" class="secondary" id="export-gallery" disabled=empty on:click=gallery_png>"gallery (PNG)"</button>
            <button type="button" class="secondary" id="export-adversarial" disabled=empty on:click=adversarial_png>"adversarial images (PNG)"</button>
            <button type="button" class="secondary" id="export-heatmap" disabled=move || analysis.with(|a| a.is_none()) on:click=heatmap_png>"heatmap (PNG)"</button>
        </div>
    }
}
