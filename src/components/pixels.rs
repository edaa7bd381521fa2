//! A 28x28 image drawn on a canvas from RGBA bytes, scaled up by CSS without smoothing.

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
