//! Draw or upload your own input: a drawing canvas (mouse, touch, pen; brush size; clear;
//! invert), an image upload (PNG/JPEG, any size), the 28x28 input the network gets (made the way
//! MNIST was made), and the network's live prediction on it.

use leptos::html::{Canvas, Input};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use dough_core::colormap::gray_rgba;
use dough_core::model::{PIXELS, SIDE};
use dough_core::preprocess;

use super::pixels::PixelImage;

/// Side of the drawing canvas in canvas pixels (10 per input pixel).
const CANVAS: u32 = 280;
/// Largest upload accepted.
const MAX_UPLOAD_BYTES: f64 = 20e6;

fn ctx2d(c: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    c.get_context("2d").ok()??.dyn_into().ok()
}

fn clear(c: &HtmlCanvasElement) {
    if let Some(ctx) = ctx2d(c) {
        ctx.set_fill_style_str("#000");
        ctx.fill_rect(0.0, 0.0, CANVAS as f64, CANVAS as f64);
    }
}

fn read(c: &HtmlCanvasElement) -> Option<(usize, usize, Vec<u8>)> {
    let ctx = ctx2d(c)?;
    let data = ctx.get_image_data(0.0, 0.0, c.width() as f64, c.height() as f64).ok()?;
    Some((c.width() as usize, c.height() as usize, data.data().0))
}

/// Paints a 28x28 input (values in [0, 1]) onto the drawing canvas, 10 canvas pixels per pixel.
fn paint(c: &HtmlCanvasElement, pixels: &[f32]) {
    let Some(ctx) = ctx2d(c) else { return };
    let rgba = gray_rgba(pixels);
    let scale = (CANVAS as usize) / SIDE;
    let mut big = vec![0u8; (CANVAS * CANVAS * 4) as usize];
    for y in 0..CANVAS as usize {
        for x in 0..CANVAS as usize {
            let s = ((y / scale) * SIDE + x / scale) * 4;
            big[(y * CANVAS as usize + x) * 4..(y * CANVAS as usize + x) * 4 + 4].copy_from_slice(&rgba[s..s + 4]);
        }
    }
    if let Ok(img) = ImageData::new_with_u8_clamped_array_and_sh(wasm_bindgen::Clamped(&big), CANVAS, CANVAS) {
        let _ = ctx.put_image_data(&img, 0.0, 0.0);
    }
}

/// Decodes an uploaded file with the browser and returns its RGBA pixels (scaled down to at most
/// 1024 pixels on its longer side).
async fn decode(file: web_sys::File) -> Result<(usize, usize, Vec<u8>), String> {
    let promise = crate::platform::window().create_image_bitmap_with_blob(&file).map_err(|_| "the browser cannot decode images here".to_string())?;
    let bitmap: web_sys::ImageBitmap = JsFuture::from(promise)
        .await
        .map_err(|_| format!("\"{}\" is not an image this page can read (use PNG or JPEG)", file.name()))?
        .dyn_into()
        .map_err(|_| "not an image".to_string())?;
    let (w, h) = (bitmap.width().max(1) as f64, bitmap.height().max(1) as f64);
    let k = (1024.0 / w.max(h)).min(1.0);
    let (tw, th) = ((w * k).round().max(1.0) as u32, (h * k).round().max(1.0) as u32);
    let doc = crate::platform::window().document().ok_or("no document")?;
    let canvas: HtmlCanvasElement = doc.create_element("canvas").map_err(|e| format!("{e:?}"))?.dyn_into().map_err(|_| "no canvas")?;
    canvas.set_width(tw);
    canvas.set_height(th);
    let ctx = ctx2d(&canvas).ok_or("no 2d context")?;
    ctx.draw_image_with_image_bitmap_and_dw_and_dh(&bitmap, 0.0, 0.0, tw as f64, th as f64).map_err(|e| format!("{e:?}"))?;
    read(&canvas).ok_or_else(|| "the image could not be read back".to_string())
}

#[component]
pub fn DrawPanel(
    names: Signal<[&'static str; 10]>,
    /// The 28x28 input made from the drawing (None while blank).
    custom: RwSignal<Option<Vec<f32>>>,
    /// The network's probabilities for `custom`, computed by the page.
    prediction: RwSignal<Option<Vec<f32>>>,
    /// Attack the drawing toward `target` (None: every class).
    on_attack: Callback<Option<u8>>,
    open: RwSignal<bool>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let file_input = NodeRef::<Input>::new();
    let brush = RwSignal::new(2.0f64);
    let drawing = RwSignal::new(None::<(f64, f64)>);
    let message = RwSignal::new(None::<String>);
    let target = RwSignal::new(None::<u8>);

    Effect::new(move |_| {
        if let Some(c) = canvas.get() {
            clear(&c);
        }
    });
    let update = move || {
        let Some(c) = canvas.get_untracked() else { return };
        let Some((w, h, rgba)) = read(&c) else { return };
        match preprocess::from_rgba(w, h, &rgba) {
            Ok(px) => custom.set(Some(px)),
            Err(_) => {
                custom.set(None);
                prediction.set(None);
            }
        }
    };
    let pos = move |e: &web_sys::PointerEvent| -> Option<(f64, f64)> {
        let c = canvas.get_untracked()?;
        let r = c.get_bounding_client_rect();
        let k = CANVAS as f64 / r.width().max(1.0);
        Some(((e.client_x() as f64 - r.left()) * k, (e.client_y() as f64 - r.top()) * k))
    };
    let stroke = move |from: (f64, f64), to: (f64, f64)| {
        let Some(c) = canvas.get_untracked() else { return };
        let Some(ctx) = ctx2d(&c) else { return };
        ctx.set_stroke_style_str("#fff");
        ctx.set_line_cap("round");
        ctx.set_line_join("round");
        ctx.set_line_width(brush.get_untracked() * 10.0);
        ctx.begin_path();
        ctx.move_to(from.0, from.1);
        ctx.line_to(to.0 + 0.01, to.1);
        ctx.stroke();
    };
    let on_down = move |e: web_sys::PointerEvent| {
        e.prevent_default();
        if let Some(c) = canvas.get_untracked() {
            let _ = c.set_pointer_capture(e.pointer_id());
        }
        if let Some(p) = pos(&e) {
            stroke(p, p);
            drawing.set(Some(p));
        }
    };
    let on_move = move |e: web_sys::PointerEvent| {
        if let (Some(last), Some(p)) = (drawing.get_untracked(), pos(&e)) {
            stroke(last, p);
            drawing.set(Some(p));
        }
    };
    let on_up = move |_e: web_sys::PointerEvent| {
        if drawing.get_untracked().is_some() {
            drawing.set(None);
            update();
        }
    };
    let on_clear = move |_| {
        if let Some(c) = canvas.get_untracked() {
            clear(&c);
        }
        message.set(None);
        update();
    };
    let on_invert = move |_| {
        let Some(c) = canvas.get_untracked() else { return };
        let Some(ctx) = ctx2d(&c) else { return };
        ctx.set_global_composite_operation("difference").ok();
        ctx.set_fill_style_str("#fff");
        ctx.fill_rect(0.0, 0.0, CANVAS as f64, CANVAS as f64);
        ctx.set_global_composite_operation("source-over").ok();
        // An inverted drawing is dark ink on light: the same normalisation as an upload.
        update();
    };
    let on_file = move |_| {
        let Some(input) = file_input.get_untracked() else { return };
        let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
        input.set_value("");
        if file.size() > MAX_UPLOAD_BYTES {
            return message.set(Some(format!("\"{}\" is {:.1} MB; the largest image this page takes is {:.0} MB.", file.name(), file.size() / 1e6, MAX_UPLOAD_BYTES / 1e6)));
        }
        let kind = file.type_();
        if !kind.is_empty() && !kind.starts_with("image/") {
            return message.set(Some(format!("\"{}\" is not an image ({kind}); upload a PNG or JPEG.", file.name())));
        }
        message.set(Some("Reading the image…".into()));
        leptos::task::spawn_local(async move {
            let result = decode(file).await.and_then(|(w, h, rgba)| preprocess::from_rgba(w, h, &rgba).map_err(|e| e.to_string()));
            match result {
                Ok(px) => {
                    if let Some(c) = canvas.get_untracked() {
                        paint(&c, &px);
                    }
                    message.set(Some("Uploaded: centred and scaled to 28×28 the way the dataset was made. Draw on it or attack it.".into()));
                    custom.set(Some(px));
                }
                Err(e) => message.set(Some(format!("The upload was not used: {e}. Your drawing is unchanged."))),
            }
        });
    };
    let predicted = move || {
        prediction.get().map(|p| {
            let best = (0..p.len()).fold(0, |b, c| if p[c] > p[b] { c } else { b });
            (best, p[best])
        })
    };
    view! {
        <details class="draw" id="draw-panel" prop:open=move || open.get() on:toggle=move |ev| {
            if let Some(d) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlDetailsElement>().ok()) { open.set(d.open()); }
        }>
            <summary>"Draw or upload your own input"</summary>
            <div class="draw-body">
                <canvas node_ref=canvas id="draw-canvas" width=CANVAS height=CANVAS
                    aria-label="drawing area: draw with the mouse, a finger or a pen"
                    on:pointerdown=on_down on:pointermove=on_move on:pointerup=on_up on:pointercancel=on_up></canvas>
                <div class="draw-side">
                    <label>"Brush " <input id="brush-size" type="range" min="1" max="4" step="0.5"
                        prop:value=move || brush.get().to_string()
                        on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { brush.set(v); } }/></label>
                    <div class="draw-buttons">
                        <button type="button" class="secondary" id="draw-clear" on:click=on_clear>"Clear"</button>
                        <button type="button" class="secondary" id="draw-invert" on:click=on_invert>"Invert"</button>
                    </div>
                    <label>"Upload an image (PNG or JPEG) "
                        <input node_ref=file_input id="upload-input" type="file" accept="image/png,image/jpeg,image/*" on:change=on_file/></label>
                    <p class="draw-message" id="draw-message" aria-live="polite">{move || message.get()}</p>
                    <div class="draw-input">
                        "What the network gets: "
                        {move || custom.get().map(|px| view! { <PixelImage rgba=gray_rgba(&px) alt="your input at 28×28".to_string()/> })}
                    </div>
                    <p class="draw-prediction" id="draw-prediction" aria-live="polite">
                        {move || match predicted() {
                            Some((c, p)) => format!("The network sees: {} ({:.0}%)", names.get()[c], p * 100.0),
                            None => "Draw something: the network's guess appears here.".to_string(),
                        }}
                    </p>
                    <label>"Attack toward "
                        <select id="target-select" on:change=move |ev| target.set(event_target_value(&ev).parse::<u8>().ok())>
                            <option value="all">"every class"</option>
                            {move || names.get().into_iter().enumerate().map(|(i, n)| view! { <option value=i>{n}</option> }).collect_view()}
                        </select>
                    </label>
                    <button type="button" id="draw-attack" disabled=move || custom.with(|c| c.is_none())
                        on:click=move |_| on_attack.run(target.get_untracked())>"Attack my image"</button>
                </div>
            </div>
        </details>
    }
}

/// The image of row `row` at the scrubbed frame, if scrubbing.
pub fn frame_image(frames: &[(usize, Vec<f32>)], frame: Option<usize>, row: usize) -> Option<Vec<f32>> {
    let (_, px) = frames.get(frame?)?;
    px.get(row * PIXELS..(row + 1) * PIXELS).map(|s| s.to_vec())
}
