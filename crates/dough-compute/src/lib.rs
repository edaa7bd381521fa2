//! Dough's compute side on Burn: the classifiers built from `dough-core`'s shapes and weights, the
//! minimal-evolution attack, evaluation, PGD, training (feature `train`), the benchmark run and
//! the drivers' native compute ([`local::Local`]). Every function takes the Burn device from its
//! caller, so the browser (WebGPU or CPU) and the native CLI run the same code.

pub mod attack;
pub mod bench;
pub mod dough_set;
pub mod eval;
pub mod failure;
pub mod local;
pub mod network;
pub mod pgd;
pub mod suite;
#[cfg(feature = "train")]
pub mod train;

pub use burn::prelude::Device;
