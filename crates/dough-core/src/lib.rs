//! Dough's pure core: file formats, model shapes, the attack's settings and results, controlled
//! inputs, the study's analysis and the benchmark's definition.
//!
//! Nothing here knows the DOM or a tensor library: the computations on Burn are in
//! `dough-compute`. The browser and the native CLI share this code.

pub mod attack;
pub mod backend;
pub mod bench;
pub mod colormap;
pub mod compare;
pub mod digest;
pub mod drive;
pub mod dough_data;
pub mod export;
pub mod idx;
pub mod inputs;
pub mod manifest;
pub mod model;
pub mod pack;
pub mod plant;
pub mod preprocess;
pub mod protocol;
pub mod rng;
pub mod routing;
pub mod settings;
pub mod slicing;
pub mod story;
pub mod study;
pub mod suite;
pub mod train_recipe;
pub mod upload;
pub mod weights;
pub mod zoo;
