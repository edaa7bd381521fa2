//! Turning any picture (an upload, a drawing) into a 28x28 input the way MNIST was made: gray,
//! light ink on a dark background, the ink's bounding box scaled (aspect kept) into a 20x20 box,
//! then placed in 28x28 with its centre of mass at the centre.

use crate::model::{PIXELS, SIDE};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PreprocessError {
    #[error("the image is empty ({0}x{1} pixels)")]
    Empty(usize, usize),
    #[error("the image data does not match its size ({got} bytes for {width}x{height} RGBA)")]
    Size { width: usize, height: usize, got: usize },
    #[error("the image is blank: there is no ink (no pixel differs from the background)")]
    Blank,
}

/// Gray values in [0, 1] from RGBA (transparent pixels count as the background colour of the
/// opaque ones' border), inverted when the background is light so that ink is bright.
pub fn to_gray(width: usize, height: usize, rgba: &[u8]) -> Result<Vec<f32>, PreprocessError> {
    if width == 0 || height == 0 {
        return Err(PreprocessError::Empty(width, height));
    }
    if rgba.len() != width * height * 4 {
        return Err(PreprocessError::Size { width, height, got: rgba.len() });
    }
    let mut gray: Vec<f32> = rgba
        .chunks_exact(4)
        .map(|p| {
            let lum = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0;
            let a = p[3] as f32 / 255.0;
            // Composite on white: a transparent PNG of dark strokes reads as ink on paper.
            lum * a + (1.0 - a)
        })
        .collect();
    // The background is what the border mostly is.
    let mut border: Vec<f32> = Vec::new();
    for x in 0..width {
        border.push(gray[x]);
        border.push(gray[(height - 1) * width + x]);
    }
    for y in 0..height {
        border.push(gray[y * width]);
        border.push(gray[y * width + width - 1]);
    }
    border.sort_by(f32::total_cmp);
    let background = border[border.len() / 2];
    if background > 0.5 {
        gray.iter_mut().for_each(|g| *g = 1.0 - *g);
    }
    // Stretch so that the background is 0 and the strongest ink 1.
    let bg = if background > 0.5 { 1.0 - background } else { background };
    let max = gray.iter().cloned().fold(0.0f32, f32::max);
    if max - bg < 0.05 {
        return Err(PreprocessError::Blank);
    }
    gray.iter_mut().for_each(|g| *g = ((*g - bg) / (max - bg)).clamp(0.0, 1.0));
    Ok(gray)
}

/// The MNIST normalisation of a gray image (ink bright): bounding box of the ink (> 0.1) scaled
/// into 20x20 keeping its aspect ratio (area averaging), centred by centre of mass in 28x28.
pub fn to_mnist(width: usize, height: usize, gray: &[f32]) -> Result<Vec<f32>, PreprocessError> {
    let ink = |x: usize, y: usize| gray[y * width + x] > 0.1;
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink(x, y) {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    if x0 == usize::MAX {
        return Err(PreprocessError::Blank);
    }
    let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
    let scale = 20.0 / bw.max(bh);
    let (tw, th) = (((bw * scale).round() as usize).clamp(1, 20), ((bh * scale).round() as usize).clamp(1, 20));
    // Area averaging: each target pixel covers [tx/scale, (tx+1)/scale) of the box.
    let mut small = vec![0.0f32; tw * th];
    for ty in 0..th {
        for tx in 0..tw {
            let (sx0, sx1) = (x0 as f32 + tx as f32 / scale, x0 as f32 + (tx + 1) as f32 / scale);
            let (sy0, sy1) = (y0 as f32 + ty as f32 / scale, y0 as f32 + (ty + 1) as f32 / scale);
            let (mut acc, mut area) = (0.0f32, 0.0f32);
            for sy in sy0.floor() as usize..(sy1.ceil() as usize).min(height) {
                let wy = (sy1.min(sy as f32 + 1.0) - sy0.max(sy as f32)).max(0.0);
                for sx in sx0.floor() as usize..(sx1.ceil() as usize).min(width) {
                    let wx = (sx1.min(sx as f32 + 1.0) - sx0.max(sx as f32)).max(0.0);
                    acc += gray[sy * width + sx] * wx * wy;
                    area += wx * wy;
                }
            }
            small[ty * tw + tx] = if area > 0.0 { acc / area } else { 0.0 };
        }
    }
    // Centre of mass of the scaled ink, moved to the centre of the 28x28 field.
    let mass: f32 = small.iter().sum();
    let (mut cx, mut cy) = (0.0f32, 0.0f32);
    for ty in 0..th {
        for tx in 0..tw {
            cx += small[ty * tw + tx] * (tx as f32 + 0.5);
            cy += small[ty * tw + tx] * (ty as f32 + 0.5);
        }
    }
    let (cx, cy) = if mass > 0.0 { (cx / mass, cy / mass) } else { (tw as f32 / 2.0, th as f32 / 2.0) };
    let (ox, oy) = ((SIDE as f32 / 2.0 - cx).round() as isize, (SIDE as f32 / 2.0 - cy).round() as isize);
    let mut out = vec![0.0f32; PIXELS];
    for ty in 0..th {
        for tx in 0..tw {
            let (x, y) = (tx as isize + ox, ty as isize + oy);
            if (0..SIDE as isize).contains(&x) && (0..SIDE as isize).contains(&y) {
                out[y as usize * SIDE + x as usize] = small[ty * tw + tx];
            }
        }
    }
    Ok(out)
}

/// Any RGBA picture to a 28x28 MNIST-style input.
pub fn from_rgba(width: usize, height: usize, rgba: &[u8]) -> Result<Vec<f32>, PreprocessError> {
    let gray = to_gray(width, height, rgba)?;
    to_mnist(width, height, &gray)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dark bar on white paper, off-centre in a large picture.
    fn bar(width: usize, height: usize) -> Vec<u8> {
        let mut rgba = vec![255u8; width * height * 4];
        for y in height / 10..height / 2 {
            for x in width / 10..width / 10 + width / 20 {
                let i = (y * width + x) * 4;
                rgba[i..i + 3].copy_from_slice(&[10, 10, 10]);
            }
        }
        rgba
    }

    #[test]
    fn a_dark_stroke_on_paper_becomes_a_centred_bright_20px_stroke() {
        let img = from_rgba(400, 300, &bar(400, 300)).unwrap();
        let ink: Vec<(usize, usize)> = (0..PIXELS).filter(|&i| img[i] > 0.5).map(|i| (i % SIDE, i / SIDE)).collect();
        let (ys, xs): (Vec<usize>, Vec<usize>) = (ink.iter().map(|p| p.1).collect(), ink.iter().map(|p| p.0).collect());
        let height = ys.iter().max().unwrap() - ys.iter().min().unwrap() + 1;
        assert_eq!(height, 20, "the longer side fills the 20-pixel box");
        let (mx, my) = (xs.iter().sum::<usize>() as f32 / xs.len() as f32, ys.iter().sum::<usize>() as f32 / ys.len() as f32);
        assert!((mx - 13.5).abs() <= 1.0 && (my - 13.5).abs() <= 1.0, "centre of mass at the centre: {mx}, {my}");
        assert_eq!(img[0], 0.0, "the background is black");
    }

    #[test]
    fn light_on_dark_is_kept_and_transparent_is_background() {
        // White ink on black, as the drawing canvas makes it.
        let mut rgba = vec![0u8; 28 * 28 * 4];
        rgba.chunks_exact_mut(4).for_each(|p| p[3] = 255);
        for y in 4..24 {
            let i = (y * 28 + 14) * 4;
            rgba[i..i + 3].copy_from_slice(&[255, 255, 255]);
        }
        let img = from_rgba(28, 28, &rgba).unwrap();
        assert!(img.iter().cloned().fold(0.0, f32::max) > 0.9);
        // A fully transparent picture is blank.
        assert_eq!(from_rgba(10, 10, &[0u8; 400]), Err(PreprocessError::Blank));
    }

    #[test]
    fn errors_for_empty_mismatched_and_blank_images() {
        assert_eq!(from_rgba(0, 5, &[]), Err(PreprocessError::Empty(0, 5)));
        assert!(matches!(from_rgba(2, 2, &[0; 15]), Err(PreprocessError::Size { .. })));
        assert_eq!(from_rgba(3, 3, &[200u8; 36]), Err(PreprocessError::Blank));
    }
}
