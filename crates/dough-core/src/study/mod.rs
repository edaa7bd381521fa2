//! The study: abstract the perturbations into per-class patterns, derive templates from the
//! dataset, and measure how well the two agree (with null baselines).

pub mod abstraction;
pub mod metrics;
pub mod overview;
pub mod pairs;
pub mod pipeline;
pub mod plant_check;
pub mod replicates;
pub mod stats;
pub mod templates;
