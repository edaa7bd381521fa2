//! "Bring your own network": files written by the Python `safetensors` package (see
//! `tests/fixtures/byo/make_fixture.py`) load through the upload path and give numpy's logits in
//! a plain-Rust forward pass; files from Dough's own writer load; every bad upload is refused with
//! its own message.

use std::path::PathBuf;

use dough_core::manifest::DatasetId;
use dough_core::model::{ArchSpec, ConvSpec, LayerDesc};
use dough_core::upload::{MAX_FILE_BYTES, MAX_PARAMS, UploadError, Uploaded, load_upload, parse_description};
use dough_core::weights::{HostTensor, Weights};
use safetensors::{Dtype, tensor::TensorView};

const MLP: &str = r#"[
    {"kind": "dense", "name": "fc0", "activation": "relu"},
    {"kind": "dense", "name": "fc1", "activation": "none"}
]"#;

/// The fixture CNN with names left out, sizes partly given, and PyTorch's Flatten.
const CNN: &str = r#"{"layers": [
    {"kind": "conv2d", "activation": "relu"},
    {"kind": "maxpool2d"},
    {"kind": "conv2d", "activation": "relu", "out": 6, "kernel": 3},
    {"kind": "flatten"},
    {"kind": "dense", "activation": "relu", "out": 16},
    {"kind": "dense"}
]}"#;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/byo").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected(key: &str) -> Vec<Vec<f64>> {
    let json: serde_json::Value = serde_json::from_slice(&fixture("expected.json")).unwrap();
    serde_json::from_value(json[key].clone()).unwrap()
}

fn load(description: &str, bytes: &[u8]) -> Result<Uploaded, UploadError> {
    load_upload("mine", DatasetId::Mnist, description, bytes)
}

/// Input k of the fixture: pixel i = ((i * 37 + k * 101) % 256) / 255.
fn input(k: usize) -> Vec<f64> {
    (0..784).map(|i| ((i * 37 + k * 101) % 256) as f64 / 255.0).collect()
}

/// Activations of one image: channels x side x side (flat: ch = len, side = 1).
struct Act {
    ch: usize,
    side: usize,
    v: Vec<f64>,
}

fn conv2d(a: &Act, w: &HostTensor, b: &HostTensor) -> Act {
    let (out_ch, in_ch, k) = (w.shape[0], w.shape[1], w.shape[2]);
    let side = a.side + 1 - k;
    let mut v = vec![0.0; out_ch * side * side];
    for o in 0..out_ch {
        for y in 0..side {
            for x in 0..side {
                let mut s = b.data[o] as f64;
                for i in 0..in_ch {
                    for ky in 0..k {
                        for kx in 0..k {
                            let wv = w.data[((o * in_ch + i) * k + ky) * k + kx] as f64;
                            s += wv * a.v[(i * a.side + y + ky) * a.side + x + kx];
                        }
                    }
                }
                v[(o * side + y) * side + x] = s;
            }
        }
    }
    Act { ch: out_ch, side, v }
}

fn maxpool2(a: &Act) -> Act {
    let side = a.side / 2;
    let mut v = vec![f64::NEG_INFINITY; a.ch * side * side];
    for c in 0..a.ch {
        for y in 0..side * 2 {
            for x in 0..side * 2 {
                let dst = &mut v[(c * side + y / 2) * side + x / 2];
                *dst = dst.max(a.v[(c * a.side + y) * a.side + x]);
            }
        }
    }
    Act { ch: a.ch, side, v }
}

/// `w` is `[out, in]`; the input is flattened channel-major (its `v` as stored).
fn dense(a: &Act, w: &HostTensor, b: &HostTensor) -> Act {
    let (out, inp) = (w.shape[0], w.shape[1]);
    assert_eq!(inp, a.v.len());
    let v = (0..out)
        .map(|o| b.data[o] as f64 + (0..inp).map(|j| w.data[o * inp + j] as f64 * a.v[j]).sum::<f64>())
        .collect();
    Act { ch: out, side: 1, v }
}

/// The forward pass from the weights as Dough stores them and the entry's layer list.
fn forward(w: &Weights, layers: &[LayerDesc], image: &[f64]) -> Vec<f64> {
    let mut a = Act { ch: 1, side: 28, v: image.to_vec() };
    let t = |l: &LayerDesc, p: &str| &w.tensors[&format!("{}.{p}", l.name)];
    for l in layers {
        a = match l.kind.as_str() {
            "conv2d" => conv2d(&a, t(l, "weight"), t(l, "bias")),
            "maxpool2d" => maxpool2(&a),
            "dense" => dense(&a, t(l, "weight"), t(l, "bias")),
            other => panic!("unknown layer kind {other}"),
        };
        if l.activation == "relu" {
            a.v.iter_mut().for_each(|x| *x = x.max(0.0));
        }
    }
    a.v
}

fn worst_gap(up: &Uploaded, want: &[Vec<f64>]) -> f64 {
    assert_eq!(want.len(), 3);
    let mut worst = 0.0f64;
    for (k, logits) in want.iter().enumerate() {
        let got = forward(&up.weights, &up.entry.layers, &input(k));
        assert_eq!(got.len(), 10);
        worst = worst.max(got.iter().zip(logits).map(|(g, e)| (g - e).abs()).fold(0.0, f64::max));
    }
    worst
}

#[test]
fn pytorch_mlp_f32_matches_numpy() {
    let bytes = fixture("mlp-f32.safetensors");
    let up = load(MLP, &bytes).unwrap();
    assert_eq!(up.entry.arch_spec().unwrap(), ArchSpec::Mlp { hidden: vec![32] });
    assert_eq!(up.weights.tensors["fc0.weight"].shape, vec![32, 784]);
    assert!(up.entry.verify(&bytes).is_ok());
    assert_eq!(up.entry.name, "mine");
    assert!(up.entry.file.starts_with("upload:"));
    let gap = worst_gap(&up, &expected("mlp"));
    assert!(gap < 1e-4, "max |rust - numpy| = {gap:e}");
}

#[test]
fn pytorch_cnn_f32_matches_numpy() {
    let up = load(CNN, &fixture("cnn-f32.safetensors")).unwrap();
    let spec = ArchSpec::Cnn {
        conv: vec![ConvSpec { channels: 4, kernel: 5, pool: true }, ConvSpec { channels: 6, kernel: 3, pool: false }],
        dense: vec![16],
    };
    assert_eq!(up.entry.arch_spec().unwrap(), spec);
    assert_eq!(up.entry.layers, spec.layers());
    let gap = worst_gap(&up, &expected("cnn"));
    assert!(gap < 1e-4, "max |rust - numpy| = {gap:e}");
}

/// F16 weights decode exactly, so the f16 file matches numpy on the same rounded weights within
/// 1e-4; against the f32 network the rounding itself costs up to about 7e-5, so 5e-4 there.
#[test]
fn pytorch_cnn_f16_matches_numpy() {
    let up = load(CNN, &fixture("cnn-f16.safetensors")).unwrap();
    let gap = worst_gap(&up, &expected("cnn_f16"));
    assert!(gap < 1e-4, "max |rust - numpy(f16 weights)| = {gap:e}");
    let gap = worst_gap(&up, &expected("cnn"));
    assert!(gap < 5e-4, "max |rust(f16) - numpy(f32)| = {gap:e}");
    let f32 = load(CNN, &fixture("cnn-f32.safetensors")).unwrap();
    assert_ne!(up.weights, f32.weights, "the f16 file really is rounded");
    assert_eq!(up.weights, f32.weights.rounded_to_f16());
}

#[test]
fn description_may_name_the_pytorch_positions() {
    let by_position = r#"[{"kind": "dense", "name": "0", "activation": "relu"}, {"kind": "dense", "name": "2", "activation": "none"}]"#;
    let bytes = fixture("mlp-f32.safetensors");
    assert_eq!(load(by_position, &bytes).unwrap(), load(MLP, &bytes).unwrap());
}

fn small_cnn() -> ArchSpec {
    ArchSpec::Cnn { conv: vec![ConvSpec { channels: 3, kernel: 3, pool: true }], dense: vec![8] }
}

#[test]
fn files_from_doughs_own_writer_load() {
    let spec = small_cnn();
    let w = spec.init_weights(7);
    let description = serde_json::to_string(&spec.layers()).unwrap();
    let up = load(&description, &w.to_safetensors()).unwrap();
    assert_eq!(up.weights, w);
    assert_eq!(up.entry.arch_spec().unwrap(), spec);
    let half = load(&description, &w.to_safetensors_f16()).unwrap();
    assert_eq!(half.weights, w.rounded_to_f16());
    // A whole manifest entry is a description too.
    let entry_json = serde_json::to_string(&up.entry).unwrap();
    assert_eq!(load(&entry_json, &w.to_safetensors()).unwrap(), up);
}

/// Safetensors bytes from (name, dtype, shape, raw bytes).
fn raw_file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views = tensors.iter().map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()));
    safetensors::serialize(views, None).unwrap()
}

fn mlp_pytorch_weights() -> Weights {
    Weights::from_safetensors(&fixture("mlp-f32.safetensors")).unwrap()
}

fn message(e: &UploadError) -> String {
    e.to_string()
}

#[test]
fn refuses_what_is_not_safetensors() {
    for bytes in [&b"this is a PNG, honest"[..], b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", b"{}", b""] {
        let e = load(MLP, bytes).unwrap_err();
        assert!(matches!(e, UploadError::NotSafetensors(_)), "{e:?}");
        assert!(message(&e).contains("not a safetensors file"));
    }
}

#[test]
fn refuses_truncated_files() {
    let bytes = fixture("mlp-f32.safetensors");
    let e = load(MLP, &bytes[..bytes.len() - 100]).unwrap_err();
    let declared = bytes.len() - 8 - u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(
        message(&e),
        format!(
            "the safetensors file is truncated or damaged: the header describes {declared} bytes of tensor data, the file holds {}; upload the complete file again",
            declared - 100
        )
    );
    let e = load(MLP, &bytes[..50]).unwrap_err();
    assert!(matches!(&e, UploadError::Truncated(m) if m.contains("ends inside its header")), "{e:?}");
}

#[test]
fn refuses_nan_and_infinite_weights() {
    let mut w = mlp_pytorch_weights();
    w.tensors.get_mut("2.weight").unwrap().data[5] = f32::NAN;
    let e = load(MLP, &w.to_safetensors()).unwrap_err();
    assert!(matches!(&e, UploadError::NonFinite { name, index: 5, value } if name == "2.weight" && value.is_nan()), "{e:?}");
    assert!(message(&e).contains("\"2.weight\" holds NaN at position 5"));
    // 70000 overflows half precision: an infinity in the F16 file.
    let mut w = mlp_pytorch_weights();
    w.tensors.get_mut("0.bias").unwrap().data[0] = 70000.0;
    let e = load(MLP, &w.to_safetensors_f16()).unwrap_err();
    assert!(matches!(&e, UploadError::NonFinite { name, index: 0, value } if name == "0.bias" && value.is_infinite()), "{e:?}");
}

#[test]
fn refuses_wrong_shapes_naming_the_tensor_and_both_shapes() {
    let bytes = fixture("mlp-f32.safetensors");
    let wide = r#"[{"kind": "dense", "activation": "relu", "out": 64}, {"kind": "dense"}]"#;
    let e = load(wide, &bytes).unwrap_err();
    assert_eq!(message(&e), "tensor \"0.weight\" has shape [32, 784], the description needs [64, 784]");

    // Without the max-pool, the flattened size is 6 * 22 * 22, not the file's 600.
    let no_pool = CNN.replace(r#"{"kind": "maxpool2d"},"#, "");
    let e = load(&no_pool, &fixture("cnn-f32.safetensors")).unwrap_err();
    assert_eq!(message(&e), "tensor \"6.weight\" has shape [16, 600], the description needs [16, 2904]");

    let wrong_kernel = CNN.replace(r#""out": 6, "kernel": 3"#, r#""out": 6, "kernel": 5"#);
    let e = load(&wrong_kernel, &fixture("cnn-f32.safetensors")).unwrap_err();
    assert_eq!(message(&e), "tensor \"3.weight\" has shape [6, 4, 3, 3], the description needs [6, 4, 5, 5]");

    let mut w = mlp_pytorch_weights();
    w.insert("2.bias", HostTensor::new(vec![12], vec![0.0; 12]));
    let e = load(MLP, &w.to_safetensors()).unwrap_err();
    assert_eq!(message(&e), "tensor \"2.bias\" has shape [12], the description needs [10]");
}

#[test]
fn refuses_missing_and_extra_tensors() {
    let spec = small_cnn();
    let description = serde_json::to_string(&spec.layers()).unwrap();
    let mut w = spec.init_weights(1);
    w.tensors.remove("fc1.bias");
    let e = load(&description, &w.to_safetensors()).unwrap_err();
    assert_eq!(e, UploadError::Missing(vec!["fc1.bias".into()]));
    assert_eq!(message(&e), "the file has no tensor named \"fc1.bias\", which the description needs");

    let mut w = spec.init_weights(1);
    w.insert("fc9.weight", HostTensor::new(vec![2], vec![0.0, 1.0]));
    let e = load(&description, &w.to_safetensors()).unwrap_err();
    assert_eq!(e, UploadError::Extra(vec!["fc9.weight".into()]));
    assert!(message(&e).contains("does not use: \"fc9.weight\""));

    // PyTorch naming: a Linear saved without its bias, and a Sequential with one more layer.
    let mut w = mlp_pytorch_weights();
    w.tensors.remove("2.bias");
    assert_eq!(load(MLP, &w.to_safetensors()).unwrap_err(), UploadError::Missing(vec!["2.bias".into()]));
    let e = load(MLP, &fixture("cnn-f32.safetensors")).unwrap_err();
    assert_eq!(e, UploadError::LayerCount { described: 2, positions: vec![0, 3, 6, 8] });
    assert_eq!(message(&e), "the description has 2 layers with weights, the PyTorch-style file has 4 (Sequential positions [0, 3, 6, 8])");
}

#[test]
fn refuses_absurd_sizes() {
    let e = load(MLP, &vec![0u8; MAX_FILE_BYTES + 1]).unwrap_err();
    assert_eq!(e, UploadError::TooLarge { bytes: MAX_FILE_BYTES + 1, limit: MAX_FILE_BYTES });
    assert!(message(&e).contains("up to 67108864 bytes (64 MiB)"));

    let n = MAX_PARAMS + 1; // F16: about 20 MB, under the byte limit
    let bytes = raw_file(&[("0.weight", Dtype::F16, vec![n], vec![0; 2 * n])]);
    assert!(bytes.len() < MAX_FILE_BYTES);
    let e = load(MLP, &bytes).unwrap_err();
    assert_eq!(e, UploadError::TooManyParams { count: n, limit: MAX_PARAMS });
}

#[test]
fn refuses_unsupported_dtypes() {
    let w = mlp_pytorch_weights();
    let mut tensors: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = w
        .tensors
        .iter()
        .map(|(n, t)| (n.as_str(), Dtype::F32, t.shape.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    tensors.push(("1.num_batches_tracked", Dtype::I64, vec![], vec![0; 8]));
    let e = load(MLP, &raw_file(&tensors)).unwrap_err();
    assert_eq!(e, UploadError::Dtype { name: "1.num_batches_tracked".into(), dtype: "I64".into() });
    assert_eq!(message(&e), "tensor \"1.num_batches_tracked\" is stored as I64; only F32 and F16 weights are supported");

    let e = load(MLP, &raw_file(&[("0.weight", Dtype::BF16, vec![2], vec![0; 4])])).unwrap_err();
    assert!(matches!(&e, UploadError::Dtype { dtype, .. } if dtype == "BF16"), "{e:?}");
}

#[test]
fn refuses_descriptions_that_do_not_parse() {
    let bytes = fixture("mlp-f32.safetensors");
    let cases = [
        ("[{\"kind\": \"dense\"", "not valid JSON"),
        ("{\"layers\": 3}", "no \"layers\" array"),
        ("\"dense\"", "expected an array of layers"),
        ("[{\"name\": \"fc0\"}]", "layer 1: missing field `kind`"),
        ("[{\"kind\": \"dense\", \"activaton\": \"relu\"}]", "unknown field `activaton`"),
        ("[{\"kind\": \"dense\", \"out\": -3}]", "layer 1: invalid value"),
    ];
    for (json, needle) in cases {
        let e = load(json, &bytes).unwrap_err();
        assert!(matches!(&e, UploadError::Description(m) if m.contains(needle)), "{json}: {e:?}");
        assert!(message(&e).starts_with("the layer description does not parse: "));
    }
    assert_eq!(parse_description(MLP).unwrap().len(), 2);
}

#[test]
fn refuses_descriptions_that_do_not_fit_28x28_inputs_and_10_classes() {
    let bytes = fixture("mlp-f32.safetensors");
    let cases = [
        ("[]", "the last layer must be dense"),
        (r#"[{"kind": "dense", "activation": "relu"}, {"kind": "dense", "out": 12}]"#, "must give 10 outputs, not 12"),
        (r#"[{"kind": "dense", "activation": "relu"}, {"kind": "dense", "activation": "relu"}]"#, "must be \"none\", not \"relu\""),
        (r#"[{"kind": "dense", "activation": "relu"}, {"kind": "conv2d", "activation": "relu"}, {"kind": "dense"}]"#, "convolutions must come before"),
        (r#"[{"kind": "maxpool2d"}, {"kind": "dense"}]"#, "must follow a conv2d layer"),
        (r#"[{"kind": "batchnorm"}, {"kind": "dense"}]"#, "unknown kind \"batchnorm\""),
        (r#"[{"kind": "dense", "activation": "gelu"}, {"kind": "dense"}]"#, "unknown activation \"gelu\""),
        (r#"[{"kind": "dense", "name": "a", "activation": "relu"}, {"kind": "dense", "name": "a"}]"#, "two layers use the tensor prefix \"a\""),
    ];
    for (json, needle) in cases {
        let e = load(json, &bytes).unwrap_err();
        assert!(matches!(&e, UploadError::Unsupported(m) if m.contains(needle)), "{json}: {e:?}");
    }
    // A kernel larger than the image; the shapes themselves agree with the description.
    let mut w = Weights::default();
    w.insert("conv0.weight", HostTensor::new(vec![1, 1, 29, 29], vec![0.0; 841]));
    w.insert("conv0.bias", HostTensor::new(vec![1], vec![0.0]));
    w.insert("fc0.weight", HostTensor::new(vec![10, 1], vec![0.0; 10]));
    w.insert("fc0.bias", HostTensor::new(vec![10], vec![0.0; 10]));
    let big = r#"[{"kind": "conv2d", "activation": "relu"}, {"kind": "dense"}]"#;
    let e = load(big, &w.to_safetensors()).unwrap_err();
    assert_eq!(message(&e), "the layer description is not a network Dough can run on 28x28 one-channel images with 10 classes: conv \"conv0\": a 29x29 kernel does not fit its 28x28 input");
}

#[test]
fn refuses_an_empty_name() {
    let bytes = fixture("mlp-f32.safetensors");
    assert_eq!(load_upload("  ", DatasetId::FashionMnist, MLP, &bytes).unwrap_err(), UploadError::NoName);
    let up = load_upload("fashion one", DatasetId::FashionMnist, MLP, &bytes).unwrap();
    assert_eq!(up.entry.dataset, DatasetId::FashionMnist);
}
