//! "Bring your own network" in the app: an upload is checked in full by
//! `dough_core::upload::load_upload` (in the page, nothing is sent anywhere), then joins the model
//! list of its dataset and becomes model A. Its weights stay in memory under Dough's tensor names
//! (`Page::model_file` finds them there), so the gallery, the analysis and compare mode use it
//! like a shipped model. A refused upload changes nothing.

use leptos::prelude::*;

use dough_core::upload::load_upload;

use super::Page;
use crate::assets::LoadedModel;
use crate::components::upload::UploadRequest;

impl Page {
    /// Checks `req` and, if it holds, adds the network to the model list and switches to it;
    /// otherwise the reason, and nothing changes.
    pub(super) fn load_uploaded(self, req: UploadRequest) -> Result<String, String> {
        let name = req.name.trim().to_string();
        if self.models.entries.with_untracked(|es| es.iter().any(|e| e.name == name)) {
            return Err(format!("a model named \"{name}\" is already in the list; choose another name"));
        }
        let up = load_upload(&name, req.dataset, &req.description, &req.bytes).map_err(|e| e.to_string())?;
        // The page keeps (and sends the workers) the weights re-encoded as f32 safetensors: the
        // entry names those bytes' SHA-256, the key of the workers' model caches.
        let bytes = up.weights.to_safetensors();
        let mut entry = up.entry.clone();
        entry.sha256 = dough_core::digest::sha256_hex(&bytes);
        let model = LoadedModel { entry: entry.clone(), bytes: std::rc::Rc::new(bytes) };
        self.models.uploads.update_value(|u| u.push(model));
        self.models.entries.update(|es| es.push(entry));
        let b = self.compare.entry.get_untracked().map(|e| e.name);
        self.set_pair(name.clone(), b);
        Ok(format!("Loaded \"{name}\" ({} parameters) as a {} model; the gallery runs on it.", up.entry.params, req.dataset.title()))
    }

    /// An uploaded network's weights (Dough's names, F32), if `name` is one.
    pub(super) fn uploaded(self, name: &str) -> Option<LoadedModel> {
        self.models.uploads.with_value(|u| u.iter().find(|m| m.entry.name == name).cloned())
    }
}
