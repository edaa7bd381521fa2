//! One heatmap cell, shared by the analysis, compare and overview tables: coloured on the
//! diverging map, its value printed, the full sentence on hover and for screen readers, and the
//! exact value in `data-value` for tests and tools; and the legend of that map wherever it is
//! used (heatmaps, pattern tiles), the same blue-white-orange as the gallery's perturbations.

use leptos::prelude::*;

use dough_core::colormap::diverging;

/// `colour` in [-1, 1] picks the colour; `shown` is printed in the cell; `text` is the title.
pub fn heat_cell(colour: f32, diag: bool, shown: String, text: String, value: f32) -> impl IntoView {
    let [r, g, b] = diverging(colour);
    let dark = colour.abs() > 0.6;
    let title = text.clone();
    view! {
        <td class="cell" class:diag=diag class:dark=dark style=format!("background:rgb({r},{g},{b})") title=title data-value=format!("{value:.6}")>
            <span class="cell-value">{shown}</span>
            <span class="sr-only">{text}</span>
        </td>
    }
}

fn css_rgb([r, g, b]: [u8; 3]) -> String {
    format!("rgb({r},{g},{b})")
}

/// The diverging map's legend: a bar from blue through white to orange with what its ends and
/// middle mean (`low`, `mid`, `high`), and a sentence for screen readers.
#[component]
pub fn MapLegend(low: &'static str, mid: &'static str, high: &'static str, about: &'static str) -> impl IntoView {
    let gradient = format!("linear-gradient(to right, {}, {}, {})", css_rgb(diverging(-1.0)), css_rgb(diverging(0.0)), css_rgb(diverging(1.0)));
    view! {
        <div class="map-legend" role="img" aria-label=about>
            <span class="map-legend-end">{low}</span>
            <span class="map-legend-bar" style=format!("background:{gradient}")></span>
            <span class="map-legend-end">{high}</span>
            <span class="map-legend-mid">{mid}</span>
        </div>
    }
}
