//! Exports of a run: its numbers as JSON and CSV, and image sheets (RGBA) that the page turns
//! into PNG files and the CLI writes for its report.

use serde::Serialize;

use crate::attack::SampleOutcome;
use crate::colormap::diverging;
use crate::compare::Reading;
use crate::model::SIDE;
use crate::study::pipeline::StudyResult;
use crate::study::replicates::Replicated;
use crate::study::stats::Interval;

/// Everything a run produced, for JSON export.
#[derive(Serialize)]
pub struct RunExport<'a> {
    pub dough: &'static str,
    pub model: &'a str,
    pub dataset: &'a str,
    pub backend: &'a str,
    /// Compare mode: model B's name (its readings are in the rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<&'a str>,
    /// The URL query that reproduces the run.
    pub settings: Vec<(String, String)>,
    pub rows: Vec<RowExport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<&'a StudyResult>,
    /// The analysis over several seeds (`seeds=` above 1): every score with its 95% interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<&'a Replicated>,
}

#[derive(Serialize)]
pub struct RowExport {
    pub target: usize,
    pub target_name: String,
    pub predicted: usize,
    pub confidence: f32,
    pub steps: usize,
    pub l2: f32,
    pub linf: f32,
    pub l0: usize,
    pub reached: bool,
    /// Compare mode: model B's name, predicted class, confidence in the target, and whether it
    /// predicts the target too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_predicted: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_confidence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_fooled: Option<bool>,
}

pub fn rows(outcomes: &[SampleOutcome], names: &[&str; 10]) -> Vec<RowExport> {
    outcomes
        .iter()
        .map(|o| RowExport {
            target: o.target,
            target_name: names[o.target].to_string(),
            predicted: o.predicted,
            confidence: o.confidence,
            steps: o.steps,
            l2: o.l2,
            linf: o.linf,
            l0: o.l0,
            reached: o.reached,
            b_model: None,
            b_predicted: None,
            b_confidence: None,
            b_fooled: None,
        })
        .collect()
}

/// Adds model B's readings to the rows (compare mode); `readings` are in row order.
pub fn with_compare(mut rows: Vec<RowExport>, b_model: &str, readings: &[Reading]) -> Vec<RowExport> {
    for (r, b) in rows.iter_mut().zip(readings) {
        r.b_model = Some(b_model.to_string());
        r.b_predicted = Some(b.predicted);
        r.b_confidence = Some(b.confidence);
        r.b_fooled = Some(b.fooled);
    }
    rows
}

impl RunExport<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("run exports serialise")
    }

    /// CSV: the settings as `# key=value` comments, the rows, then (when the analysis ran) the
    /// pattern-vs-template correlation matrix.
    pub fn to_csv(&self) -> String {
        let mut out = format!("# Dough run: model {} ({}), backend {}\n", self.model, self.dataset, self.backend);
        for (k, v) in &self.settings {
            out += &format!("# {k}={v}\n");
        }
        let compare = self.rows.iter().any(|r| r.b_model.is_some());
        out += "target,target_name,predicted,confidence,steps,l2,linf,l0,reached";
        out += if compare { ",b_model,b_predicted,b_confidence,b_fooled\n" } else { "\n" };
        for r in &self.rows {
            out += &format!(
                "{},{},{},{:.6},{},{:.6},{:.6},{},{}",
                r.target,
                csv_field(&r.target_name),
                r.predicted,
                r.confidence,
                r.steps,
                r.l2,
                r.linf,
                r.l0,
                r.reached
            );
            if compare {
                out += &format!(
                    ",{},{},{},{}",
                    csv_field(r.b_model.as_deref().unwrap_or("")),
                    r.b_predicted.map(|p| p.to_string()).unwrap_or_default(),
                    r.b_confidence.map(|c| format!("{c:.6}")).unwrap_or_default(),
                    r.b_fooled.map(|f| f.to_string()).unwrap_or_default()
                );
            }
            out += "\n";
        }
        if let Some(a) = self.analysis {
            out += &format!(
                "\n# pattern (row) vs dataset template (column) correlations; identification {:.4}, margin {:.6}\n",
                a.model.vs_dataset.identification, a.model.vs_dataset.margin
            );
            out += &format!("pattern,{}\n", (0..a.model.vs_dataset.matrix.len()).map(|c| c.to_string()).collect::<Vec<_>>().join(","));
            for (i, row) in a.model.vs_dataset.matrix.iter().enumerate() {
                out += &format!("{i},{}\n", row.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(","));
            }
            let p = &a.p_values;
            out += &format!(
                "# identification p-values (permutation test): model {:.6}, random null {:.6}, untrained null {}\n",
                p.model,
                p.random_null,
                p.untrained_null.map(|v| format!("{v:.6}")).unwrap_or_else(|| "none".into())
            );
        }
        if let Some(r) = self.scores {
            out += &format!("\n# scores over the seeds {}: mean with its 95% interval (low, high)\n", r.seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "));
            out += "row,identification,identification_lo,identification_hi,p_value,margin,margin_lo,margin_hi,recurrence_same,recurrence_same_lo,recurrence_same_hi,recurrence_different,recurrence_different_lo,recurrence_different_hi,reached\n";
            for (label, sc) in [("model", Some(&r.model)), ("random_null", Some(&r.random_null)), ("untrained_null", r.untrained_null.as_ref())] {
                let Some(sc) = sc else { continue };
                let iv = |i: &Interval| format!("{:.6},{:.6},{:.6}", i.mean, i.lo, i.hi);
                out += &format!(
                    "{label},{},{:.6},{},{},{},{:.6}\n",
                    iv(&sc.identification),
                    sc.p_value,
                    iv(&sc.margin),
                    iv(&sc.recurrence_same),
                    iv(&sc.recurrence_different),
                    sc.reached.mean
                );
            }
        }
        out
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// An RGBA image: width, height, bytes.
pub struct Sheet {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

/// 28x28 RGBA tiles on a white sheet, `cols` per row, 2 px apart, each pixel drawn `zoom` times.
pub fn tile_sheet(tiles: &[Vec<u8>], cols: usize, zoom: usize) -> Sheet {
    let cols = cols.max(1);
    let rows = tiles.len().div_ceil(cols).max(1);
    let (gap, cell) = (2, SIDE * zoom);
    let (w, h) = (cols * (cell + gap) + gap, rows * (cell + gap) + gap);
    let mut img = vec![255u8; w * h * 4];
    for (k, tile) in tiles.iter().enumerate() {
        let (ox, oy) = (gap + (k % cols) * (cell + gap), gap + (k / cols) * (cell + gap));
        for y in 0..cell {
            for x in 0..cell {
                let src = ((y / zoom) * SIDE + x / zoom) * 4;
                let dst = ((oy + y) * w + ox + x) * 4;
                img[dst..dst + 4].copy_from_slice(&tile[src..src + 4]);
            }
        }
    }
    Sheet { width: w, height: h, rgba: img }
}

/// A matrix of values in [-1, 1] as a heatmap on the diverging map, `zoom` px per cell.
pub fn heatmap_sheet(m: &[Vec<f32>], zoom: usize) -> Sheet {
    let (rows, cols) = (m.len(), m.first().map_or(0, |r| r.len()));
    let (w, h) = (cols * zoom, rows * zoom);
    let mut img = vec![0u8; w * h * 4];
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = diverging(m[y / zoom][x / zoom]);
            img[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(&[r, g, b, 255]);
        }
    }
    Sheet { width: w, height: h, rgba: img }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_hold_settings_rows_and_quote_names() {
        let o = SampleOutcome {
            target: 1,
            start: vec![0.0; 784],
            adversarial: vec![0.1; 784],
            predicted: 1,
            confidence: 0.93,
            steps: 12,
            l2: 2.8,
            linf: 0.1,
            reached: true,
            l0: 0,
            away: false,
        };
        let names = ["T-shirt/top", "Trouser, long", "c", "d", "e", "f", "g", "h", "i", "j"];
        let e = RunExport {
            dough: "1",
            model: "m",
            dataset: "fashion-mnist",
            backend: "cpu",
            compare: None,
            settings: vec![("seed".into(), "3".into())],
            rows: rows(std::slice::from_ref(&o), &names),
            analysis: None,
            scores: None,
        };
        let csv = e.to_csv();
        assert!(csv.contains("# seed=3\n"));
        assert!(csv.contains("1,\"Trouser, long\",1,0.930000,12,2.800000,0.100000,0,true\n"), "{csv}");
        let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(json["rows"][0]["steps"], 12);
        assert_eq!(json["settings"][0][1], "3");
        assert!(json["rows"][0].get("b_model").is_none() && json.get("compare").is_none(), "no B fields without compare mode");
        assert!(!csv.contains("b_model"));

        let b = crate::compare::Reading { predicted: 4, confidence: 0.125, fooled: false };
        let e = RunExport { compare: Some("m-robust"), rows: with_compare(rows(&[o], &names), "m-robust", &[b]), ..e };
        let csv = e.to_csv();
        assert!(csv.contains("reached,b_model,b_predicted,b_confidence,b_fooled\n"), "{csv}");
        assert!(csv.contains(",true,m-robust,4,0.125000,false\n"), "{csv}");
        let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(json["compare"], "m-robust");
        assert_eq!((json["rows"][0]["b_model"].as_str(), json["rows"][0]["b_predicted"].as_u64()), (Some("m-robust"), Some(4)));
        assert_eq!((json["rows"][0]["b_confidence"].as_f64(), json["rows"][0]["b_fooled"].as_bool()), (Some(0.125), Some(false)));
    }

    #[test]
    fn csv_carries_the_p_values_and_the_intervals_over_seeds() {
        use crate::study::metrics::{Comparison, Recurrence};
        use crate::study::pipeline::{Analysis, PValues};
        use crate::study::replicates::PERMUTATIONS;
        let analysis = |ident: f32, margin: f32| Analysis {
            vs_dataset: Comparison { matrix: vec![vec![0.5; 2]; 2], identification: ident, margin },
            recurrence: Recurrence { same_target: 0.4, different_target: 0.1 },
            reached: 1.0,
        };
        let result = |ident: f32, margin: f32| StudyResult {
            model: analysis(ident, margin),
            random_null: analysis(0.1, 0.0),
            untrained_null: None,
            patterns: Vec::new(),
            p_values: PValues { model: 0.0001, random_null: 0.5, untrained_null: None },
        };
        let results = [result(0.8, 0.3), result(1.0, 0.5)];
        let rep = Replicated::new(&[0, 1000], &results, PERMUTATIONS);
        let e = RunExport {
            dough: "1",
            model: "m",
            dataset: "mnist",
            backend: "cpu",
            compare: None,
            settings: Vec::new(),
            rows: Vec::new(),
            analysis: Some(&results[0]),
            scores: Some(&rep),
        };
        let csv = e.to_csv();
        assert!(csv.contains("# identification p-values (permutation test): model 0.000100, random null 0.500000, untrained null none\n"), "{csv}");
        assert!(csv.contains("# scores over the seeds 0 1000:"), "{csv}");
        let model = csv.lines().find(|l| l.starts_with("model,")).unwrap();
        let f: Vec<f32> = model.split(',').skip(1).map(|v| v.parse().unwrap()).collect();
        assert_eq!(f.len(), 14);
        assert!((f[0] - 0.9).abs() < 1e-6 && f[1] < 0.9 && f[2] == 1.0, "identification 0.9 within [lo, 1]: {model}");
        assert!((f[4] - 0.4).abs() < 1e-6 && f[5] < 0.4 && f[6] > 0.4, "margin: {model}");
        assert!(!csv.contains("untrained_null,"), "no untrained null, no row");
        let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(json["scores"]["seeds"], serde_json::json!([0, 1000]));
    }

    #[test]
    fn sheets_place_tiles_and_cells() {
        let red: Vec<u8> = (0..784).flat_map(|_| [255, 0, 0, 255]).collect();
        let s = tile_sheet(&[red.clone(), red], 2, 1);
        assert_eq!((s.width, s.height), (2 * 30 + 2, 32));
        assert_eq!(&s.rgba[0..4], &[255, 255, 255, 255], "the gap is white");
        let at = |x: usize, y: usize| &s.rgba[(y * s.width + x) * 4..(y * s.width + x) * 4 + 4];
        assert_eq!(at(2, 2), &[255, 0, 0, 255]);
        assert_eq!(at(32, 2), &[255, 0, 0, 255]);
        let h = heatmap_sheet(&[vec![1.0, -1.0]], 3);
        assert_eq!((h.width, h.height), (6, 3));
        assert_eq!(&h.rgba[0..3], &diverging(1.0));
        assert_eq!(&h.rgba[12..15], &diverging(-1.0));
    }
}
