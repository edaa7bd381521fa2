//! Interoperability: every shipped model can be rebuilt by another tool from its safetensors file
//! and the manifest's layer list alone. This test does exactly that in plain Rust (no Burn: the
//! `safetensors` reader, `half` for F16, loops in f64) and checks the logits against Burn's.

use std::path::PathBuf;

use dough_compute::Device;
use dough_compute::network::Classifier;
use dough_core::manifest::{self, ModelEntry};
use dough_core::model::LayerDesc;
use dough_core::pack::SamplePack;
use dough_core::weights::Weights;
use burn::prelude::*;
use safetensors::{Dtype, SafeTensors};

fn public() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../public")
}

/// A tensor read straight from the file: shape and values.
struct Plain {
    shape: Vec<usize>,
    data: Vec<f64>,
}

fn read(st: &SafeTensors, name: &str) -> Plain {
    let v = st.tensor(name).unwrap_or_else(|_| panic!("tensor {name} is in the file"));
    let data = match v.dtype() {
        Dtype::F16 => v.data().chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64()).collect(),
        Dtype::F32 => v.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect(),
        other => panic!("unexpected dtype {other:?}"),
    };
    Plain { shape: v.shape().to_vec(), data }
}

/// Activations of one image: channels x side x side (a flat vector is channels = len, side = 1).
struct Act {
    ch: usize,
    side: usize,
    v: Vec<f64>,
}

fn activate(a: &mut Act, activation: &str) {
    match activation {
        "relu" => a.v.iter_mut().for_each(|x| *x = x.max(0.0)),
        "none" => {}
        other => panic!("unknown activation {other}"),
    }
}

fn conv2d(a: &Act, w: &Plain, b: &Plain) -> Act {
    let (out_ch, in_ch, k) = (w.shape[0], w.shape[1], w.shape[2]);
    assert_eq!(in_ch, a.ch);
    let side = a.side + 1 - k; // valid padding, stride 1
    let mut v = vec![0.0; out_ch * side * side];
    for o in 0..out_ch {
        let out = &mut v[o * side * side..(o + 1) * side * side];
        out.iter_mut().for_each(|x| *x = b.data[o]);
        for i in 0..in_ch {
            let input = &a.v[i * a.side * a.side..(i + 1) * a.side * a.side];
            for ky in 0..k {
                for kx in 0..k {
                    let wv = w.data[((o * in_ch + i) * k + ky) * k + kx];
                    for y in 0..side {
                        let row = &input[(y + ky) * a.side + kx..(y + ky) * a.side + kx + side];
                        for (dst, src) in out[y * side..(y + 1) * side].iter_mut().zip(row) {
                            *dst += wv * src;
                        }
                    }
                }
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

fn dense(a: &Act, w: &Plain, b: &Plain) -> Act {
    let (out, inp) = (w.shape[0], w.shape[1]);
    assert_eq!(inp, a.v.len(), "flattened channel-major, as PyTorch does");
    let v = (0..out).map(|o| b.data[o] + w.data[o * inp..(o + 1) * inp].iter().zip(&a.v).map(|(w, x)| w * x).sum::<f64>()).collect();
    Act { ch: out, side: 1, v }
}

fn plain_logits(st: &SafeTensors, layers: &[LayerDesc], image: &[f32]) -> Vec<f64> {
    let mut a = Act { ch: 1, side: 28, v: image.iter().map(|&p| p as f64).collect() };
    for l in layers {
        a = match l.kind.as_str() {
            "conv2d" => conv2d(&a, &read(st, &format!("{}.weight", l.name)), &read(st, &format!("{}.bias", l.name))),
            "maxpool2d" => maxpool2(&a),
            "dense" => dense(&a, &read(st, &format!("{}.weight", l.name)), &read(st, &format!("{}.bias", l.name))),
            other => panic!("unknown layer kind {other}"),
        };
        activate(&mut a, &l.activation);
    }
    a.v
}

#[test]
fn plain_rust_forward_pass_matches_burn_for_every_shipped_model() {
    let json = std::fs::read_to_string(public().join("models/manifest.json")).unwrap();
    let entries: Vec<ModelEntry> = manifest::parse(&json).unwrap();
    let device = Device::flex();
    let mut seen_arch = std::collections::HashSet::new();
    for e in &entries {
        let bytes = std::fs::read(public().join("models").join(&e.file)).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let pack = SamplePack::decode(&std::fs::read(public().join(format!("data/{}-samples.dspk", e.dataset.slug()))).unwrap()).unwrap();
        // Fully connected nets on the whole pack; convolutional ones on every third image (the
        // f64 reference convolution is slow in a debug build).
        let stride = if e.layers.iter().any(|l| l.kind == "conv2d") { 3 } else { 1 };
        let picked: Vec<usize> = (0..pack.len()).step_by(stride).collect();
        let images: Vec<f32> = picked.iter().flat_map(|&i| pack.image_f32(i)).collect();
        let model = Classifier::from_weights(&e.arch_spec().unwrap(), &Weights::from_safetensors(&bytes).unwrap(), &device).unwrap();
        let burn_logits = model
            .forward(Tensor::<2>::from_data(TensorData::new(images.clone(), [picked.len(), 784]), &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let mut worst = 0.0f64;
        for (n, img) in images.chunks(784).enumerate() {
            let plain = plain_logits(&st, &e.layers, img);
            assert_eq!(plain.len(), 10);
            for (c, p) in plain.iter().enumerate() {
                worst = worst.max((p - burn_logits[n * 10 + c] as f64).abs());
            }
        }
        eprintln!("{}: max |plain - burn| = {worst:.2e} over {} images", e.name, picked.len());
        assert!(worst <= 1e-4, "{}: logits differ by {worst:e}", e.name);
        seen_arch.insert(format!("{:?}", e.arch_spec().unwrap()));
    }
    assert!(seen_arch.len() >= 2);
}
