//! The user's settings for a run, and their URL form (`?input=noise&seed=3&steps=200`).
//!
//! Parsing never fails: unknown keys are ignored and out-of-range values are clamped or
//! replaced by their defaults, each with a notice the page shows.

use crate::attack::{AttackConfig, StepNorm};
use crate::backend::BackendPref;
use crate::inputs::ControlledInput;
use crate::protocol::Fault;
use crate::study::abstraction::{Abstraction, PatternMethod};
use crate::study::templates::TemplateKind;
use crate::suite::{AttackMethod, Param};
use crate::train_recipe::TrainRecipe;

pub const MAX_STEPS_LIMIT: usize = 5000;
pub const STEP_SIZE_RANGE: (f32, f32) = (0.001, 1.0);
pub const KAPPA_RANGE: (f32, f32) = (0.1, 1.0);
/// Share of pixels the top-p% mask keeps.
pub const TOP_PERCENT_RANGE: (f32, f32) = (0.5, 100.0);
pub const DEFAULT_TOP_PERCENT: f32 = 10.0;
/// Width of the Gaussian smoothing, in pixels.
pub const SIGMA_RANGE: (f32, f32) = (0.0, 4.0);

/// Which controlled input the gallery starts from (the seed and sample choice are separate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputChoice {
    Black,
    Gray,
    White,
    Noise,
    Sample,
    /// The user's drawing or upload (not expressible in a URL; the page holds the pixels).
    Custom,
}

impl InputChoice {
    pub const ALL: [InputChoice; 6] =
        [InputChoice::Black, InputChoice::Gray, InputChoice::White, InputChoice::Noise, InputChoice::Sample, InputChoice::Custom];

    pub fn slug(self) -> &'static str {
        match self {
            InputChoice::Black => "black",
            InputChoice::Gray => "gray",
            InputChoice::White => "white",
            InputChoice::Noise => "noise",
            InputChoice::Sample => "sample",
            InputChoice::Custom => "custom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            InputChoice::Black => "Black",
            InputChoice::Gray => "Mid-gray",
            InputChoice::White => "White",
            InputChoice::Noise => "Uniform noise (seeded)",
            InputChoice::Sample => "Real test image",
            InputChoice::Custom => "My drawing or upload",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.slug() == s)
    }
}

/// Everything the page's URL says. In the page it lives in a reactive store (feature `store`):
/// a view that reads one field is not redrawn when another changes, and writes are patched
/// field by field.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "store", derive(reactive_stores::Store, reactive_stores::Patch))]
pub struct Settings {
    /// Model name from the manifest; `None` means the default model (of `dataset`, if given).
    pub model: Option<String>,
    /// Dataset slug; the app checks it against the manifest.
    pub dataset: Option<String>,
    /// Compare mode: model B, which reads model A's adversarial examples (`compare=`); the app
    /// checks it against the manifest and model A.
    pub compare: Option<String>,
    pub input: InputChoice,
    /// Class and index of the real test image (when `input` is `Sample`).
    pub sample_class: u8,
    pub sample_index: usize,
    pub seed: u64,
    pub attack: AttackConfig,
    /// Which compute backend to use (`auto` decides by the adapter and by measuring).
    pub backend: BackendPref,
    /// Test-only fault for the worker's first run (`debug=lose-device|panic`).
    pub fault: Option<Fault>,
    /// Test-only: measure both backends even on a software adapter (`debug=calibrate`).
    pub force_calibration: bool,
    /// Test-only faults of the CPU pool (`debug=panic-pool|corrupt-model|silent-worker`).
    pub pool_fault: Option<PoolFault>,
    /// CPU workers in the pool (`workers=`, 1 to [`MAX_WORKERS`]); `None`: one per core less one.
    pub workers: Option<usize>,
    /// How the analysis abstracts perturbations into patterns.
    pub abstraction: Abstraction,
    /// Which dataset template the patterns are compared with.
    pub template: TemplateKind,
    /// Run the study (analysis) after every gallery.
    pub analysis: bool,
    /// Attack toward this class only; `None`: every class.
    pub target: Option<u8>,
    /// Seeds of the controlled inputs for the study and the overview (`seeds=`, 1 to
    /// [`MAX_PAGE_SEEDS`]; 1,000 apart from `seed`).
    pub seeds: usize,
    /// The zoo overview and its models (`overview=all` or `overview=a,b,c`); `Some` starts it on load.
    pub overview: Option<OverviewModels>,
    /// "Train your own network": the recipe (`train-*` keys) and `train=run`.
    pub train: TrainRecipe,
    /// The guided story's step (`story=1` .. `story=8`); `None`: no story.
    pub story: Option<usize>,
}

/// The store's patch of a field: replaced, and its readers notified, only when it changed.
#[cfg(feature = "store")]
mod patch {
    use reactive_stores::{KeyMap, PatchField, StorePath};

    macro_rules! patch_when_changed {
        ($($t:ty),*) => {$(
            impl PatchField for $t {
                fn patch_field(&mut self, new: Self, path: &StorePath, notify: &mut dyn FnMut(&StorePath), _keys: Option<&KeyMap>) {
                    if new != *self {
                        *self = new;
                        notify(path);
                    }
                }
            }
        )*};
    }

    patch_when_changed!(
        super::InputChoice,
        super::AttackConfig,
        super::BackendPref,
        super::Fault,
        super::PoolFault,
        super::Abstraction,
        super::TemplateKind,
        super::OverviewModels,
        super::TrainRecipe
    );
}

/// Most CPU workers the page starts (`workers=`).
pub const MAX_WORKERS: usize = 8;

/// How many CPU workers the pool runs: the URL's `workers=` when given, else one per core less
/// one (the page's own thread), at least 1 and at most [`MAX_WORKERS`].
pub fn pool_size(requested: Option<usize>, hardware_concurrency: usize) -> usize {
    requested.unwrap_or(hardware_concurrency.saturating_sub(1)).clamp(1, MAX_WORKERS)
}

/// Test-only faults of the CPU pool (URL key `debug=`), each striking its last worker once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolFault {
    /// The last worker panics a few steps into its first slice (`debug=panic-pool`).
    PanicSlice,
    /// The last worker is first sent a model whose bytes do not match their SHA-256
    /// (`debug=corrupt-model`).
    CorruptModel,
    /// The last worker is started without its code, so it never answers "ready"
    /// (`debug=silent-worker`).
    SilentWorker,
}

impl PoolFault {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "panic-pool" => Some(PoolFault::PanicSlice),
            "corrupt-model" => Some(PoolFault::CorruptModel),
            "silent-worker" => Some(PoolFault::SilentWorker),
            _ => None,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            PoolFault::PanicSlice => "panic-pool",
            PoolFault::CorruptModel => "corrupt-model",
            PoolFault::SilentWorker => "silent-worker",
        }
    }
}

/// Most seeds the page runs for one study or overview (the report runs 5).
pub const MAX_PAGE_SEEDS: usize = 5;

/// Which models the zoo overview covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverviewModels {
    /// Every model of model A's dataset.
    All,
    /// These models (checked against the manifest by the app).
    Named(Vec<String>),
}

impl OverviewModels {
    pub fn parse(v: &str) -> Option<Self> {
        let names: Vec<String> = v.split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
        match names.as_slice() {
            [] => None,
            [one] if one == "all" => Some(OverviewModels::All),
            _ => Some(OverviewModels::Named(names)),
        }
    }

    pub fn to_query(&self) -> String {
        match self {
            OverviewModels::All => "all".into(),
            OverviewModels::Named(n) => n.join(","),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: None,
            dataset: None,
            compare: None,
            input: InputChoice::Black,
            sample_class: 0,
            sample_index: 0,
            seed: 0,
            attack: AttackConfig::default(),
            backend: BackendPref::Auto,
            fault: None,
            force_calibration: false,
            pool_fault: None,
            workers: None,
            abstraction: Abstraction::default(),
            template: TemplateKind::Contrast,
            analysis: false,
            target: None,
            seeds: 1,
            overview: None,
            train: TrainRecipe::default(),
            story: None,
        }
    }
}

/// The suite's numeric parameters that the URL carries (`pgd-norm` is parsed on its own).
const SUITE_PARAMS: [Param; 13] = [
    Param::Eps,
    Param::Alpha,
    Param::Iters,
    Param::Restarts,
    Param::CwC,
    Param::CwSearch,
    Param::CwConf,
    Param::CwLr,
    Param::Overshoot,
    Param::JsmaGamma,
    Param::JsmaTheta,
    Param::DdnGamma,
    Param::DdnInit,
];

impl Settings {
    /// The attack settings of a run: `attack`, with the run's seed for PGD's random starts.
    pub fn attack_config(&self) -> AttackConfig {
        let mut cfg = self.attack.clone();
        cfg.suite.seed = self.seed;
        cfg
    }

    pub fn controlled_input(&self) -> ControlledInput {
        match self.input {
            InputChoice::Black => ControlledInput::Black,
            InputChoice::Gray => ControlledInput::Gray,
            InputChoice::White => ControlledInput::White,
            InputChoice::Noise => ControlledInput::Noise { seed: self.seed },
            InputChoice::Sample => ControlledInput::Sample { class: self.sample_class, index: self.sample_index },
            // The page supplies the pixels (see `ControlledInput::Custom`).
            InputChoice::Custom => ControlledInput::Custom { pixels: Vec::new() },
        }
    }

    /// Reads settings from URL query pairs. Returns the settings and one notice per value
    /// that was ignored or changed.
    pub fn from_query(pairs: &[(String, String)]) -> (Self, Vec<String>) {
        let mut s = Settings::default();
        let d = AttackConfig::default();
        let mut notices = Vec::new();
        let mut top_percent = None;
        for (key, value) in pairs {
            let v = value.trim();
            match key.as_str() {
                "model" if !v.is_empty() => s.model = Some(v.to_string()),
                "dataset" if !v.is_empty() => s.dataset = Some(v.to_string()),
                "compare" => s.compare = Some(v.to_string()).filter(|v| !v.is_empty() && v != "none"),
                "input" => match InputChoice::parse(v) {
                    Some(c) => s.input = c,
                    None => notices.push(format!("input=\"{v}\" is unknown; using black (black, gray, white, noise, sample, custom)")),
                },
                "class" => s.sample_class = clamp_int(key, v, 0, 9, 0, &mut notices) as u8,
                "index" => s.sample_index = clamp_int(key, v, 0, 999, 0, &mut notices) as usize,
                "seed" => match v.parse::<u64>() {
                    Ok(n) => s.seed = n,
                    Err(_) => notices.push(format!("seed=\"{v}\" is not a whole number ≥ 0; using 0")),
                },
                "steps" => s.attack.max_steps = clamp_int(key, v, 1, MAX_STEPS_LIMIT as i64, d.max_steps as i64, &mut notices) as usize,
                "step" => s.attack.step_size = clamp_float(key, v, STEP_SIZE_RANGE, d.step_size, &mut notices),
                "kappa" => s.attack.kappa = clamp_float(key, v, KAPPA_RANGE, d.kappa, &mut notices),
                "norm" => match v {
                    "l2" => s.attack.norm = StepNorm::L2,
                    "linf" => s.attack.norm = StepNorm::Linf,
                    _ => notices.push(format!("norm=\"{v}\" is unknown; using l2 (l2 or linf)")),
                },
                "early" => match v {
                    "1" | "yes" | "true" => s.attack.early_stop = true,
                    "0" | "no" | "false" => s.attack.early_stop = false,
                    _ => notices.push(format!("early=\"{v}\" is not 0 or 1; early stopping stays on")),
                },
                "abs" => match v {
                    "mean" => s.abstraction.method = PatternMethod::MeanUnit,
                    "sign" => s.abstraction.method = PatternMethod::Sign,
                    "top" => {
                        if !matches!(s.abstraction.method, PatternMethod::TopMask { .. }) {
                            s.abstraction.method = PatternMethod::TopMask { percent: DEFAULT_TOP_PERCENT };
                        }
                    }
                    _ => notices.push(format!("abs=\"{v}\" is unknown; using mean (mean, top, sign)")),
                },
                "top" => {
                    let p = clamp_float(key, v, TOP_PERCENT_RANGE, DEFAULT_TOP_PERCENT, &mut notices);
                    top_percent = Some(p);
                }
                "sigma" => s.abstraction.sigma = clamp_float(key, v, SIGMA_RANGE, 0.0, &mut notices),
                "template" => match TemplateKind::parse(v) {
                    Some(t) => s.template = t,
                    None => notices.push(format!("template=\"{v}\" is unknown; using contrast (class-mean, contrast, t-stat)")),
                },
                "target" => match v {
                    "all" | "" => s.target = None,
                    _ => s.target = Some(clamp_int(key, v, 0, 9, 0, &mut notices) as u8),
                },
                "analysis" => match v {
                    "1" | "yes" | "true" => s.analysis = true,
                    "0" | "no" | "false" => s.analysis = false,
                    _ => notices.push(format!("analysis=\"{v}\" is not 0 or 1; the analysis stays off")),
                },
                "story" => match v {
                    "" | "0" | "off" | "none" => s.story = None,
                    _ => s.story = Some(clamp_int(key, v, 1, crate::story::STEPS as i64, 1, &mut notices) as usize),
                },
                "seeds" => s.seeds = clamp_int(key, v, 1, MAX_PAGE_SEEDS as i64, 1, &mut notices) as usize,
                "overview" => s.overview = OverviewModels::parse(v).filter(|_| !matches!(v, "0" | "none" | "off")),
                "attack" => match AttackMethod::parse(v) {
                    Some(m) => s.attack.method = m,
                    None => notices.push(format!(
                        "attack=\"{v}\" is unknown; using evolve ({})",
                        AttackMethod::ALL.map(|m| m.slug()).join(", ")
                    )),
                },
                "pgd-norm" => match v {
                    "l2" => s.attack.suite.pgd_norm = StepNorm::L2,
                    "linf" => s.attack.suite.pgd_norm = StepNorm::Linf,
                    _ => notices.push(format!("pgd-norm=\"{v}\" is unknown; using linf (l2 or linf)")),
                },
                "backend" => match BackendPref::parse(v) {
                    Some(b) => s.backend = b,
                    None => notices.push(format!("backend=\"{v}\" is unknown; choosing automatically (auto, webgpu or cpu)")),
                },
                "debug" => match v {
                    "calibrate" => s.force_calibration = true,
                    _ => match (Fault::parse(v), PoolFault::parse(v)) {
                        (Some(f), _) => s.fault = Some(f),
                        (_, Some(f)) => s.pool_fault = Some(f),
                        _ => notices.push(format!(
                            "debug=\"{v}\" is unknown (lose-device, panic, calibrate, panic-pool, corrupt-model, silent-worker); ignoring it"
                        )),
                    },
                },
                "workers" => match v {
                    "" | "auto" => s.workers = None,
                    _ => match v.parse::<i64>() {
                        Ok(n) if !(1..=MAX_WORKERS as i64).contains(&n) => {
                            let c = n.clamp(1, MAX_WORKERS as i64) as usize;
                            notices.push(format!("workers={n} is out of range 1-{MAX_WORKERS}; using {c}"));
                            s.workers = Some(c);
                        }
                        Ok(n) => s.workers = Some(n as usize),
                        Err(_) => notices.push(format!("workers=\"{v}\" is not a whole number; using one worker per core less one")),
                    },
                },
                other if s.train.read(other, v, &mut notices) => {}
                other => {
                    if let Some(p) = SUITE_PARAMS.iter().copied().find(|p| p.key() == other) {
                        let x = clamp_float(key, v, p.range(), d.suite.get(p), &mut notices);
                        s.attack.suite.set(p, x);
                    }
                }
            }
        }
        if let (PatternMethod::TopMask { percent }, Some(p)) = (&mut s.abstraction.method, top_percent) {
            *percent = p;
        }
        (s, notices)
    }

    /// The URL query for these settings (only values that differ from the defaults).
    pub fn to_query(&self) -> Vec<(String, String)> {
        let d = Settings::default();
        let mut q = Vec::new();
        let mut put = |k: &str, v: String| q.push((k.to_string(), v));
        if let Some(d) = &self.dataset {
            put("dataset", d.clone());
        }
        if let Some(m) = &self.model {
            put("model", m.clone());
        }
        if let Some(b) = &self.compare {
            put("compare", b.clone());
        }
        if self.input != d.input {
            put("input", self.input.slug().into());
        }
        if self.input == InputChoice::Sample {
            put("class", self.sample_class.to_string());
            put("index", self.sample_index.to_string());
        }
        if self.seed != d.seed {
            put("seed", self.seed.to_string());
        }
        if self.attack.max_steps != d.attack.max_steps {
            put("steps", self.attack.max_steps.to_string());
        }
        if self.attack.step_size != d.attack.step_size {
            put("step", self.attack.step_size.to_string());
        }
        if self.attack.kappa != d.attack.kappa {
            put("kappa", self.attack.kappa.to_string());
        }
        if self.attack.norm != d.attack.norm {
            put("norm", "linf".into());
        }
        if !self.attack.early_stop {
            put("early", "0".into());
        }
        if self.attack.method != AttackMethod::Evolve {
            put("attack", self.attack.method.slug().into());
        }
        for &p in self.attack.method.params() {
            let v = self.attack.suite.get(p);
            if v != d.attack.suite.get(p) {
                match p {
                    Param::PgdNorm => put(p.key(), if v >= 0.5 { "linf" } else { "l2" }.into()),
                    _ => put(p.key(), v.to_string()),
                }
            }
        }
        if self.backend != BackendPref::Auto {
            put("backend", self.backend.slug().into());
        }
        if let Some(n) = self.workers {
            put("workers", n.to_string());
        }
        if let Some(f) = self.pool_fault {
            put("debug", f.slug().into());
        }
        if let Some(f) = self.fault {
            put("debug", f.slug().into());
        } else if self.force_calibration {
            put("debug", "calibrate".into());
        }
        match self.abstraction.method {
            PatternMethod::MeanUnit => {}
            PatternMethod::Sign => put("abs", "sign".into()),
            PatternMethod::TopMask { percent } => {
                put("abs", "top".into());
                put("top", percent.to_string());
            }
        }
        if self.abstraction.sigma != d.abstraction.sigma {
            put("sigma", self.abstraction.sigma.to_string());
        }
        if self.template != d.template {
            put("template", self.template.slug().into());
        }
        if self.analysis {
            put("analysis", "1".into());
        }
        if let Some(t) = self.target {
            put("target", t.to_string());
        }
        if self.seeds != d.seeds {
            put("seeds", self.seeds.to_string());
        }
        if let Some(o) = &self.overview {
            put("overview", o.to_query());
        }
        q.extend(self.train.to_query());
        if let Some(n) = self.story {
            q.push(("story".to_string(), n.to_string()));
        }
        q
    }
}

pub(crate) fn clamp_int(key: &str, v: &str, lo: i64, hi: i64, default: i64, notices: &mut Vec<String>) -> i64 {
    match v.parse::<i64>() {
        Ok(n) if n < lo || n > hi => {
            let c = n.clamp(lo, hi);
            notices.push(format!("{key}={n} is out of range {lo}-{hi}; using {c}"));
            c
        }
        Ok(n) => n,
        Err(_) => {
            notices.push(format!("{key}=\"{v}\" is not a whole number; using {default}"));
            default
        }
    }
}

pub(crate) fn clamp_float(key: &str, v: &str, (lo, hi): (f32, f32), default: f32, notices: &mut Vec<String>) -> f32 {
    match v.parse::<f32>() {
        Ok(x) if x.is_finite() && (x < lo || x > hi) => {
            let c = x.clamp(lo, hi);
            notices.push(format!("{key}={x} is out of range {lo}-{hi}; using {c}"));
            c
        }
        Ok(x) if x.is_finite() => x,
        _ => {
            notices.push(format!("{key}=\"{v}\" is not a number; using {default}"));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_story_step_out_of_range_is_clamped_with_a_notice() {
        for (v, want, noticed) in [("0", None, false), ("9", Some(crate::story::STEPS), true), ("-2", Some(1), true), ("x", Some(1), true), ("3", Some(3), false)] {
            let (s, n) = Settings::from_query(&q(&[("story", v)]));
            assert_eq!(s.story, want, "story={v}");
            assert_eq!(!n.is_empty(), noticed, "story={v}: {n:?}");
        }
    }

    #[test]
    fn round_trips_through_the_query() {
        let (s, n) = Settings::from_query(&q(&[
            ("dataset", "fashion-mnist"),
            ("model", "fashion-mnist-lenet"),
            ("input", "sample"),
            ("class", "7"),
            ("index", "3"),
            ("seed", "42"),
            ("steps", "10"),
            ("step", "0.2"),
            ("kappa", "0.5"),
            ("norm", "linf"),
            ("early", "0"),
            ("backend", "cpu"),
            ("abs", "top"),
            ("top", "25"),
            ("sigma", "1.5"),
            ("template", "t-stat"),
            ("analysis", "1"),
            ("target", "4"),
            ("compare", "fashion-mnist-lenet-robust"),
            ("story", "5"),
        ]));
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(s.story, Some(5));
        assert_eq!(s.controlled_input(), ControlledInput::Sample { class: 7, index: 3 });
        assert_eq!((s.seed, s.attack.max_steps, s.attack.norm, s.attack.early_stop), (42, 10, StepNorm::Linf, false));
        assert_eq!((s.dataset.as_deref(), s.model.as_deref()), (Some("fashion-mnist"), Some("fashion-mnist-lenet")));
        assert_eq!(s.abstraction, Abstraction { method: PatternMethod::TopMask { percent: 25.0 }, sigma: 1.5 });
        assert_eq!((s.template, s.analysis, s.target), (TemplateKind::TStat, true, Some(4)));
        assert_eq!(s.compare.as_deref(), Some("fashion-mnist-lenet-robust"));
        let (back, _) = Settings::from_query(&s.to_query());
        assert_eq!(back, s);
        assert!(Settings::default().to_query().is_empty());
        for (attack, extra) in [("cw", ("cw-c", "2.5")), ("pgd", ("pgd-norm", "l2")), ("jsma", ("jsma-theta", "-0.5")), ("ddn", ("iters", "40"))] {
            let (s, n) = Settings::from_query(&q(&[("attack", attack), extra, ("seed", "3")]));
            assert!(n.is_empty(), "{n:?}");
            assert_eq!(s.attack.method.slug(), attack);
            assert_eq!(s.attack_config().suite.seed, 3, "the run's seed reaches PGD's starts");
            let (back, _) = Settings::from_query(&s.to_query());
            assert_eq!(back, s, "{attack}");
            assert!(s.to_query().iter().any(|(k, v)| (k.as_str(), v.as_str()) == extra), "{attack}: {:?}", s.to_query());
        }
    }

    #[test]
    fn seeds_and_overview_are_read_clamped_and_written_back() {
        let (s, n) = Settings::from_query(&q(&[("seeds", "3"), ("overview", " mnist-mlp , mnist-mlp-robust,,")]));
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(s.seeds, 3);
        assert_eq!(s.overview, Some(OverviewModels::Named(vec!["mnist-mlp".into(), "mnist-mlp-robust".into()])));
        let back = s.to_query();
        assert!(back.contains(&("seeds".into(), "3".into())) && back.contains(&("overview".into(), "mnist-mlp,mnist-mlp-robust".into())), "{back:?}");
        let (s, n) = Settings::from_query(&q(&[("seeds", "50"), ("overview", "all")]));
        assert_eq!((s.seeds, s.overview), (MAX_PAGE_SEEDS, Some(OverviewModels::All)));
        assert!(n[0].contains("seeds=50"), "{n:?}");
        let (s, n) = Settings::from_query(&q(&[("seeds", "0"), ("overview", "none")]));
        assert_eq!((s.seeds, s.overview, n.len()), (1, None, 1));
        assert_eq!(Settings::from_query(&q(&[("overview", "")])).0.overview, None);
        assert!(!Settings::default().to_query().iter().any(|(k, _)| k == "seeds" || k == "overview"));
    }

    #[test]
    fn compare_is_read_and_none_or_empty_turn_it_off() {
        let (s, n) = Settings::from_query(&q(&[("compare", " mnist-mlp-robust ")]));
        assert!(n.is_empty(), "{n:?}");
        assert_eq!(s.compare.as_deref(), Some("mnist-mlp-robust"));
        assert!(s.to_query().contains(&("compare".to_string(), "mnist-mlp-robust".to_string())));
        for off in ["", "none"] {
            let (s, _) = Settings::from_query(&q(&[("compare", "mnist-mlp"), ("compare", off)]));
            assert_eq!(s.compare, None, "compare={off:?}");
        }
        assert!(!Settings::default().to_query().iter().any(|(k, _)| k == "compare"));
    }

    #[test]
    fn bad_attack_values_get_notices() {
        let (s, n) = Settings::from_query(&q(&[("attack", "banana"), ("eps", "100"), ("iters", "x"), ("pgd-norm", "l3")]));
        assert_eq!(s.attack.method, AttackMethod::Evolve);
        assert_eq!(s.attack.suite.eps, 28.0);
        assert_eq!(s.attack.suite.iters, 100);
        assert_eq!(n.len(), 4, "{n:?}");
        assert!(n[0].contains("fgsm") && n[1].contains("out of range"));
    }

    #[test]
    fn out_of_range_and_garbage_values_are_clamped_or_ignored_with_notices() {
        let (s, n) = Settings::from_query(&q(&[
            ("steps", "999999"),
            ("kappa", "7"),
            ("step", "nan"),
            ("class", "-3"),
            ("input", "banana"),
            ("seed", "-1"),
            ("unknown", "x"),
            ("abs", "top"),
            ("top", "400"),
            ("sigma", "-2"),
            ("template", "banana"),
        ]));
        assert_eq!(s.attack.max_steps, MAX_STEPS_LIMIT);
        assert_eq!(s.attack.kappa, 1.0);
        assert_eq!(s.attack.step_size, AttackConfig::default().step_size);
        assert_eq!(s.sample_class, 0);
        assert_eq!(s.input, InputChoice::Black);
        assert_eq!(s.seed, 0);
        assert_eq!(s.abstraction, Abstraction { method: PatternMethod::TopMask { percent: 100.0 }, sigma: 0.0 });
        assert_eq!(s.template, TemplateKind::Contrast);
        assert_eq!(n.len(), 9, "{n:?}");
    }

    #[test]
    fn workers_are_clamped_with_a_notice_and_round_trip() {
        let q = |v: &str| Settings::from_query(&[("workers".to_string(), v.to_string())]);
        for (v, want, noticed) in [("0", Some(1), true), ("-1", Some(1), true), ("99", Some(MAX_WORKERS), true), ("x", None, true), ("3", Some(3), false), ("auto", None, false)] {
            let (s, notices) = q(v);
            assert_eq!(s.workers, want, "workers={v}");
            assert_eq!(!notices.is_empty(), noticed, "workers={v}: {notices:?}");
            let (back, _) = Settings::from_query(&s.to_query());
            assert_eq!(back.workers, s.workers);
        }
        assert_eq!(pool_size(None, 2), 1);
        assert_eq!(pool_size(None, 1), 1);
        assert_eq!(pool_size(None, 16), MAX_WORKERS);
        assert_eq!(pool_size(None, 5), 4);
        assert_eq!(pool_size(Some(2), 2), 2);
        let (s, n) = Settings::from_query(&[("debug".into(), "panic-pool".into())]);
        assert_eq!((s.pool_fault, s.fault, n.len()), (Some(PoolFault::PanicSlice), None, 0));
        assert_eq!(Settings::from_query(&s.to_query()).0.pool_fault, Some(PoolFault::PanicSlice));
    }
}
