//! Sample packs: a few real test images per class, shipped in `public/data/` for the browser.
//!
//! Layout (all integers little-endian):
//! ```text
//! 0   "DSPK"            magic
//! 4   u16 version = 1
//! 6   u8 rows, u8 cols
//! 8   u32 count
//! 12  u8 name length n, then n bytes of the dataset name (UTF-8)
//!     count bytes of labels
//!     count*rows*cols bytes of pixels (0..255, row-major)
//!     32 bytes: SHA-256 of everything above
//! ```

use crate::digest::sha256;
use crate::idx::{Dataset, IdxImages};
use crate::rng::SeededRng;

pub const MAGIC: &[u8; 4] = b"DSPK";
pub const VERSION: u16 = 1;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PackError {
    #[error("not a Dough sample pack (the file does not start with \"DSPK\")")]
    BadMagic,
    #[error("sample pack version {0} is not supported (this build reads version {VERSION})")]
    UnsupportedVersion(u16),
    #[error("the sample pack is truncated: {expected} bytes expected, {found} present")]
    Truncated { expected: usize, found: usize },
    #[error("the sample pack is corrupt: its checksum does not match its contents")]
    ChecksumMismatch,
    #[error("the sample pack is corrupt: label {0} is not a class 0-9")]
    BadLabel(u8),
    #[error("the sample pack's dataset name is not valid UTF-8")]
    BadName,
    #[error("the compressed pack could not be inflated: {0}")]
    Gzip(String),
    #[error("the compressed pack inflates to more than {MAX_INFLATED} bytes; it is not a Dough pack")]
    TooLarge,
}

/// The most a gzip-compressed pack may inflate to (20,000 images take 15.7 MB).
pub const MAX_INFLATED: u64 = 64 << 20;

/// A labelled set of images, small enough for the browser.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplePack {
    pub dataset: String,
    pub rows: usize,
    pub cols: usize,
    pub labels: Vec<u8>,
    pub pixels: Vec<u8>,
}

impl SamplePack {
    /// `per_class` images of each class, drawn at random (seeded) from the split so that the
    /// pack is a fair sample of it, kept in dataset order within each class.
    pub fn from_dataset(name: &str, data: &Dataset, per_class: usize, seed: u64) -> Self {
        let mut rng = SeededRng::new(seed);
        let mut labels = Vec::new();
        let mut pixels = Vec::new();
        for class in 0..10u8 {
            let mut of_class: Vec<usize> = (0..data.len()).filter(|&i| data.labels[i] == class).collect();
            rng.shuffle(&mut of_class);
            of_class.truncate(per_class);
            of_class.sort_unstable();
            for i in of_class {
                labels.push(class);
                pixels.extend_from_slice(data.image(i));
            }
        }
        Self { dataset: name.to_string(), rows: data.images.rows, cols: data.images.cols, labels, pixels }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The pack as a labelled split (to train on a training pack).
    pub fn to_dataset(&self) -> Dataset {
        Dataset {
            images: IdxImages { count: self.len(), rows: self.rows, cols: self.cols, pixels: self.pixels.clone() },
            labels: self.labels.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// Image `i` scaled to [0, 1].
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        let n = self.pixels_per_image();
        self.pixels[i * n..(i + 1) * n].iter().map(|&p| p as f32 / 255.0).collect()
    }

    /// Indices of the images of one class, in pack order.
    pub fn indices_of(&self, class: u8) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.labels[i] == class).collect()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(13 + self.dataset.len() + self.labels.len() + self.pixels.len() + 32);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.push(self.rows as u8);
        b.push(self.cols as u8);
        b.extend_from_slice(&(self.labels.len() as u32).to_le_bytes());
        b.push(self.dataset.len() as u8);
        b.extend_from_slice(self.dataset.as_bytes());
        b.extend_from_slice(&self.labels);
        b.extend_from_slice(&self.pixels);
        let digest = sha256(&b);
        b.extend_from_slice(&digest);
        b
    }

    /// The pack compressed with gzip (the training packs: about a fifth of the size for MNIST).
    /// [`SamplePack::decode`] reads both forms.
    pub fn encode_gz(&self) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&self.encode()).expect("writing to memory cannot fail");
        e.finish().expect("writing to memory cannot fail")
    }

    /// Reads a pack, plain or gzip-compressed (checked against its own digest either way).
    pub fn decode(b: &[u8]) -> Result<Self, PackError> {
        if b.starts_with(&[0x1f, 0x8b]) {
            use std::io::Read as _;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(b).take(MAX_INFLATED + 1).read_to_end(&mut out).map_err(|e| PackError::Gzip(e.to_string()))?;
            if out.len() as u64 > MAX_INFLATED {
                return Err(PackError::TooLarge);
            }
            return Self::decode_plain(&out);
        }
        Self::decode_plain(b)
    }

    fn decode_plain(b: &[u8]) -> Result<Self, PackError> {
        let need = |expected: usize| {
            if b.len() < expected { Err(PackError::Truncated { expected, found: b.len() }) } else { Ok(()) }
        };
        if b.len() >= 4 && &b[..4] != MAGIC {
            return Err(PackError::BadMagic);
        }
        need(13)?;
        let version = u16::from_le_bytes([b[4], b[5]]);
        if version != VERSION {
            return Err(PackError::UnsupportedVersion(version));
        }
        let (rows, cols) = (b[6] as usize, b[7] as usize);
        let count = u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize;
        let name_len = b[12] as usize;
        let labels_at = 13 + name_len;
        let pixels_at = labels_at + count;
        let digest_at = pixels_at + count * rows * cols;
        need(digest_at + 32)?;
        if sha256(&b[..digest_at]) != b[digest_at..digest_at + 32] {
            return Err(PackError::ChecksumMismatch);
        }
        let dataset = std::str::from_utf8(&b[13..labels_at]).map_err(|_| PackError::BadName)?.to_string();
        let labels = b[labels_at..pixels_at].to_vec();
        if let Some(&bad) = labels.iter().find(|&&l| l > 9) {
            return Err(PackError::BadLabel(bad));
        }
        Ok(Self { dataset, rows, cols, labels, pixels: b[pixels_at..digest_at].to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack() -> SamplePack {
        SamplePack {
            dataset: "mnist".into(),
            rows: 2,
            cols: 2,
            labels: vec![0, 3, 9],
            pixels: (0..12).map(|i| i * 20).collect(),
        }
    }

    #[test]
    fn round_trips() {
        let p = pack();
        assert_eq!(SamplePack::decode(&p.encode()).unwrap(), p);
        assert_eq!(p.image_f32(2), vec![160.0 / 255.0, 180.0 / 255.0, 200.0 / 255.0, 220.0 / 255.0]);
        assert_eq!(p.indices_of(3), vec![1]);
        let d = p.to_dataset();
        assert_eq!((d.len(), d.image(1), d.labels[2]), (3, &[80u8, 100, 120, 140][..], 9));
    }

    #[test]
    fn detects_corruption_truncation_and_foreign_files() {
        let mut bytes = pack().encode();
        bytes[20] ^= 1;
        assert_eq!(SamplePack::decode(&bytes), Err(PackError::ChecksumMismatch));
        let bytes = pack().encode();
        assert!(matches!(SamplePack::decode(&bytes[..bytes.len() - 1]), Err(PackError::Truncated { .. })));
        assert_eq!(SamplePack::decode(b"\x89PNG\r\n\x1a\n0000000000"), Err(PackError::BadMagic));
        let mut v2 = pack().encode();
        v2[4] = 2;
        assert_eq!(SamplePack::decode(&v2), Err(PackError::UnsupportedVersion(2)));
    }

    #[test]
    fn compressed_packs_round_trip_and_bad_ones_are_refused() {
        let p = pack();
        let gz = p.encode_gz();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert_eq!(SamplePack::decode(&gz).unwrap(), p);
        // A truncated gzip stream, and a corrupt pack inside a valid one.
        assert!(matches!(SamplePack::decode(&gz[..gz.len() - 10]), Err(PackError::Gzip(_))), "{:?}", SamplePack::decode(&gz[..gz.len() - 10]));
        let mut inner = p.encode();
        inner[20] ^= 1;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &inner).unwrap();
        assert_eq!(SamplePack::decode(&e.finish().unwrap()), Err(PackError::ChecksumMismatch));
        // A zip bomb: more than MAX_INFLATED bytes of zeros.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..=(MAX_INFLATED >> 20) {
            std::io::Write::write_all(&mut e, &zeros).unwrap();
        }
        assert_eq!(SamplePack::decode(&e.finish().unwrap()), Err(PackError::TooLarge));
    }
}
