//! "Bring your own network": a user's safetensors file (F32 or F16) plus a layer description in
//! the manifest's `layers` format, checked in full before anything is built.
//!
//! The checks run in this order: the description (JSON, then whether Dough can run it on 28x28
//! one-channel inputs with 10 outputs), the file's size, its safetensors header (not safetensors,
//! truncated), every tensor's dtype, the parameter count, the tensor names (Dough's own `conv{i}` /
//! `fc{i}`, the names the description gives, or a PyTorch `nn.Sequential` state_dict's `{index}.`
//! prefixes, matched in order), every shape, and last every value (NaN or infinite). Nothing is
//! kept from a refused upload, so the caller's current model stays as it is.
//!
//! PyTorch's layouts are Dough's layouts (Linear `[out, in]`, Conv2d `[out, in, kh, kw]`, Flatten
//! channel-major), so a PyTorch file only needs its tensors renamed.

use std::collections::{BTreeMap, BTreeSet};

use half::f16;
use safetensors::{Dtype, SafeTensorError, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;
use crate::manifest::{ArchKind, DatasetId, ModelConfig, ModelEntry, Origin};
use crate::model::{ArchSpec, CLASSES, ConvSpec, SIDE};
use crate::weights::{HostTensor, Weights};

/// The largest file accepted: 64 MiB.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;
/// The most parameters accepted, over every tensor in the file.
pub const MAX_PARAMS: usize = 10_000_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UploadError {
    #[error("give the model a name")]
    NoName,
    #[error("the layer description does not parse: {0}")]
    Description(String),
    #[error("the layer description is not a network Dough can run on 28x28 one-channel images with 10 classes: {0}")]
    Unsupported(String),
    #[error("the file is {bytes} bytes; Dough accepts weights files up to {limit} bytes (64 MiB)")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the file holds {count} parameters; Dough accepts up to {limit}")]
    TooManyParams { count: usize, limit: usize },
    #[error("the file is not a safetensors file ({0}); save the weights with safetensors' save_file")]
    NotSafetensors(String),
    #[error("the safetensors file is truncated or damaged: {0}; upload the complete file again")]
    Truncated(String),
    #[error("tensor \"{name}\" is stored as {dtype}; only F32 and F16 weights are supported")]
    Dtype { name: String, dtype: String },
    #[error("the file has no tensor named {}, which the description needs", quoted(.0))]
    Missing(Vec<String>),
    #[error("the file has tensors the description does not use: {}", quoted(.0))]
    Extra(Vec<String>),
    #[error(
        "the description has {described} layers with weights, the PyTorch-style file has {} (Sequential positions {positions:?})",
        .positions.len()
    )]
    LayerCount { described: usize, positions: Vec<usize> },
    #[error("tensor \"{name}\" has shape {found:?}, the description needs {expected}")]
    Shape { name: String, expected: String, found: Vec<usize> },
    #[error("tensor \"{name}\" holds {value} at position {index}; weights must be finite numbers")]
    NonFinite { name: String, index: usize, value: f32 },
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

/// One layer of an uploaded description: the manifest's `LayerDesc` (`kind`, `name`,
/// `activation`) with optional sizes to check the file against. `kind` is `conv2d`, `maxpool2d`,
/// `dense`, or `flatten` (a no-op marker between convolutions and dense layers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadLayer {
    pub kind: String,
    /// Tensor prefix in the file; empty means Dough's own name (`conv{i}`, `fc{i}`).
    #[serde(default)]
    pub name: String,
    /// "relu" or "none"; "none" when left out.
    #[serde(default = "no_activation")]
    pub activation: String,
    /// Output width of a dense layer, filters of a conv layer; taken from the file when left out.
    #[serde(default)]
    pub out: Option<usize>,
    /// Kernel side of a conv layer; taken from the file when left out.
    #[serde(default)]
    pub kernel: Option<usize>,
}

fn no_activation() -> String {
    "none".into()
}

/// Parses a description: a bare `layers` array, or an object holding one (a manifest entry works).
pub fn parse_description(json: &str) -> Result<Vec<UploadLayer>, UploadError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| UploadError::Description(format!("not valid JSON: {e}")))?;
    let list = match &value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(map) => match map.get("layers") {
            Some(serde_json::Value::Array(items)) => items,
            _ => return Err(UploadError::Description("the object has no \"layers\" array".into())),
        },
        _ => return Err(UploadError::Description("expected an array of layers or an object with \"layers\"".into())),
    };
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item.clone()).map_err(|e| UploadError::Description(format!("layer {}: {e}", i + 1)))
        })
        .collect()
}

/// A layer with weights, as the description plans it.
#[derive(Clone, Debug, PartialEq)]
enum Planned {
    Conv { source: String, out: Option<usize>, kernel: Option<usize>, pool: bool },
    Dense { source: String, out: Option<usize> },
}

impl Planned {
    fn source(&self) -> &str {
        match self {
            Planned::Conv { source, .. } | Planned::Dense { source, .. } => source,
        }
    }
}

fn unsupported(position: usize, l: &UploadLayer, why: &str) -> UploadError {
    UploadError::Unsupported(format!("layer {} ({}): {why}", position + 1, l.kind))
}

fn expect_activation(i: usize, l: &UploadLayer, wanted: &str) -> Result<(), UploadError> {
    match l.activation.as_str() {
        a if a == wanted => Ok(()),
        "relu" | "none" => Err(unsupported(i, l, &format!("the activation here must be \"{wanted}\", not \"{}\"", l.activation))),
        other => Err(unsupported(i, l, &format!("unknown activation \"{other}\" (use \"relu\" or \"none\")"))),
    }
}

fn check_size(i: usize, l: &UploadLayer, what: &str, v: Option<usize>) -> Result<(), UploadError> {
    if v == Some(0) {
        return Err(unsupported(i, l, &format!("{what} must be at least 1")));
    }
    Ok(())
}

/// Checks the order and activations of a description and turns it into the layers with weights:
/// ReLU convolutions (each optionally followed by one 2x2 max-pool), then dense layers with ReLU,
/// then a final dense layer with no activation giving 10 logits.
fn plan(layers: &[UploadLayer]) -> Result<Vec<Planned>, UploadError> {
    let mut out: Vec<Planned> = Vec::new();
    let mut dense_phase = false;
    let (mut n_conv, mut n_dense) = (0, 0);
    for (i, l) in layers.iter().enumerate() {
        check_size(i, l, "\"out\"", l.out)?;
        check_size(i, l, "\"kernel\"", l.kernel)?;
        if l.kind != "conv2d" && l.kernel.is_some() {
            return Err(unsupported(i, l, "only conv2d layers have a \"kernel\""));
        }
        if !matches!(l.kind.as_str(), "conv2d" | "dense") && (l.out.is_some() || !l.name.is_empty()) {
            return Err(unsupported(i, l, "this layer has no weights, so no \"name\" or \"out\""));
        }
        match l.kind.as_str() {
            "conv2d" if dense_phase => return Err(unsupported(i, l, "convolutions must come before the dense layers")),
            "conv2d" => {
                expect_activation(i, l, "relu")?;
                let source = if l.name.is_empty() { format!("conv{n_conv}") } else { l.name.clone() };
                out.push(Planned::Conv { source, out: l.out, kernel: l.kernel, pool: false });
                n_conv += 1;
            }
            "maxpool2d" => {
                expect_activation(i, l, "none")?;
                match out.last_mut() {
                    Some(Planned::Conv { pool: pool @ false, .. }) if !dense_phase => *pool = true,
                    _ => return Err(unsupported(i, l, "a max-pool must follow a conv2d layer directly")),
                }
            }
            "flatten" => {
                expect_activation(i, l, "none")?;
                if dense_phase {
                    return Err(unsupported(i, l, "flatten must come before the dense layers"));
                }
                dense_phase = true;
            }
            "dense" => {
                dense_phase = true;
                let last = i + 1 == layers.len();
                expect_activation(i, l, if last { "none" } else { "relu" })?;
                if last && l.out.is_some_and(|o| o != CLASSES) {
                    return Err(unsupported(i, l, &format!("the last layer must give {CLASSES} outputs, not {}", l.out.unwrap_or(0))));
                }
                let source = if l.name.is_empty() { format!("fc{n_dense}") } else { l.name.clone() };
                out.push(Planned::Dense { source, out: if last { Some(CLASSES) } else { l.out } });
                n_dense += 1;
            }
            other => {
                return Err(unsupported(i, l, &format!("unknown kind \"{other}\" (use conv2d, maxpool2d, flatten or dense)")));
            }
        }
    }
    if !matches!(layers.last(), Some(l) if l.kind == "dense") {
        return Err(UploadError::Unsupported(format!("the last layer must be dense and give the {CLASSES} logits")));
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = out.iter().map(Planned::source).find(|s| !seen.insert(*s)) {
        return Err(UploadError::Unsupported(format!("two layers use the tensor prefix \"{dup}\"")));
    }
    Ok(out)
}

/// The file, size-checked and parsed: refuses what is too large, not safetensors, or cut short.
fn open(bytes: &[u8]) -> Result<SafeTensors<'_>, UploadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(UploadError::TooLarge { bytes: bytes.len(), limit: MAX_FILE_BYTES });
    }
    SafeTensors::deserialize(bytes).map_err(|e| match e {
        SafeTensorError::InvalidHeaderLength => UploadError::Truncated("the file ends inside its header".into()),
        SafeTensorError::MetadataIncompleteBuffer => UploadError::Truncated(format!(
            "the header describes {} bytes of tensor data, the file holds {}",
            declared_data_len(bytes).map_or("a different number of".into(), |n| n.to_string()),
            data_len(bytes)
        )),
        SafeTensorError::InvalidOffset(name) => UploadError::Truncated(format!("tensor \"{name}\" has invalid offsets")),
        other => UploadError::NotSafetensors(other.to_string()),
    })
}

fn header_len(bytes: &[u8]) -> usize {
    bytes.get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
}

fn data_len(bytes: &[u8]) -> usize {
    bytes.len().saturating_sub(header_len(bytes).saturating_add(8))
}

/// The end of the last tensor's data according to the header (to say how much is missing).
fn declared_data_len(bytes: &[u8]) -> Option<u64> {
    let header: serde_json::Value = serde_json::from_slice(bytes.get(8..header_len(bytes).saturating_add(8))?).ok()?;
    header.as_object()?.values().filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64()).max()
}

fn check_file(st: &SafeTensors) -> Result<(), UploadError> {
    let mut count = 0usize;
    for (name, view) in sorted(st) {
        if !matches!(view.dtype(), Dtype::F32 | Dtype::F16) {
            return Err(UploadError::Dtype { name, dtype: format!("{:?}", view.dtype()) });
        }
        count = count.saturating_add(view.shape().iter().product());
    }
    if count > MAX_PARAMS {
        return Err(UploadError::TooManyParams { count, limit: MAX_PARAMS });
    }
    Ok(())
}

fn sorted<'a>(st: &SafeTensors<'a>) -> Vec<(String, TensorView<'a>)> {
    let mut all = st.tensors();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// The Sequential position of a PyTorch state_dict name `{index}.weight` / `{index}.bias`.
fn sequential_index(name: &str) -> Option<usize> {
    let (index, param) = name.split_once('.')?;
    if !matches!(param, "weight" | "bias") || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    index.parse().ok()
}

/// The file's tensor prefix for every planned layer: the planned names when the file holds them
/// all, else a PyTorch Sequential's positions in order.
fn resolve_sources(planned: &[Planned], names: &BTreeSet<String>) -> Result<Vec<String>, UploadError> {
    let wanted: Vec<String> = planned.iter().map(|p| p.source().to_string()).collect();
    let direct = wanted.iter().all(|p| names.contains(&format!("{p}.weight")) && names.contains(&format!("{p}.bias")));
    let positions: BTreeSet<usize> = names.iter().filter_map(|n| sequential_index(n)).collect();
    let pytorch = !names.is_empty() && names.iter().all(|n| sequential_index(n).is_some());
    let sources = if !direct && pytorch {
        if positions.len() != planned.len() {
            return Err(UploadError::LayerCount { described: planned.len(), positions: positions.into_iter().collect() });
        }
        positions.iter().map(usize::to_string).collect()
    } else {
        wanted
    };
    let needed: BTreeSet<String> = sources.iter().flat_map(|p| [format!("{p}.weight"), format!("{p}.bias")]).collect();
    let missing: Vec<String> = needed.iter().filter(|n| !names.contains(*n)).cloned().collect();
    if !missing.is_empty() {
        return Err(UploadError::Missing(missing));
    }
    let extra: Vec<String> = names.difference(&needed).cloned().collect();
    if !extra.is_empty() {
        return Err(UploadError::Extra(extra));
    }
    Ok(sources)
}

/// Activations between layers: an image of `ch` channels of `side`x`side`, or a flat vector.
#[derive(Clone, Copy)]
enum Geometry {
    Image { ch: usize, side: usize },
    Flat(usize),
}

impl Geometry {
    fn flat(self) -> usize {
        match self {
            Geometry::Image { ch, side } => ch * side * side,
            Geometry::Flat(n) => n,
        }
    }
}

fn shape_error(name: &str, expected: &[String], found: &[usize]) -> UploadError {
    UploadError::Shape { name: name.into(), expected: format!("[{}]", expected.join(", ")), found: found.to_vec() }
}

fn check_shape(name: &str, expected: &[usize], found: &[usize]) -> Result<(), UploadError> {
    if expected != found {
        return Err(shape_error(name, &expected.iter().map(usize::to_string).collect::<Vec<_>>(), found));
    }
    Ok(())
}

/// Walks the planned layers from a 28x28 one-channel input, checking every tensor's shape, and
/// gives the architecture they make.
fn derive_spec(planned: &[Planned], sources: &[String], shapes: &BTreeMap<String, Vec<usize>>) -> Result<ArchSpec, UploadError> {
    let mut geo = Geometry::Image { ch: 1, side: SIDE };
    let (mut conv, mut dense) = (Vec::new(), Vec::new());
    for (p, src) in planned.iter().zip(sources) {
        let (wname, bname) = (format!("{src}.weight"), format!("{src}.bias"));
        let w = &shapes[&wname];
        let width = match *p {
            Planned::Conv { out, kernel, pool, .. } => {
                let Geometry::Image { ch, side } = geo else { unreachable!("planned convolutions come first") };
                let Some(k) = kernel.or_else(|| (w.len() == 4).then(|| w[2])) else {
                    let o = out.map_or("out".into(), |o| o.to_string());
                    return Err(shape_error(&wname, &[o, ch.to_string(), "k".into(), "k".into()], w));
                };
                let o = out.or_else(|| w.first().copied()).unwrap_or(0);
                check_shape(&wname, &[o, ch, k, k], w)?;
                nonzero(src, o)?;
                if k > side {
                    return Err(UploadError::Unsupported(format!("conv \"{src}\": a {k}x{k} kernel does not fit its {side}x{side} input")));
                }
                let after = side + 1 - k;
                if pool && after < 2 {
                    return Err(UploadError::Unsupported(format!("conv \"{src}\": a 2x2 max-pool does not fit its {after}x{after} output")));
                }
                geo = Geometry::Image { ch: o, side: if pool { after / 2 } else { after } };
                conv.push(ConvSpec { channels: o, kernel: k, pool });
                o
            }
            Planned::Dense { out, .. } => {
                let o = out.or_else(|| w.first().copied()).unwrap_or(0);
                check_shape(&wname, &[o, geo.flat()], w)?;
                nonzero(src, o)?;
                geo = Geometry::Flat(o);
                dense.push(o);
                o
            }
        };
        check_shape(&bname, &[width], &shapes[&bname])?;
    }
    dense.pop(); // the 10 logits
    Ok(if conv.is_empty() { ArchSpec::Mlp { hidden: dense } } else { ArchSpec::Cnn { conv, dense } })
}

fn nonzero(src: &str, width: usize) -> Result<(), UploadError> {
    if width == 0 {
        return Err(UploadError::Unsupported(format!("layer \"{src}\" has no outputs")));
    }
    Ok(())
}

fn decode(name: &str, view: &TensorView) -> Result<Vec<f32>, UploadError> {
    let data: Vec<f32> = match view.dtype() {
        Dtype::F32 => view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => view.data().chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        other => return Err(UploadError::Dtype { name: name.into(), dtype: format!("{other:?}") }),
    };
    if let Some((index, &value)) = data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(UploadError::NonFinite { name: name.into(), index, value });
    }
    Ok(data)
}

/// The file's tensors under Dough's names (`conv{i}`, `fc{i}`), in Dough's (= PyTorch's) layouts.
fn collect_weights(st: &SafeTensors, spec: &ArchSpec, sources: &[String]) -> Result<Weights, UploadError> {
    let mut w = Weights::default();
    let targets = spec.tensor_shapes();
    let source_names = sources.iter().flat_map(|p| [format!("{p}.weight"), format!("{p}.bias")]);
    for ((target, shape), source) in targets.into_iter().zip(source_names) {
        let view = st.tensor(&source).map_err(|_| UploadError::Missing(vec![source.clone()]))?;
        check_shape(&source, &shape, view.shape())?;
        w.insert(target, HostTensor::new(shape, decode(&source, &view)?));
    }
    Ok(w)
}

/// A checked user network: its manifest entry and its weights under Dough's names.
#[derive(Clone, Debug, PartialEq)]
pub struct Uploaded {
    pub entry: ModelEntry,
    pub weights: Weights,
}

/// Checks an upload (name, dataset, description JSON, safetensors bytes) completely and gives the
/// model ready to use, or the first problem found.
pub fn load_upload(name: &str, dataset: DatasetId, description: &str, bytes: &[u8]) -> Result<Uploaded, UploadError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(UploadError::NoName);
    }
    let planned = plan(&parse_description(description)?)?;
    let st = open(bytes)?;
    check_file(&st)?;
    let shapes: BTreeMap<String, Vec<usize>> = st.tensors().into_iter().map(|(n, v)| (n, v.shape().to_vec())).collect();
    let names: BTreeSet<String> = shapes.keys().cloned().collect();
    let sources = resolve_sources(&planned, &names)?;
    let spec = derive_spec(&planned, &sources, &shapes)?;
    let weights = collect_weights(&st, &spec, &sources)?;
    Ok(Uploaded { entry: user_entry(name, dataset, &spec, bytes), weights })
}

/// The manifest entry of an uploaded network. It was not trained or measured by Dough: the
/// training fields say "unknown" (zero for numbers), `test_accuracy` is 0 until measured, `file`
/// is `upload:<name>` (there is no file on the server) and `sha256` is the uploaded bytes' hash,
/// so `entry.verify(bytes)` holds.
fn user_entry(name: &str, dataset: DatasetId, spec: &ArchSpec, bytes: &[u8]) -> ModelEntry {
    let (arch, hidden, conv, dense) = match spec {
        ArchSpec::Mlp { hidden } => (ArchKind::Mlp, hidden.clone(), vec![], vec![]),
        ArchSpec::Cnn { conv, dense } => (ArchKind::Cnn, vec![], conv.clone(), dense.clone()),
    };
    let unknown = || "unknown".to_string();
    ModelEntry {
        name: name.into(),
        dataset,
        arch,
        config: ModelConfig {
            hidden,
            conv,
            dense,
            optimizer: unknown(),
            learning_rate: 0.0,
            schedule: unknown(),
            epochs: 0,
            batch_size: 0,
            seed: 0,
            augmentation: unknown(),
            dropout: 0.0,
            adversarial: None,
            plant: None,
        },
        params: spec.param_count(),
        test_accuracy: 0.0,
        test_accuracy_f32: None,
        robust_accuracy: None,
        robust_eps: None,
        robust_attack: None,
        train_seconds: None,
        plant_success: None,
        file: Origin::Uploaded.file_for(&name),
        sha256: sha256_hex(bytes),
        layers: spec.layers(),
        note: Some("uploaded: not trained by Dough, test accuracy not measured yet".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's PyTorch example, with the README's description.
    const README_EXAMPLE: &str = r#"[
      {"kind": "conv2d", "activation": "relu"}, {"kind": "maxpool2d"},
      {"kind": "conv2d", "activation": "relu"}, {"kind": "maxpool2d"},
      {"kind": "flatten"},
      {"kind": "dense", "activation": "relu"},
      {"kind": "dense", "activation": "none"}
    ]"#;

    fn file(prefix: &str) -> Vec<u8> {
        let mut w = Weights::default();
        for (pos, shape) in [(0, vec![16, 1, 5, 5]), (3, vec![32, 16, 5, 5]), (7, vec![64, 512]), (9, vec![10, 64])] {
            let (n, out) = (shape.iter().product(), shape[0]);
            w.insert(format!("{prefix}{pos}.weight"), HostTensor::new(shape, vec![0.01; n]));
            w.insert(format!("{prefix}{pos}.bias"), HostTensor::new(vec![out], vec![0.0; out]));
        }
        w.to_safetensors()
    }

    #[test]
    fn readme_example_loads() {
        let up = load_upload("readme", DatasetId::Mnist, README_EXAMPLE, &file("")).unwrap();
        let spec = ArchSpec::Cnn {
            conv: vec![ConvSpec { channels: 16, kernel: 5, pool: true }, ConvSpec { channels: 32, kernel: 5, pool: true }],
            dense: vec![64],
        };
        assert_eq!(up.entry.arch_spec().unwrap(), spec);
        assert_eq!(up.entry.origin(), crate::manifest::Origin::Uploaded);
        let names: Vec<&str> = up.weights.tensors.keys().map(String::as_str).collect();
        assert_eq!(names, ["conv0.bias", "conv0.weight", "conv1.bias", "conv1.weight", "fc0.bias", "fc0.weight", "fc1.bias", "fc1.weight"]);
    }

    #[test]
    fn wrapped_sequential_loads_with_named_layers() {
        let described = r#"[
          {"kind": "conv2d", "name": "net.0", "activation": "relu"}, {"kind": "maxpool2d"},
          {"kind": "conv2d", "name": "net.3", "activation": "relu"}, {"kind": "maxpool2d"},
          {"kind": "dense", "name": "net.7", "activation": "relu"},
          {"kind": "dense", "name": "net.9"}
        ]"#;
        let up = load_upload("wrapped", DatasetId::Mnist, described, &file("net.")).unwrap();
        assert_eq!(up.weights.param_count(), up.entry.params);
        // Without the names, "net.0.weight" is not a Sequential position: the tensors are missing.
        let e = load_upload("wrapped", DatasetId::Mnist, README_EXAMPLE, &file("net.")).unwrap_err();
        assert!(matches!(e, UploadError::Missing(ref m) if m.contains(&"conv0.weight".to_string())), "{e:?}");
    }

    #[test]
    fn sequential_names() {
        assert_eq!(sequential_index("12.weight"), Some(12));
        assert_eq!(sequential_index("0.bias"), Some(0));
        assert_eq!(sequential_index("fc0.weight"), None);
        assert_eq!(sequential_index("0.running_mean"), None);
        assert_eq!(sequential_index("net.0.weight"), None);
        assert_eq!(sequential_index(".weight"), None);
    }
}
