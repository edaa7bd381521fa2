//! The page's components: small views fed by signals, reporting user actions by callbacks.

pub mod analysis;
pub mod compare;
pub mod controls;
pub mod draw;
pub mod export;
pub mod gallery;
pub mod heatmap;
pub mod hero;
pub mod knead;
pub mod model_card;
pub mod overview;
pub mod pixels;
pub mod plant_check;
pub mod shortcuts;
pub mod story;
pub mod status;
pub mod train;
pub mod upload;
