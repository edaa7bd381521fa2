//! Patterns derived from the dataset itself, one per class, from the training images:
//! the class mean, the contrast template (class mean minus the mean of all class means), and a
//! discriminability map (Welch's t-statistic of the class against all other classes, per pixel).
//!
//! Computed by `dough-cli templates` into `public/data/<dataset>-templates.dtpl`, so the page
//! never needs the dataset.

use crate::digest::sha256;
use crate::idx::Dataset;
use crate::model::{CLASSES, PIXELS};

const MAGIC: &[u8; 4] = b"DTPL";
const VERSION: u32 = 1;

/// Which dataset-derived template to compare patterns against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TemplateKind {
    ClassMean,
    Contrast,
    TStat,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 3] = [TemplateKind::ClassMean, TemplateKind::Contrast, TemplateKind::TStat];

    pub fn slug(self) -> &'static str {
        match self {
            TemplateKind::ClassMean => "class-mean",
            TemplateKind::Contrast => "contrast",
            TemplateKind::TStat => "t-stat",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TemplateKind::ClassMean => "class mean",
            TemplateKind::Contrast => "contrast (class mean − mean of all classes)",
            TemplateKind::TStat => "t-statistic (class vs rest)",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Templates {
    pub dataset: String,
    /// `[class][pixel]`, pixels in [0, 1].
    pub class_mean: Vec<Vec<f32>>,
    pub contrast: Vec<Vec<f32>>,
    pub t_stat: Vec<Vec<f32>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplatesError {
    #[error("not a Dough templates file (wrong magic bytes)")]
    Magic,
    #[error("templates file version {0} is not supported (this build reads version 1)")]
    Version(u32),
    #[error("the templates file is truncated")]
    Truncated,
    #[error("the templates file is corrupt: its checksum does not match")]
    Checksum,
    #[error("the dataset has no images of class {0}")]
    EmptyClass(usize),
}

impl Templates {
    pub fn get(&self, kind: TemplateKind) -> &[Vec<f32>] {
        match kind {
            TemplateKind::ClassMean => &self.class_mean,
            TemplateKind::Contrast => &self.contrast,
            TemplateKind::TStat => &self.t_stat,
        }
    }

    /// Computes all three templates from labelled images (bytes, 784 per image).
    pub fn from_dataset(name: &str, data: &Dataset) -> Result<Self, TemplatesError> {
        let mut sum = vec![vec![0.0f64; PIXELS]; CLASSES];
        let mut sq = vec![vec![0.0f64; PIXELS]; CLASSES];
        let mut count = [0usize; CLASSES];
        for i in 0..data.len() {
            let c = data.labels[i] as usize;
            count[c] += 1;
            for (p, &v) in data.image(i).iter().enumerate() {
                let v = v as f64 / 255.0;
                sum[c][p] += v;
                sq[c][p] += v * v;
            }
        }
        if let Some(c) = (0..CLASSES).find(|&c| count[c] < 2) {
            return Err(TemplatesError::EmptyClass(c));
        }
        let total: usize = count.iter().sum();
        let mean: Vec<Vec<f64>> = (0..CLASSES).map(|c| sum[c].iter().map(|s| s / count[c] as f64).collect()).collect();
        let grand: Vec<f64> = (0..PIXELS).map(|p| mean.iter().map(|m| m[p]).sum::<f64>() / CLASSES as f64).collect();
        let mut t_stat = Vec::with_capacity(CLASSES);
        for c in 0..CLASSES {
            let n_in = count[c] as f64;
            let n_out = (total - count[c]) as f64;
            let t: Vec<f32> = (0..PIXELS)
                .map(|p| {
                    let (s_out, q_out) = (0..CLASSES).filter(|&o| o != c).fold((0.0, 0.0), |(s, q), o| (s + sum[o][p], q + sq[o][p]));
                    let m_in = mean[c][p];
                    let m_out = s_out / n_out;
                    let v_in = ((sq[c][p] - n_in * m_in * m_in) / (n_in - 1.0)).max(0.0);
                    let v_out = ((q_out - n_out * m_out * m_out) / (n_out - 1.0)).max(0.0);
                    // Variance floor of one gray level, so that a pixel constant within both groups
                    // gives a finite t (large if the groups differ, 0 if they do not).
                    let floor = (1.0 / 255.0f64).powi(2);
                    let se = ((v_in + floor) / n_in + (v_out + floor) / n_out).sqrt();
                    ((m_in - m_out) / se) as f32
                })
                .collect();
            t_stat.push(t);
        }
        Ok(Self {
            dataset: name.to_string(),
            class_mean: mean.iter().map(|m| m.iter().map(|&v| v as f32).collect()).collect(),
            contrast: mean.iter().map(|m| m.iter().zip(&grand).map(|(v, g)| (v - g) as f32).collect()).collect(),
            t_stat,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&(self.dataset.len() as u32).to_le_bytes());
        b.extend_from_slice(self.dataset.as_bytes());
        for set in [&self.class_mean, &self.contrast, &self.t_stat] {
            for row in set.iter() {
                for v in row {
                    b.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        let digest = sha256(&b);
        b.extend_from_slice(&digest);
        b
    }

    pub fn decode(b: &[u8]) -> Result<Self, TemplatesError> {
        if b.len() < 12 {
            return Err(if b.len() >= 4 && &b[..4] != MAGIC { TemplatesError::Magic } else { TemplatesError::Truncated });
        }
        if &b[..4] != MAGIC {
            return Err(TemplatesError::Magic);
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let version = u32_at(4);
        if version != VERSION {
            return Err(TemplatesError::Version(version));
        }
        let name_len = u32_at(8) as usize;
        let body = 12 + name_len + 3 * CLASSES * PIXELS * 4;
        if b.len() != body + 32 {
            return Err(TemplatesError::Truncated);
        }
        if sha256(&b[..body]) != b[body..] {
            return Err(TemplatesError::Checksum);
        }
        let dataset = String::from_utf8_lossy(&b[12..12 + name_len]).into_owned();
        let mut vals = b[12 + name_len..body].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let mut set = || (0..CLASSES).map(|_| vals.by_ref().take(PIXELS).collect::<Vec<f32>>()).collect::<Vec<_>>();
        let (class_mean, contrast, t_stat) = (set(), set(), set());
        Ok(Self { dataset, class_mean, contrast, t_stat })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::{IdxImages, pair};

    /// Class c lights pixel c fully (and pixel 700 half for even classes) in two images each.
    fn toy() -> Dataset {
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for c in 0..CLASSES {
            for k in 0..2 {
                let mut img = vec![0u8; PIXELS];
                img[c] = 255;
                if c % 2 == 0 {
                    img[700] = if k == 0 { 100 } else { 155 };
                }
                pixels.extend(img);
                labels.push(c as u8);
            }
        }
        pair(IdxImages { count: 20, rows: 28, cols: 28, pixels }, labels).unwrap()
    }

    #[test]
    fn known_means_contrasts_and_t_statistics() {
        let t = Templates::from_dataset("toy", &toy()).unwrap();
        assert_eq!(t.class_mean[3][3], 1.0);
        assert_eq!(t.class_mean[3][4], 0.0);
        assert!((t.class_mean[2][700] - 0.5).abs() < 1e-6);
        // Mean of all class means at pixel 3 is 0.1: contrast 0.9 for class 3, -0.1 for others.
        assert!((t.contrast[3][3] - 0.9).abs() < 1e-6 && (t.contrast[5][3] + 0.1).abs() < 1e-6);
        // Pixel 3 is 1 in class 3 and 0 elsewhere, with no variance: t is large (the floor bounds it).
        assert!(t.t_stat[3][3] > 100.0 && t.t_stat[3][3].is_finite(), "{}", t.t_stat[3][3]);
        assert!(t.t_stat[4][3] < 0.0);
        // Pixel 700: class 2 has mean 0.5 (var > 0); the rest mixes 0 and 0.5.
        assert!(t.t_stat[2][700] > 0.0 && t.t_stat[1][700] < 0.0);
        assert_eq!(t.t_stat[0][400], 0.0, "a pixel that is always 0 has t = 0");
    }

    #[test]
    fn file_round_trip_and_errors() {
        let t = Templates::from_dataset("toy", &toy()).unwrap();
        let b = t.encode();
        assert_eq!(Templates::decode(&b).unwrap(), t);
        let mut bad = b.clone();
        bad[100] ^= 1;
        assert_eq!(Templates::decode(&bad), Err(TemplatesError::Checksum));
        assert_eq!(Templates::decode(&b[..b.len() - 1]), Err(TemplatesError::Truncated));
        assert_eq!(Templates::decode(b"PNG\x89 and more bytes"), Err(TemplatesError::Magic));
        let mut v2 = b.clone();
        v2[4] = 2;
        assert_eq!(Templates::decode(&v2), Err(TemplatesError::Version(2)));
    }
}
