//! The guided story (`story=1` .. `story=8`): the seed study's argument in eight steps, each
//! naming the page state it shows (model, compare model, input, target, analysis) and one short
//! paragraph. Numbers that need the whole zoo are quoted from `results/REPORT.md` (a test checks
//! that the report still says them); the others come from the page's own computation, which the
//! page adds under the paragraph (`Live`).

use crate::manifest::DatasetId;
use crate::settings::{InputChoice, Settings};
use crate::suite::AttackMethod;

/// Steps in the story.
pub const STEPS: usize = 8;

/// The page state a step sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scene {
    pub model: String,
    /// Model B of compare mode (`None`: compare mode off).
    pub compare: Option<String>,
    pub input: InputChoice,
    /// Attack toward this class only (`None`: every class).
    pub target: Option<u8>,
    pub analysis: bool,
}

impl Scene {
    /// Writes the scene into `s` (the attack becomes minimal evolution, the study's own; the
    /// other settings stay the user's).
    pub fn apply(&self, s: &mut Settings) {
        s.model = Some(self.model.clone());
        s.dataset = Some(dataset_of(&self.model).slug().to_string());
        s.compare = self.compare.clone();
        s.input = self.input;
        s.target = self.target;
        s.analysis = self.analysis;
        s.attack.method = AttackMethod::Evolve;
    }

    /// Whether `s` already shows this scene (nothing to rerun).
    pub fn shown_by(&self, s: &Settings) -> bool {
        s.model.as_deref() == Some(&self.model)
            && s.compare == self.compare
            && s.input == self.input
            && s.target == self.target
            && s.analysis == self.analysis
            && s.attack.method == AttackMethod::Evolve
    }
}

fn dataset_of(model: &str) -> DatasetId {
    if model.starts_with("fashion-mnist") { DatasetId::FashionMnist } else { DatasetId::Mnist }
}

/// What the page computes itself and adds under a step's paragraph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Live {
    Nothing,
    /// The gallery's steps and sizes.
    Gallery,
    /// The study's identification beside its nulls.
    Study,
    /// Compare mode's persistence and transfer on this input.
    Compare,
}

/// One step of the story.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// 1-based.
    pub number: usize,
    pub title: String,
    pub text: String,
    /// Where the paragraph's own numbers come from, for the reader ("this page" or the report).
    pub source: &'static str,
    pub live: Live,
    pub scene: Scene,
}

/// Zoo-wide figures the story quotes, exactly as `results/REPORT.md` prints them.
pub struct ReportFigures {
    /// "across architectures: mean identification …" of the report's persistence section.
    pub across_architectures: &'static str,
    /// The transfer table's "all" row: rho and p.
    pub transfer_rho: &'static str,
    pub transfer_p: &'static str,
    /// The same, within the convolutional networks.
    pub conv_rho: &'static str,
    pub conv_p: &'static str,
}

pub fn report_figures(d: DatasetId) -> ReportFigures {
    match d {
        DatasetId::Mnist => ReportFigures {
            across_architectures: "mean identification 78% [71, 84] over 34 pairs",
            transfer_rho: "+0.519",
            transfer_p: "≤ 0.0001",
            conv_rho: "+0.016",
            conv_p: "0.41",
        },
        DatasetId::FashionMnist => ReportFigures {
            across_architectures: "mean identification 91% [88, 94] over 34 pairs",
            transfer_rho: "+0.231",
            transfer_p: "0.0046",
            conv_rho: "+0.194",
            conv_p: "0.06",
        },
    }
}

/// Step `n` (1-based) of the story on dataset `d`; `None` outside 1..=[`STEPS`].
pub fn step(n: usize, d: DatasetId) -> Option<Step> {
    let p = d.slug();
    let names = d.class_names();
    let title_d = d.title();
    let mlp = format!("{p}-mlp");
    let robust = format!("{p}-mlp-robust");
    let lenet = format!("{p}-lenet");
    let three = names[3];
    let r = report_figures(d);
    let scene = |model: &str, compare: Option<&str>, input, target, analysis| Scene {
        model: model.to_string(),
        compare: compare.map(str::to_string),
        input,
        target,
        analysis,
    };
    let page = "this page";
    let report = "results/REPORT.md (the whole zoo, 5 seeds)";
    let (title, text, source, live, scene) = match n {
        1 => (
            "A trained network and an empty input".to_string(),
            format!(
                "This fully connected network ({mlp}) learned {title_d} from its 60,000 training images. Its input here is \
                 black: no ink at all, nothing to see. What would the network need to see a class in it? Each column \
                 below is one class it was asked for."
            ),
            page,
            Live::Nothing,
            scene(&mlp, None, InputChoice::Black, None, false),
        ),
        2 => (
            format!("\u{201c}Show me a {three}\u{201d}: minimal evolution"),
            format!(
                "Dough asks the network to see a {three} in the black image, changing it as little as it can: each step moves \
                 the image a small way along the gradient toward {three}, and it stops as soon as the network is 90% sure. \
                 Press Play (Space) to watch the dough being kneaded."
            ),
            page,
            Live::Gallery,
            scene(&mlp, None, InputChoice::Black, Some(3), false),
        ),
        3 => (
            "Ten classes, ten perturbations".to_string(),
            "The same question for every class. Each column's perturbation is all the network needed (orange: ink added, \
             blue: ink removed). They are small, and they are not noise: look for the strokes of each class."
                .to_string(),
            page,
            Live::Gallery,
            scene(&mlp, None, InputChoice::Black, None, false),
        ),
        4 => (
            "The same strokes from another start".to_string(),
            "Now the start is seeded noise. Pixel by pixel the perturbations differ, yet each class's strokes recur: the \
             network asks every input for the same things."
                .to_string(),
            page,
            Live::Gallery,
            scene(&mlp, None, InputChoice::Noise, None, false),
        ),
        5 => (
            "Patterns against the dataset".to_string(),
            "The study attacks five controlled inputs toward every class and abstracts each class's perturbations into one \
             pattern (under each column), then correlates it with the dataset's template of every class. If the pattern of \
             each class matches its own template best, the perturbations carry the class. Two nulls keep it honest: random \
             perturbations of the same sizes, and an untrained network of the same shape."
                .to_string(),
            page,
            Live::Study,
            scene(&mlp, None, InputChoice::Black, None, true),
        ),
        6 => (
            "A robust network".to_string(),
            format!(
                "{robust} was trained on adversarial examples (PGD). To move it, the attack has to draw the class itself: its \
                 perturbations and patterns look like the {}.",
                if d == DatasetId::Mnist { "digits" } else { "garments" }
            ),
            page,
            Live::Study,
            scene(&robust, None, InputChoice::Black, None, true),
        ),
        7 => (
            "Persistence across networks and attacks".to_string(),
            format!(
                "Model B ({lenet}, convolutional) is attacked the same way, and each of A's class patterns is matched \
                 against B's ten. Over the zoo, patterns of different architectures match their own class: across \
                 architectures, {}; between attack methods on one network, 94-100% for the gradient methods (chance: 10%).",
                r.across_architectures
            ),
            report,
            Live::Compare,
            scene(&mlp, Some(&lenet), InputChoice::Black, None, false),
        ),
        8 => (
            "Transfer: do the patterns explain it?".to_string(),
            format!(
                "An adversarial example made on A often fools B too. If the perturbations are class semantics, pairs whose \
                 patterns persist more should transfer more. Over every ordered pair of the zoo: Spearman rho {} (p {}); \
                 within the convolutional networks alone, rho {} (p {}), so the family explains part of it. The zoo \
                 overview below recomputes this in the page.",
                r.transfer_rho, r.transfer_p, r.conv_rho, r.conv_p
            ),
            report,
            Live::Compare,
            scene(&mlp, Some(&lenet), InputChoice::Black, None, false),
        ),
        _ => return None,
    };
    Some(Step { number: n, title, text, source, live, scene })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATASETS: [DatasetId; 2] = [DatasetId::Mnist, DatasetId::FashionMnist];

    #[test]
    fn every_step_exists_and_consecutive_steps_change_the_page() {
        for d in DATASETS {
            assert!(step(0, d).is_none() && step(STEPS + 1, d).is_none());
            let steps: Vec<Step> = (1..=STEPS).map(|n| step(n, d).unwrap()).collect();
            for w in steps.windows(2) {
                // Step 8 keeps step 7's state (its text is the point); every other step moves.
                if w[1].number != 8 {
                    assert_ne!(w[0].scene, w[1].scene, "step {} sets the same state as step {}", w[1].number, w[0].number);
                }
            }
            assert!(steps.iter().all(|s| s.scene.model.starts_with(d.slug())), "{d:?}: a step leaves the dataset");
        }
    }

    #[test]
    fn a_scene_applied_is_shown_and_keeps_the_rest() {
        let mut s = Settings { seed: 42, ..Settings::default() };
        let scene = step(6, DatasetId::FashionMnist).unwrap().scene;
        assert!(!scene.shown_by(&s));
        scene.apply(&mut s);
        assert!(scene.shown_by(&s));
        assert_eq!(s.seed, 42);
        assert_eq!(s.dataset.as_deref(), Some("fashion-mnist"));
        assert_eq!(s.model.as_deref(), Some("fashion-mnist-mlp-robust"));
        assert!(s.analysis);
    }

    #[test]
    fn the_story_names_only_shipped_models() {
        let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../public/models/manifest.json")).unwrap();
        for d in DATASETS {
            for n in 1..=STEPS {
                let sc = step(n, d).unwrap().scene;
                for m in std::iter::once(&sc.model).chain(sc.compare.as_ref()) {
                    assert!(manifest.contains(&format!("\"name\": \"{m}\"")) || manifest.contains(&format!("\"name\":\"{m}\"")), "{m} is not in the manifest");
                }
            }
        }
    }

    /// The quoted zoo-wide figures are the report's: a rerun report that changes them fails here.
    #[test]
    fn quoted_figures_are_the_reports() {
        let report = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../results/REPORT.md")).unwrap();
        let fashion = report.find("\n## Fashion-MNIST").or_else(|| report.find("fashion-mnist-mlp")).expect("the report has a Fashion-MNIST part");
        for d in DATASETS {
            let part = if d == DatasetId::Mnist { &report[..fashion] } else { &report[fashion..] };
            let f = report_figures(d);
            assert!(part.contains(&format!("across architectures: {}", f.across_architectures)), "{d:?}: {}", f.across_architectures);
            assert!(part.contains(&format!("| all | 132 | {} | {} |", f.transfer_rho, f.transfer_p)), "{d:?}: transfer row");
            assert!(part.contains(&format!("| within the convolutional networks | 30 | {} | {} |", f.conv_rho, f.conv_p)), "{d:?}: conv row");
        }
    }
}
