//! One heatmap cell, shared by the analysis, compare and overview tables: coloured on the
//! diverging map, its value printed, the full sentence on hover and for screen readers, and the
//! exact value in `data-value` for tests and tools.

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
