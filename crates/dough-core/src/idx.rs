//! Reader for the standard IDX files of MNIST and Fashion-MNIST (gzip-compressed or raw).

use std::io::Read;
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the file is gzip-compressed but does not decompress: {0}")]
    Gzip(std::io::Error),
    #[error("wrong magic number 0x{found:08x} (expected 0x{expected:08x}): this is not an IDX {kind} file")]
    BadMagic { kind: &'static str, expected: u32, found: u32 },
    #[error("truncated IDX file: the header promises {expected} bytes, the file has {found}")]
    Truncated { expected: usize, found: usize },
    #[error("{images} images but {labels} labels: the image and label files do not belong together")]
    CountMismatch { images: usize, labels: usize },
    #[error("{0}")]
    InFile(String),
}

/// Images as bytes, row-major, one image after another.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// A labelled split of a dataset.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub images: IdxImages,
    pub labels: Vec<u8>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.images.rows * self.images.cols;
        &self.images.pixels[i * n..(i + 1) * n]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

fn decompress(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, IdxError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).map_err(IdxError::Gzip)?;
        Ok(out.into())
    } else {
        Ok(bytes.into())
    }
}

fn be_u32(b: &[u8], at: usize) -> Result<u32, IdxError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(IdxError::Truncated { expected: at + 4, found: b.len() })
}

fn check_magic(b: &[u8], kind: &'static str, expected: u32) -> Result<(), IdxError> {
    let found = be_u32(b, 0)?;
    if found != expected {
        return Err(IdxError::BadMagic { kind, expected, found });
    }
    Ok(())
}

/// Parses an IDX images file (gzip or raw).
pub fn parse_images(bytes: &[u8]) -> Result<IdxImages, IdxError> {
    let b = decompress(bytes)?;
    check_magic(&b, "images", IMAGES_MAGIC)?;
    let count = be_u32(&b, 4)? as usize;
    let rows = be_u32(&b, 8)? as usize;
    let cols = be_u32(&b, 12)? as usize;
    let expected = 16 + count * rows * cols;
    if b.len() < expected {
        return Err(IdxError::Truncated { expected, found: b.len() });
    }
    Ok(IdxImages { count, rows, cols, pixels: b[16..expected].to_vec() })
}

/// Parses an IDX labels file (gzip or raw).
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let b = decompress(bytes)?;
    check_magic(&b, "labels", LABELS_MAGIC)?;
    let count = be_u32(&b, 4)? as usize;
    let expected = 8 + count;
    if b.len() < expected {
        return Err(IdxError::Truncated { expected, found: b.len() });
    }
    Ok(b[8..expected].to_vec())
}

/// Pairs parsed images and labels, checking that they belong together.
pub fn pair(images: IdxImages, labels: Vec<u8>) -> Result<Dataset, IdxError> {
    if images.count != labels.len() {
        return Err(IdxError::CountMismatch { images: images.count, labels: labels.len() });
    }
    Ok(Dataset { images, labels })
}

fn read_file(path: &Path) -> Result<Vec<u8>, IdxError> {
    std::fs::read(path).map_err(|source| IdxError::Io { path: path.to_path_buf(), source })
}

/// Finds `<prefix>-<kind>-idx?-ubyte[.gz]` in `dir`.
fn find(dir: &Path, split: Split, kind: &str, dims: u8) -> Result<PathBuf, IdxError> {
    let stem = format!("{}-{}-idx{}-ubyte", split.prefix(), kind, dims);
    for name in [format!("{stem}.gz"), stem.clone()] {
        let p = dir.join(&name);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(IdxError::Io {
        path: dir.join(format!("{stem}.gz")),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file (raw or .gz)"),
    })
}

/// Loads one split of a dataset from a folder holding the standard four IDX files.
pub fn load_split(dir: &Path, split: Split) -> Result<Dataset, IdxError> {
    let img_path = find(dir, split, "images", 3)?;
    let lbl_path = find(dir, split, "labels", 1)?;
    let in_file = |p: &Path, e: IdxError| match e {
        IdxError::Io { .. } => e,
        other => IdxError::InFile(format!("{}: {}", p.display(), other)),
    };
    let images = parse_images(&read_file(&img_path)?).map_err(|e| in_file(&img_path, e))?;
    let labels = parse_labels(&read_file(&lbl_path)?).map_err(|e| in_file(&lbl_path, e))?;
    pair(images, labels)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn images_file(count: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
        for v in [count, rows, cols] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend((0..count * rows * cols).map(|i| (i % 251) as u8));
        b
    }

    fn labels_file(labels: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        b.extend_from_slice(labels);
        b
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_raw_and_gzip_alike() {
        let raw = images_file(3, 4, 5);
        let a = parse_images(&raw).unwrap();
        let b = parse_images(&gzip(&raw)).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.count, a.rows, a.cols, a.pixels.len()), (3, 4, 5, 60));
        assert_eq!(a.pixels[59], 59);
        assert_eq!(parse_labels(&gzip(&labels_file(&[1, 2, 3]))).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn rejects_truncated_file() {
        let mut raw = images_file(3, 4, 5);
        raw.truncate(raw.len() - 1);
        match parse_images(&raw) {
            Err(IdxError::Truncated { expected: 76, found: 75 }) => {}
            other => panic!("expected truncation error, got {other:?}"),
        }
        match parse_images(&gzip(&raw[..10])) {
            Err(IdxError::Truncated { .. }) => {}
            other => panic!("expected truncation error, got {other:?}"),
        }
        let mut lbl = labels_file(&[1, 2, 3]);
        lbl.pop();
        assert!(matches!(parse_labels(&lbl), Err(IdxError::Truncated { .. })));
    }

    #[test]
    fn rejects_wrong_magic() {
        // A labels file given where images are expected, and the reverse.
        let lbl = labels_file(&[1, 2, 3]);
        assert!(matches!(
            parse_images(&lbl),
            Err(IdxError::BadMagic { expected: IMAGES_MAGIC, found: LABELS_MAGIC, .. })
        ));
        assert!(matches!(parse_labels(&images_file(1, 2, 2)), Err(IdxError::BadMagic { .. })));
        assert!(matches!(parse_images(b"PNG\x89garbage.........."), Err(IdxError::BadMagic { .. })));
    }

    #[test]
    fn rejects_count_mismatch() {
        let images = parse_images(&images_file(3, 2, 2)).unwrap();
        let err = pair(images, vec![0, 1]).unwrap_err();
        assert!(matches!(err, IdxError::CountMismatch { images: 3, labels: 2 }));
        assert!(err.to_string().contains("3 images but 2 labels"));
    }
}
