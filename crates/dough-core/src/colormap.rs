//! Colour maps for images and perturbations, as RGBA bytes (shared by the page and reports).
//!
//! The diverging map runs blue (negative: ink removed) - near white (0) - orange (positive:
//! ink added); blue/orange stays distinguishable under the common colour-vision deficiencies
//! and on projectors.

const NEG: [f32; 3] = [33.0, 102.0, 172.0];
const MID: [f32; 3] = [247.0, 247.0, 247.0];
const POS: [f32; 3] = [230.0, 97.0, 1.0];

/// Gray-scale: 0 black, 1 white.
pub fn gray_rgba(pixels: &[f32]) -> Vec<u8> {
    pixels
        .iter()
        .flat_map(|&p| {
            let v = (p.clamp(0.0, 1.0) * 255.0).round() as u8;
            [v, v, v, 255]
        })
        .collect()
}

/// One value in [-1, 1] to RGB on the diverging map.
pub fn diverging(t: f32) -> [u8; 3] {
    let t = if t.is_finite() { t.clamp(-1.0, 1.0) } else { 0.0 };
    let end = if t < 0.0 { NEG } else { POS };
    let a = t.abs();
    let mix = |i: usize| (MID[i] + (end[i] - MID[i]) * a).round() as u8;
    [mix(0), mix(1), mix(2)]
}

/// Values mapped with `scale` as the end of the map (|v| >= scale is full colour).
pub fn diverging_rgba(values: &[f32], scale: f32) -> Vec<u8> {
    let s = if scale > 0.0 { scale } else { 1.0 };
    values.iter().flat_map(|&v| { let [r, g, b] = diverging(v / s); [r, g, b, 255] }).collect()
}

/// The symmetric scale of a perturbation: its largest absolute value.
pub fn symmetric_scale(values: &[f32]) -> f32 {
    values.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_middle() {
        assert_eq!(diverging(0.0), [247, 247, 247]);
        assert_eq!(diverging(-1.0), [33, 102, 172]);
        assert_eq!(diverging(1.0), [230, 97, 1]);
        assert_eq!(diverging(5.0), diverging(1.0));
        assert_eq!(diverging(f32::NAN), diverging(0.0));
        assert_eq!(gray_rgba(&[0.0, 1.0]), vec![0, 0, 0, 255, 255, 255, 255, 255]);
        assert_eq!(symmetric_scale(&[0.1, -0.3, 0.2]), 0.3);
        assert_eq!(diverging_rgba(&[-0.3], 0.3), vec![33, 102, 172, 255]);
    }
}
