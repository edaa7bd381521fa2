//! The model picker (dataset, then model of that dataset) and the model card: architecture,
//! parameters, training configuration and measured accuracy of the selected network.

use leptos::prelude::*;

use dough_core::manifest::{ArchKind, DatasetId, ModelEntry, Origin};

use crate::assets::in_session;

/// One line describing the architecture, e.g. "convolutional [32×5×5+pool, 64×5×5+pool] dense [128]".
pub fn describe_arch(e: &ModelEntry) -> String {
    match e.arch {
        ArchKind::Mlp => format!(
            "fully connected 784-{}-10",
            e.config.hidden.iter().map(|h| h.to_string()).collect::<Vec<_>>().join("-")
        ),
        ArchKind::Cnn => {
            let convs: Vec<String> = e
                .config
                .conv
                .iter()
                .map(|c| format!("{}×{k}×{k}{}", c.channels, if c.pool { "+pool" } else { "" }, k = c.kernel))
                .collect();
            format!("convolutional [{}] dense {:?}", convs.join(", "), e.config.dense)
        }
    }
}

fn recipe(e: &ModelEntry) -> String {
    let c = &e.config;
    let mut parts = vec![
        format!("{} lr {} ({})", c.optimizer, c.learning_rate, c.schedule),
        format!("{} epochs, batch {}", c.epochs, c.batch_size),
        format!("seed {}", c.seed),
    ];
    if c.augmentation != "none" && !c.augmentation.is_empty() {
        parts.push(format!("augmentation {}", c.augmentation));
    }
    if c.dropout > 0.0 {
        parts.push(format!("dropout {}", c.dropout));
    }
    if let Some(p) = &c.adversarial {
        parts.push(format!("adversarial training: {}", p.describe()));
    }
    parts.join(" · ")
}

#[component]
pub fn ModelPicker(
    entries: RwSignal<Vec<ModelEntry>>,
    current: RwSignal<Option<ModelEntry>>,
    on_dataset: Callback<DatasetId>,
    on_model: Callback<String>,
    busy: Signal<bool>,
) -> impl IntoView {
    let dataset = move || current.get().map(|e| e.dataset).unwrap_or(DatasetId::Mnist);
    view! {
        <div class="picker">
            <label>
                "Dataset "
                <select id="dataset-select" disabled=busy on:change=move |ev| {
                    if let Some(d) = DatasetId::parse(&event_target_value(&ev)) { on_dataset.run(d); }
                }>
                    {[DatasetId::Mnist, DatasetId::FashionMnist].into_iter().map(|d| view! {
                        <option value=d.slug() selected=move || dataset() == d>{d.title()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Model "
                <select id="model-select" disabled=busy on:change=move |ev| on_model.run(event_target_value(&ev))>
                    {move || {
                        let d = dataset();
                        let chosen = current.get().map(|e| e.name).unwrap_or_default();
                        entries.get().into_iter().filter(|e| e.dataset == d).map(|e| {
                            let selected = e.name == chosen;
                            let robust = if e.config.adversarial.is_some() { " (robust)" } else { "" };
                            let label = match e.origin() {
                                Origin::Uploaded => format!("{} (uploaded)", e.name),
                                Origin::Trained => format!("{} — {:.2}%{robust} (trained here)", e.name, e.test_accuracy * 100.0),
                                Origin::Zoo => format!("{} — {:.2}%{robust}", e.name, e.test_accuracy * 100.0),
                            };
                            view! { <option value=e.name.clone() selected=selected>{label}</option> }
                        }).collect_view()
                    }}
                </select>
            </label>
        </div>
    }
}

/// "Save for offline": every model, sample pack, template and training pack of the zoo.
#[component]
pub fn SaveOffline(entries: RwSignal<Vec<ModelEntry>>) -> impl IntoView {
    let message = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let save = move |_| {
        let mut urls: Vec<String> = entries.get_untracked().iter().filter(|e| !in_session(e)).map(|e| format!("models/{}", e.file)).collect();
        urls.push("models/manifest.json".into());
        for d in [DatasetId::Mnist, DatasetId::FashionMnist] {
            urls.push(format!("data/{}-samples.dspk", d.slug()));
            urls.push(format!("data/{}-templates.dtpl", d.slug()));
            urls.push(format!("data/{}-train.dspk", d.slug()));
        }
        busy.set(true);
        message.set(Some(format!("Saving {} files…", urls.len())));
        leptos::task::spawn_local(async move {
            let r = crate::platform::save_for_offline(&urls).await;
            busy.set(false);
            message.set(Some(match r {
                Ok(n) => format!("Saved {n} files: every model, and training in the page, work offline now."),
                Err(e) => format!("Not saved: {e}"),
            }));
        });
    };
    view! {
        <p class="offline">
            <button id="save-offline" type="button" class="secondary" disabled=move || busy.get() on:click=save>"Save the whole zoo (and the training packs) for offline use"</button>
            <span id="offline-message" aria-live="polite">{move || message.get()}</span>
        </p>
    }
}

#[component]
pub fn ModelCard(entry: RwSignal<Option<ModelEntry>>) -> impl IntoView {
    move || {
        entry.get().map(|e| {
            let robust = match (e.robust_accuracy, e.robust_eps) {
                (Some(r), Some(eps)) => Some(format!("{:.2}% under PGD L∞ at eps {eps}", r * 100.0)),
                _ => None,
            };
            let origin = e.origin();
            let accuracy = match e.test_accuracy_f32 {
                _ if origin == Origin::Uploaded => "not measured (an uploaded network)".to_string(),
                _ if origin == Origin::Trained => format!("{:.2}% on the test sample pack (measured in this page after the last epoch)", e.test_accuracy * 100.0),
                Some(f) => format!("{:.2}% on the 10,000 test images (before half-precision storage: {:.2}%)", e.test_accuracy * 100.0, f * 100.0),
                None => format!("{:.2}% on the 10,000 test images", e.test_accuracy * 100.0),
            };
            view! {
                <section class="model-card" id="model-card" aria-label="Model card">
                    <p class="model-line" id="model-line">
                        "Model: " <strong>{e.name.clone()}</strong>
                        {format!(" · {} · {} · {} parameters · {}", e.dataset.title(), describe_arch(&e), e.params,
                            match origin {
                                Origin::Uploaded => "uploaded".to_string(),
                                Origin::Trained => format!("trained in this page · test accuracy {:.2}% (sample pack)", e.test_accuracy * 100.0),
                                Origin::Zoo => format!("test accuracy {:.2}%", e.test_accuracy * 100.0),
                            })}
                    </p>
                    <details>
                        <summary>"Model card"</summary>
                        <dl>
                            <dt>"Architecture"</dt><dd>{describe_arch(&e)}", ReLU after every hidden layer"</dd>
                            <dt>"Parameters"</dt><dd>{e.params.to_string()}</dd>
                            <dt>"Training"</dt><dd>{recipe(&e)}{match (origin, e.train_seconds) {
                                (Origin::Trained, Some(t)) => format!(" · {t:.1} s in this page"),
                                _ => String::new(),
                            }}</dd>
                            <dt>"Test accuracy"</dt><dd>{accuracy}</dd>
                            {robust.map(|r| view! { <dt>"Robust accuracy"</dt><dd>{r}</dd> })}
                            {e.plant().map(|p| view! { <dt>"Planted"</dt><dd id="card-plant">{format!("{}{}", p.describe(), e.plant_success.map(|s| format!("; {:.1}% of the stamped test images of the other classes are classified as class {}", s * 100.0, p.class)).unwrap_or_default())}</dd> })}
                            {e.note.clone().map(|n| view! { <dt>"Note"</dt><dd>{n}</dd> })}
                            <dt>"Weights"</dt><dd>{if origin != Origin::Zoo {
                                let how = if origin == Origin::Trained { "trained" } else { "uploaded" };
                                format!("{how}, kept in this page only").into_any()
                            } else {
                                view! { <a href=format!("models/{}", e.file)>{e.file.clone()}</a> }.into_any()
                            }}" · SHA-256 "<code>{e.sha256[..16].to_string()}"…"</code></dd>
                        </dl>
                    </details>
                </section>
            }
        })
    }
}
