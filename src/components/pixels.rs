//! A 28x28 image drawn on a canvas from RGBA bytes, scaled up by CSS without smoothing; and one
//! that stays the same canvas and redraws as its bytes change (the live kneading).

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, ImageData};

use dough_core::model::SIDE;

fn draw(canvas: &web_sys::HtmlCanvasElement, rgba: &[u8]) -> Option<()> {
    let ctx: CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    let img = ImageData::new_with_u8_clamped_array_and_sh(Clamped(rgba), SIDE as u32, SIDE as u32).ok()?;
    ctx.put_image_data(&img, 0.0, 0.0).ok()
}

#[component]
pub fn PixelImage(
    /// RGBA bytes, 28x28.
    rgba: Vec<u8>,
    /// Text alternative.
    alt: String,
    #[prop(optional)] class: &'static str,
    /// `data-tile` (start, adversarial, perturbation, pattern, template) for tests and tools.
    #[prop(optional)] tile: &'static str,
) -> impl IntoView {
    let node = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let Some(canvas) = node.get() {
            draw(&canvas, &rgba);
        }
    });
    view! {
        <canvas node_ref=node width=SIDE height=SIDE role="img" aria-label=alt.clone() title=alt class=format!("pixels {class}") data-tile=(!tile.is_empty()).then_some(tile)></canvas>
    }
}

/// A 28x28 image whose bytes change over time: one canvas for its whole life, redrawn in place
/// (a live frame costs a `putImageData`, not a new element).
#[component]
pub fn LivePixels(
    /// RGBA bytes, 28x28, as they change.
    #[prop(into)]
    rgba: Signal<Vec<u8>>,
    /// Text alternative, as it changes.
    #[prop(into)]
    alt: Signal<String>,
    /// `data-tile` for tests and tools.
    tile: &'static str,
) -> impl IntoView {
    let node = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        let canvas = node.get();
        rgba.with(|rgba| {
            if let Some(canvas) = canvas {
                draw(&canvas, rgba);
            }
        });
    });
    view! {
        <canvas node_ref=node width=SIDE height=SIDE role="img" aria-label=alt title=alt class="pixels" data-tile=tile></canvas>
    }
}
