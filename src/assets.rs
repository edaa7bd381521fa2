//! Loading and verifying what the page needs: the model manifest, a model, a sample pack.

use dough_core::manifest::{self, DatasetId, ModelEntry, Origin};
use dough_core::pack::SamplePack;
use dough_core::study::templates::Templates;

use crate::platform::{fetch_bytes, fetch_text};

pub const MANIFEST_URL: &str = "models/manifest.json";
pub const DEFAULT_MODEL: &str = "mnist-mlp";

/// A verified model file, ready to hand to the compute worker (kept, so that a fresh worker
/// can get it again after a crash).
#[derive(Clone, Debug)]
pub struct LoadedModel {
    pub entry: ModelEntry,
    pub bytes: std::rc::Rc<Vec<u8>>,
}

/// Whether `entry` is a network of this session (uploaded or trained in the page), kept in the
/// page's memory only.
pub fn in_session(entry: &ModelEntry) -> bool {
    entry.origin() != Origin::Zoo
}

pub async fn load_manifest() -> Result<Vec<ModelEntry>, String> {
    let text = fetch_text(MANIFEST_URL).await?;
    let entries = manifest::parse(&text).map_err(|e| e.to_string())?;
    if entries.is_empty() {
        return Err("the model manifest lists no models".into());
    }
    Ok(entries)
}

/// The model a dataset opens on: `<dataset>-mlp`, else its first model.
pub fn default_of(entries: &[ModelEntry], dataset: DatasetId) -> Option<&ModelEntry> {
    let name = format!("{}-mlp", dataset.slug());
    entries.iter().find(|e| e.name == name).or_else(|| entries.iter().find(|e| e.dataset == dataset))
}

/// Picks the model named `wanted`, else the default of `dataset`, else the default model; with
/// one notice per URL value that could not be honoured.
pub fn pick<'a>(entries: &'a [ModelEntry], wanted: Option<&str>, dataset: Option<&str>) -> (&'a ModelEntry, Vec<String>) {
    let mut notices = Vec::new();
    let fallback = entries.iter().find(|e| e.name == DEFAULT_MODEL).unwrap_or(&entries[0]);
    let ds = match dataset {
        None => None,
        Some(d) => match DatasetId::parse(d) {
            Some(id) if entries.iter().any(|e| e.dataset == id) => Some(id),
            _ => {
                notices.push(format!("dataset=\"{d}\" is unknown (mnist or fashion-mnist); ignoring it"));
                None
            }
        },
    };
    let default = ds.and_then(|d| default_of(entries, d)).unwrap_or(fallback);
    let chosen = match wanted {
        None => default,
        Some(name) => match entries.iter().find(|e| e.name == name) {
            Some(e) => e,
            None => {
                notices.push(format!("model=\"{name}\" is not in the manifest; showing {}", default.name));
                default
            }
        },
    };
    if let Some(d) = ds
        && chosen.dataset != d
    {
        notices.push(format!("model {} belongs to {}, not {}; showing {}", chosen.name, chosen.dataset.title(), d.title(), chosen.dataset.title()));
    }
    (chosen, notices)
}

/// Downloads a model's weights and checks them against the manifest before use.
pub async fn load_model(entry: &ModelEntry) -> Result<LoadedModel, String> {
    let bytes = fetch_bytes(&format!("models/{}", entry.file)).await?;
    entry.verify(&bytes).map_err(|e| e.to_string())?;
    entry.arch_spec().map_err(|e| e.to_string())?;
    Ok(LoadedModel { entry: entry.clone(), bytes: std::rc::Rc::new(bytes) })
}

pub async fn load_pack(dataset: DatasetId) -> Result<SamplePack, String> {
    let url = format!("data/{}-samples.dspk", dataset.slug());
    let bytes = fetch_bytes(&url).await?;
    SamplePack::decode(&bytes).map_err(|e| format!("{url}: {e}"))
}

/// The dataset's templates (class mean, contrast, t-statistic), computed offline by the CLI.
pub async fn load_templates(dataset: DatasetId) -> Result<Templates, String> {
    let url = format!("data/{}-templates.dtpl", dataset.slug());
    let bytes = fetch_bytes(&url).await?;
    Templates::decode(&bytes).map_err(|e| format!("{url}: {e}"))
}
