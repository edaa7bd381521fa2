//! Dough's pure core: models, the minimal-evolution attack, controlled inputs and file formats.
//!
//! Nothing here knows the DOM. Every function that computes takes the Burn device from its
//! caller, so the browser (WebGPU or CPU) and the native CLI run the same code.

pub mod attack;
pub mod bench;
pub mod colormap;
pub mod digest;
pub mod eval;
pub mod export;
pub mod idx;
pub mod inputs;
pub mod manifest;
pub mod model;
pub mod pack;
pub mod preprocess;
pub mod pgd;
pub mod rng;
pub mod settings;
pub mod study;
#[cfg(feature = "train")]
pub mod train;
pub mod weights;
pub mod zoo;

pub use burn::prelude::Device;
