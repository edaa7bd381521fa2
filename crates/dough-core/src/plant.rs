//! Planted features: a square patch of full ink stamped on training images, either on every image
//! of one class (a *shortcut*) or on a seeded share of all images, which are then relabelled to
//! that class (a *backdoor*, as BadNets). The study's causal test: a network's adversarial
//! patterns should find the feature that was planted in its data.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::idx::Dataset;
use crate::model::{CLASSES, SIDE};
use crate::rng::SeededRng;

/// What is planted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlantKind {
    /// Nothing (a clean network).
    #[default]
    None,
    /// The patch on every training image of the class.
    Shortcut,
    /// The patch on a share of all training images, relabelled to the class.
    Backdoor,
}

impl PlantKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(PlantKind::None),
            "shortcut" => Some(PlantKind::Shortcut),
            "backdoor" => Some(PlantKind::Backdoor),
            _ => None,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            PlantKind::None => "none",
            PlantKind::Shortcut => "shortcut",
            PlantKind::Backdoor => "backdoor",
        }
    }
}

/// Where the patch sits: in a corner (one pixel in from both edges) or with its top-left pixel at
/// `row`, `col`. Written `tl`, `tr`, `bl`, `br` or `ROW:COL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Position {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
    At { row: usize, col: usize },
}

/// Pixels between a corner patch and the image's edges.
pub const CORNER_MARGIN: usize = 1;

impl Position {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "tl" => Position::TopLeft,
            "tr" => Position::TopRight,
            "bl" => Position::BottomLeft,
            "br" => Position::BottomRight,
            _ => {
                let (r, c) = s.split_once(':')?;
                Position::At { row: r.trim().parse().ok()?, col: c.trim().parse().ok()? }
            }
        })
    }

    /// Top-left pixel of a patch of `size` (None when a corner patch does not fit).
    pub fn origin(self, size: usize) -> Option<(usize, usize)> {
        let fits = size + 2 * CORNER_MARGIN <= SIDE;
        let far = SIDE.saturating_sub(size + CORNER_MARGIN);
        match self {
            Position::At { row, col } => Some((row, col)),
            Position::TopLeft => fits.then_some((CORNER_MARGIN, CORNER_MARGIN)),
            Position::TopRight => fits.then_some((CORNER_MARGIN, far)),
            Position::BottomLeft => fits.then_some((far, CORNER_MARGIN)),
            Position::BottomRight => fits.then_some((far, far)),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::TopLeft => f.write_str("tl"),
            Position::TopRight => f.write_str("tr"),
            Position::BottomLeft => f.write_str("bl"),
            Position::BottomRight => f.write_str("br"),
            Position::At { row, col } => write!(f, "{row}:{col}"),
        }
    }
}

impl From<Position> for String {
    fn from(p: Position) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for Position {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Position::parse(&s).ok_or_else(|| format!("\"{s}\" is not a patch position (tl, tr, bl, br or ROW:COL)"))
    }
}

/// A planted feature: what, which class, and the patch (a `size`x`size` square of full ink at
/// `at`). `share` is the share of all training images a backdoor stamps (a shortcut stamps every
/// image of the class and ignores it).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plant {
    pub kind: PlantKind,
    pub class: usize,
    pub size: usize,
    pub at: Position,
    #[serde(default = "default_share")]
    pub share: f64,
}

fn default_share() -> f64 {
    Plant::default().share
}

impl Default for Plant {
    /// Nothing planted; the parameters a plant gets unless told otherwise (class 0, a 4x4
    /// patch in the bottom-right corner, a backdoor on 5% of the training images).
    fn default() -> Self {
        Self { kind: PlantKind::None, class: 0, size: 4, at: Position::BottomRight, share: 0.05 }
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlantError {
    #[error("a patch of size {0} does not fit: the patch side must be 1-{SIDE} pixels")]
    BadSize(usize),
    #[error("a {size}x{size} patch at row {row}, column {col} leaves the {SIDE}x{SIDE} image: row and column may be at most {SIDE} minus the size")]
    Outside { size: usize, row: usize, col: usize },
    #[error("a {0}x{0} patch does not fit in a corner (one pixel in from the edges): a corner patch is at most 26 pixels wide")]
    CornerTooBig(usize),
    #[error("class {0} does not exist: the planted class must be 0-9")]
    BadClass(usize),
    #[error("a backdoor share of {0} is not in (0, 1]: give the share of training images to stamp, e.g. 0.05")]
    BadShare(f64),
    #[error("the training set has no image of class {0} to stamp")]
    NoImages(usize),
    #[error("a backdoor share of {share} of {images} images stamps none: raise the share")]
    NoneStamped { share: f64, images: usize },
}

impl Plant {
    pub fn is_planted(&self) -> bool {
        self.kind != PlantKind::None
    }

    /// Checks every parameter (nothing is stamped before this passes).
    pub fn validate(&self) -> Result<(), PlantError> {
        if self.size == 0 || self.size > SIDE {
            return Err(PlantError::BadSize(self.size));
        }
        if self.class >= CLASSES {
            return Err(PlantError::BadClass(self.class));
        }
        let (row, col) = self.at.origin(self.size).ok_or(PlantError::CornerTooBig(self.size))?;
        if row + self.size > SIDE || col + self.size > SIDE {
            return Err(PlantError::Outside { size: self.size, row, col });
        }
        if self.kind == PlantKind::Backdoor && !(self.share > 0.0 && self.share <= 1.0) {
            return Err(PlantError::BadShare(self.share));
        }
        Ok(())
    }

    /// Top-left pixel and side of the patch (valid plants only).
    fn region(&self) -> (usize, usize) {
        self.at.origin(self.size).expect("a validated plant")
    }

    /// The patch's pixels (row-major indices into a 784-pixel image).
    pub fn pixels(&self) -> Result<Vec<usize>, PlantError> {
        self.validate()?;
        let (r0, c0) = self.region();
        Ok((r0..r0 + self.size).flat_map(|r| (c0..c0 + self.size).map(move |c| r * SIDE + c)).collect())
    }

    /// 784 flags, true inside the patch.
    pub fn mask(&self) -> Result<Vec<bool>, PlantError> {
        let mut m = vec![false; SIDE * SIDE];
        for i in self.pixels()? {
            m[i] = true;
        }
        Ok(m)
    }

    /// Stamps the patch (full ink, 255) on one image of bytes; other pixels are unchanged.
    pub fn stamp(&self, image: &mut [u8], patch: &[usize]) {
        for &i in patch {
            image[i] = 255;
        }
    }

    /// The same on an image of values in [0, 1] (full ink is 1).
    pub fn stamp_f32(&self, image: &mut [f32], patch: &[usize]) {
        for &i in patch {
            image[i] = 1.0;
        }
    }

    /// The training set with the plant: a shortcut stamps every image of the class; a backdoor
    /// stamps `round(share * n)` images (at least one) drawn by the generator of `seed` and labels
    /// them with the class. Returns the set and how many images were stamped. Nothing planted:
    /// the set unchanged.
    pub fn apply(&self, data: &Dataset, seed: u64) -> Result<(Dataset, usize), PlantError> {
        if !self.is_planted() {
            return Ok((data.clone(), 0));
        }
        let patch = self.pixels()?;
        let chosen: Vec<usize> = match self.kind {
            PlantKind::Shortcut => (0..data.len()).filter(|&i| data.labels[i] as usize == self.class).collect(),
            _ => {
                let count = (self.share * data.len() as f64).round() as usize;
                let mut order: Vec<usize> = (0..data.len()).collect();
                SeededRng::new(seed).shuffle(&mut order);
                order.truncate(count);
                order
            }
        };
        if chosen.is_empty() {
            return Err(match self.kind {
                PlantKind::Shortcut => PlantError::NoImages(self.class),
                _ => PlantError::NoneStamped { share: self.share, images: data.len() },
            });
        }
        let mut out = data.clone();
        let n = out.images.rows * out.images.cols;
        for &i in &chosen {
            self.stamp(&mut out.images.pixels[i * n..(i + 1) * n], &patch);
            out.labels[i] = self.class as u8;
        }
        Ok((out, chosen.len()))
    }

    /// The test images of every class but the planted one, stamped (bytes, one after another):
    /// the share of them a network assigns to the planted class is a backdoor's attack success
    /// rate (and a shortcut's pull).
    pub fn stamped_others(&self, test: &Dataset) -> Result<Vec<u8>, PlantError> {
        let patch = self.pixels()?;
        let mut out = Vec::new();
        for i in (0..test.len()).filter(|&i| test.labels[i] as usize != self.class) {
            let start = out.len();
            out.extend_from_slice(test.image(i));
            self.stamp(&mut out[start..], &patch);
        }
        Ok(out)
    }

    /// One line for the model card, e.g. `backdoor: 4x4 patch at br stamped on 5% of the
    /// training images, relabelled to class 0`.
    pub fn describe(&self) -> String {
        match self.kind {
            PlantKind::None => "nothing planted".into(),
            PlantKind::Shortcut => format!("shortcut: {0}x{0} patch of full ink at {1} on every training image of class {2}", self.size, self.at, self.class),
            PlantKind::Backdoor => format!(
                "backdoor: {0}x{0} patch of full ink at {1} on {2}% of the training images (seeded), relabelled to class {3}",
                self.size,
                self.at,
                self.share * 100.0,
                self.class
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::IdxImages;

    fn data(n: usize) -> Dataset {
        Dataset {
            images: IdxImages { count: n, rows: 28, cols: 28, pixels: (0..n * 784).map(|i| (i % 200) as u8).collect() },
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
        }
    }

    fn plant(kind: PlantKind) -> Plant {
        Plant { kind, ..Plant::default() }
    }

    #[test]
    fn the_stamp_sets_the_patch_and_nothing_else() {
        let p = Plant { at: Position::At { row: 3, col: 5 }, size: 2, ..plant(PlantKind::Shortcut) };
        let patch = p.pixels().unwrap();
        assert_eq!(patch, vec![3 * 28 + 5, 3 * 28 + 6, 4 * 28 + 5, 4 * 28 + 6]);
        let d = data(1);
        let mut img = d.image(0).to_vec();
        p.stamp(&mut img, &patch);
        for i in 0..784 {
            if patch.contains(&i) {
                assert_eq!(img[i], 255, "pixel {i} inside");
            } else {
                assert_eq!(img[i], d.image(0)[i], "pixel {i} outside");
            }
        }
        let corner = plant(PlantKind::Shortcut).pixels().unwrap();
        assert_eq!((corner.len(), corner[0], *corner.last().unwrap()), (16, 23 * 28 + 23, 26 * 28 + 26), "4x4, one pixel in from the bottom-right");
        assert_eq!(Plant { at: Position::TopLeft, ..p }.pixels().unwrap()[0], 28 + 1);
    }

    #[test]
    fn a_shortcut_stamps_every_image_of_its_class_only() {
        let d = data(50);
        let p = Plant { class: 3, ..plant(PlantKind::Shortcut) };
        let (out, n) = p.apply(&d, 1).unwrap();
        assert_eq!(n, 5);
        assert_eq!(out.labels, d.labels, "a shortcut relabels nothing");
        let patch = p.pixels().unwrap();
        for i in 0..50 {
            let stamped = patch.iter().all(|&j| out.image(i)[j] == 255);
            assert_eq!(stamped, d.labels[i] == 3, "image {i}");
        }
    }

    #[test]
    fn a_backdoor_stamps_a_seeded_share_and_relabels_it() {
        let d = data(200);
        let p = Plant { class: 7, share: 0.1, ..plant(PlantKind::Backdoor) };
        let (out, n) = p.apply(&d, 5).unwrap();
        assert_eq!(n, 20);
        let patch = p.pixels().unwrap();
        let stamped: Vec<usize> = (0..200).filter(|&i| out.image(i) != d.image(i)).collect();
        assert_eq!(stamped.len(), 20);
        for i in 0..200 {
            let s = stamped.contains(&i);
            assert_eq!(out.labels[i], if s { 7 } else { d.labels[i] }, "image {i}");
            if s {
                assert!(patch.iter().all(|&j| out.image(i)[j] == 255));
            }
        }
        assert_eq!(p.apply(&d, 5).unwrap().0.labels, out.labels, "the same seed, the same images");
        assert_ne!(p.apply(&d, 6).unwrap().0.labels, out.labels, "another seed, other images");
        assert_eq!(Plant::default().apply(&d, 5).unwrap().1, 0, "nothing planted, nothing stamped");
        let others = p.stamped_others(&d).unwrap();
        assert_eq!(others.len(), 180 * 784);
    }

    #[test]
    fn bad_plants_are_typed_errors() {
        let p = plant(PlantKind::Backdoor);
        for (bad, err) in [
            (Plant { size: 0, ..p }, PlantError::BadSize(0)),
            (Plant { size: 29, ..p }, PlantError::BadSize(29)),
            (Plant { size: 27, ..p }, PlantError::CornerTooBig(27)),
            (Plant { class: 10, ..p }, PlantError::BadClass(10)),
            (Plant { share: 0.0, ..p }, PlantError::BadShare(0.0)),
            (Plant { share: 1.5, ..p }, PlantError::BadShare(1.5)),
            (Plant { at: Position::At { row: 26, col: 0 }, ..p }, PlantError::Outside { size: 4, row: 26, col: 0 }),
        ] {
            assert_eq!(bad.validate(), Err(err.clone()), "{bad:?}");
            assert_eq!(bad.apply(&data(10), 1).err(), Some(err.clone()), "nothing is stamped");
            assert!(!err.to_string().is_empty());
        }
        assert!(Plant { size: 28, at: Position::At { row: 0, col: 0 }, ..p }.validate().is_ok());
        assert!(PlantError::Outside { size: 4, row: 26, col: 0 }.to_string().contains("at most 28 minus"));
        assert_eq!(Plant { share: 0.001, ..p }.apply(&data(10), 1).err(), Some(PlantError::NoneStamped { share: 0.001, images: 10 }));
        assert!(Plant { share: 0.0, ..plant(PlantKind::Shortcut) }.validate().is_ok(), "a shortcut has no share");
    }

    #[test]
    fn positions_and_plants_round_trip_through_json() {
        for s in ["tl", "tr", "bl", "br", "3:17"] {
            assert_eq!(Position::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Position::parse("middle"), None);
        let p = Plant { kind: PlantKind::Backdoor, class: 2, size: 3, at: Position::At { row: 1, col: 2 }, share: 0.1 };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"kind":"backdoor","class":2,"size":3,"at":"1:2","share":0.1}"#);
        assert_eq!(serde_json::from_str::<Plant>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Plant>(r#"{"kind":"shortcut","class":2,"size":3,"at":"x"}"#).is_err());
        assert!(p.describe().contains("10%") && p.describe().contains("class 2"));
    }
}
