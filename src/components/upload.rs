//! "Your own network": a `.safetensors` file (F32 or F16), a layer description (typed, or read
//! from a JSON file), a name and a dataset. The files are read in the page; nothing is sent
//! anywhere. The app checks the upload and answers with a message for the form.

use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

use dough_core::manifest::DatasetId;
use dough_core::upload::{MAX_FILE_BYTES, UploadError};

/// What the form hands to the app: everything `load_upload` needs.
#[derive(Clone, Debug)]
pub struct UploadRequest {
    pub name: String,
    pub dataset: DatasetId,
    pub description: String,
    pub bytes: Vec<u8>,
}

const EXAMPLE: &str = r#"[
  {"kind": "conv2d", "activation": "relu"}, {"kind": "maxpool2d"},
  {"kind": "flatten"},
  {"kind": "dense", "activation": "relu"},
  {"kind": "dense", "activation": "none"}
]"#;

fn chosen_file(input: &NodeRef<leptos::html::Input>) -> Option<web_sys::File> {
    input.get_untracked()?.files()?.get(0)
}

async fn read_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buf = JsFuture::from(file.array_buffer()).await.map_err(|_| format!("\"{}\" could not be read", file.name()))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

async fn read_text(file: &web_sys::File) -> Result<String, String> {
    let text = JsFuture::from(file.text()).await.map_err(|_| format!("\"{}\" could not be read", file.name()))?;
    text.as_string().ok_or_else(|| format!("\"{}\" is not text", file.name()))
}

/// The form. `on_load` checks and uses the upload and answers `Ok(what happened)` or
/// `Err(why it was refused)`.
#[component]
pub fn UploadForm(dataset: Signal<DatasetId>, on_load: Callback<UploadRequest, Result<String, String>>, busy: Signal<bool>) -> impl IntoView {
    let weights = NodeRef::<leptos::html::Input>::new();
    let description_file = NodeRef::<leptos::html::Input>::new();
    let description = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let chosen_dataset = RwSignal::new(None::<DatasetId>);
    let reading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let message = RwSignal::new(None::<String>);

    let on_description_file = move |_| {
        let Some(file) = chosen_file(&description_file) else { return };
        spawn_read(reading, async move {
            match read_text(&file).await {
                Ok(text) => {
                    description.set(text);
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let on_weights = move |_| {
        // The file's name (without extension) is a fine default name.
        if let Some(file) = chosen_file(&weights)
            && name.with_untracked(|n| n.trim().is_empty())
        {
            let n = file.name();
            name.set(n.strip_suffix(".safetensors").unwrap_or(&n).to_string());
        }
    };
    let on_submit = move |_| {
        message.set(None);
        let Some(file) = chosen_file(&weights) else {
            return error.set(Some("choose a .safetensors file first".into()));
        };
        if file.size() > MAX_FILE_BYTES as f64 {
            return error.set(Some(UploadError::TooLarge { bytes: file.size() as usize, limit: MAX_FILE_BYTES }.to_string()));
        }
        spawn_read(reading, async move {
            let result = match read_bytes(&file).await {
                Ok(bytes) => on_load.run(UploadRequest {
                    name: name.get_untracked(),
                    dataset: chosen_dataset.get_untracked().unwrap_or_else(|| dataset.get_untracked()),
                    description: description.get_untracked(),
                    bytes,
                }),
                Err(e) => Err(e),
            };
            match result {
                Ok(m) => {
                    error.set(None);
                    message.set(Some(m));
                }
                Err(e) => error.set(Some(format!("Not loaded: {e}. The current model stays."))),
            }
        });
    };
    let shown_dataset = move || chosen_dataset.get().unwrap_or_else(|| dataset.get());

    view! {
        <details class="upload" id="upload-panel">
            <summary>"Your own network (.safetensors)"</summary>
            <div class="upload-body">
                <p class="upload-hint">"A PyTorch-style network saved with safetensors (F32 or F16) and its layers, as in the README's \"Bring your own network\". Everything stays in this page."</p>
                <label>"Weights (.safetensors) "
                    <input node_ref=weights id="upload-weights" type="file" accept=".safetensors,application/octet-stream" on:change=on_weights/></label>
                <label class="upload-description">"Layers (JSON) "
                    <textarea id="upload-description" rows="6" spellcheck="false" placeholder=EXAMPLE
                        prop:value=move || description.get()
                        on:input=move |ev| description.set(event_target_value(&ev))></textarea></label>
                <label>"or a JSON file "
                    <input node_ref=description_file id="upload-description-file" type="file" accept=".json,application/json" on:change=on_description_file/></label>
                <label>"Name "
                    <input id="upload-name" type="text" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <label>"Dataset "
                    <select id="upload-dataset" on:change=move |ev| chosen_dataset.set(DatasetId::parse(&event_target_value(&ev)))>
                        {[DatasetId::Mnist, DatasetId::FashionMnist].into_iter().map(|d| view! {
                            <option value=d.slug() selected=move || shown_dataset() == d>{d.title()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button type="button" id="upload-load" disabled=move || busy.get() || reading.get() on:click=on_submit>"Check and load"</button>
                <Show when=move || error.get().is_some()>
                    <p class="error" role="alert" id="upload-error">{move || error.get().unwrap_or_default()}</p>
                </Show>
                <p class="upload-message" id="upload-message" aria-live="polite">{move || message.get()}</p>
            </div>
        </details>
    }
}

/// Runs a file read with the form marked busy.
fn spawn_read(reading: RwSignal<bool>, work: impl std::future::Future<Output = ()> + 'static) {
    reading.set(true);
    leptos::task::spawn_local(async move {
        work.await;
        reading.set(false);
    });
}
