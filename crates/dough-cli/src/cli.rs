//! The command line: one `Command` per subcommand, each with its options and their defaults
//! (`dough-cli <command> --help` prints them). A new command is one variant here, its options
//! struct and one arm in `main`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use dough_core::attack::AttackConfig;
use dough_core::model::ConvSpec;
use dough_core::plant::{Plant, PlantError, PlantKind, Position};
use dough_core::settings::Settings;
use dough_core::study::abstraction::PatternMethod;
use dough_core::suite::AttackMethod;

use crate::values::{self, Arch, Augmentation, Backend, Dataset, GraphicsApi, Input, Matmul, Norm, PackSplit, Schedule, Template};

#[derive(Parser, Debug)]
#[command(name = "dough-cli", version, about, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train every model of the zoo that is missing or out of date, store it in half precision,
    /// measure it and rewrite the manifest
    Zoo(ZooArgs),
    /// Print the accuracy table of the manifest
    Table(TableArgs),
    /// Compute the dataset templates (class mean, contrast, t-statistic) into public/data/
    Templates(TemplatesArgs),
    /// The study of one model: patterns vs dataset templates, with its nulls
    Study(StudyArgs),
    /// The study over every model of the zoo into results/REPORT.md with PNG figures
    Report(ReportArgs),
    /// The zoo overview of a set of models (as the page's overview computes it): persistence and
    /// transfer between every pair, and whether the patterns explain transfer
    Overview(OverviewArgs),
    /// Train a network and add it to the manifest (defaults: the shipped mnist-mlp)
    Train(TrainArgs),
    /// Write a sample pack of test images
    Pack(PackArgs),
    /// Accuracy of a shipped model on the full test set
    Eval(EvalArgs),
    /// Attack a shipped model toward every class and print the gallery's numbers
    Attack(AttackArgs),
    /// Compare mode: model B reads model A's gallery; B's own run on the same start, A's reading
    /// of it, and B's untrained twin; both models' patterns with the persistence identification
    /// and its two nulls (as the page's compare mode)
    Compare(CompareArgs),
    /// The fixed benchmark workload (on the CPU, or with --backend wgpu on the GPU)
    Bench(BenchArgs),
    /// Minimality benchmark: the minimal-norm attacks (untargeted) on the first correctly
    /// classified test images of each model: success rate, L2 / L-inf / L0, iterations, time
    Minimal(MinimalArgs),
    /// The study across attack methods: every method's patterns against the dataset templates
    /// (with the random null) and against each other's (persistence across attacks)
    Attacks(AttacksArgs),
    /// Planted-feature detection over every network of the manifest (clean and planted): per
    /// class the median L2 the attack needs, the anomaly index of the smallest class with its
    /// interval, the patterns' energy on the patch; writes results/PLANTED.md
    PlantCheck(PlantCheckArgs),
    /// Datasets of nothing but dough: D_det and D_rand from a source network's targeted attacks on
    /// training images, fresh networks trained on them (and on their clean controls), tested on
    /// the real test set; writes results/DOUGH_DATA.md
    DoughData(DoughDataArgs),
}

const MODELS: &str = "public/models";
const DATA_ROOT: &str = "../shared/datasets";

impl Command {
    /// The compute backend options of a command that runs networks; `None` for the others.
    pub fn device_options(&self) -> Option<&DeviceOptions> {
        match self {
            Command::Zoo(a) => Some(&a.device),
            Command::Study(a) => Some(&a.device),
            Command::Report(a) => Some(&a.device),
            Command::Overview(a) => Some(&a.device),
            Command::Train(a) => Some(&a.device),
            Command::Eval(a) => Some(&a.device),
            Command::Attack(a) => Some(&a.device),
            Command::Compare(a) => Some(&a.device),
            Command::Bench(a) => Some(&a.device),
            Command::Minimal(a) => Some(&a.device),
            Command::Attacks(a) => Some(&a.device),
            Command::PlantCheck(a) => Some(&a.device),
            Command::DoughData(a) => Some(&a.device),
            Command::Table(_) | Command::Templates(_) | Command::Pack(_) => None,
        }
    }
}

/// The compute backend, shared by every command that runs networks.
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct DeviceOptions {
    /// Compute backend: cpu (Burn's CPU backend, flex) or wgpu (Burn's wgpu backend on the GPU:
    /// Vulkan, Metal or DX12); wgpu without a GPU adapter is an error
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// Matmul routine of the wgpu backend [default: cpu-gemm on SwiftShader, as the browser
    /// worker chooses; auto (Burn's choice) on every other adapter, llvmpipe included]
    #[arg(long, value_enum, value_name = "ROUTINE")]
    pub matmul: Option<Matmul>,
    /// Graphics API of the wgpu backend
    #[arg(long, value_enum, default_value_t = GraphicsApi::Auto)]
    pub graphics_api: GraphicsApi,
}

impl DeviceOptions {
    /// The wgpu-only options are an error with `--backend cpu` (they would do nothing).
    pub fn check(&self) -> Result<(), String> {
        if self.backend == Backend::Cpu {
            if let Some(m) = self.matmul {
                return Err(format!("--matmul {} applies to --backend wgpu only", values::slug(&m)));
            }
            if self.graphics_api != GraphicsApi::Auto {
                return Err(format!("--graphics-api {} applies to --backend wgpu only", values::slug(&self.graphics_api)));
            }
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ZooArgs {
    /// Train every model again, even those already trained
    #[arg(long)]
    pub retrain: bool,
    /// Only these models (comma-separated names)
    #[arg(long, value_delimiter = ',', value_name = "NAME1,NAME2")]
    pub only: Vec<String>,
    /// List the zoo's models and their recipes, train nothing
    #[arg(long)]
    pub list: bool,
    /// The planted networks (a shortcut MLP and a backdoored LeNet per dataset) instead of the
    /// clean zoo
    #[arg(long)]
    pub planted: bool,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    /// Folder holding one IDX folder per dataset
    #[arg(long, default_value = DATA_ROOT)]
    pub data_root: PathBuf,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[derive(Args, Debug)]
pub struct TableArgs {
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
}

#[derive(Args, Debug)]
pub struct TemplatesArgs {
    /// Folder holding one IDX folder per dataset
    #[arg(long, default_value = DATA_ROOT)]
    pub data_root: PathBuf,
}

/// The study's settings, shared by `study` and `report`.
#[derive(Args, Debug)]
pub struct StudyOptions {
    /// Seed of the noise inputs and of the nulls
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most attack steps per input and target
    #[arg(long, default_value_t = AttackConfig::default().max_steps)]
    pub steps: usize,
    /// Abstraction into patterns: mean, topP (e.g. top10: the P% largest pixels) or sign
    #[arg(long, value_parser = values::parse_method, default_value = "mean")]
    pub method: PatternMethod,
    /// Gaussian smoothing of the patterns, in pixels (0: none)
    #[arg(long, default_value_t = 0.0)]
    pub sigma: f32,
    /// The dataset template the patterns are compared with
    #[arg(long, value_enum, default_value_t = Template::Contrast)]
    pub template: Template,
}

#[derive(Args, Debug)]
pub struct StudyArgs {
    /// Name of the model in the manifest
    #[arg(long, default_value = "mnist-mlp")]
    pub model: String,
    #[command(flatten)]
    pub study: StudyOptions,
    /// Repeat the study over this many seeds (1,000 apart) and show each number with its 95% interval
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub seeds: u64,
    /// Print the whole result as JSON
    #[arg(long)]
    pub json: bool,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[derive(Args, Debug)]
pub struct OverviewArgs {
    /// The models (comma-separated names, of one dataset)
    #[arg(long = "model", value_delimiter = ',', value_name = "NAME1,NAME2", default_value = "mnist-mlp,mnist-mlp-robust,mnist-mlp-s2", conflicts_with = "dataset")]
    pub models_list: Vec<String>,
    /// Every model of the clean zoo of this dataset instead (the planted networks are left out)
    #[arg(long, value_enum)]
    pub dataset: Option<Dataset>,
    #[command(flatten)]
    pub study: StudyOptions,
    /// Seeds of the controlled inputs (1,000 apart)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub seeds: u64,
    /// Print the whole overview as JSON
    #[arg(long)]
    pub json: bool,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub study: StudyOptions,
    /// Seeds of the controlled inputs and nulls (1,000 apart): every number gets its 95% interval over them
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub seeds: u64,
    /// Only refresh the attack suite's section (MINIMALITY.md, ATTACKS.md) of an existing REPORT.md
    #[arg(long)]
    pub suite_only: bool,
    /// Folder of REPORT.md and its figures
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Only these models (comma-separated names)
    #[arg(long, value_delimiter = ',', value_name = "NAME1,NAME2")]
    pub only: Vec<String>,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The dataset to train on
    #[arg(long, value_enum, default_value_t = Dataset::Mnist)]
    pub dataset: Dataset,
    /// Folder of the dataset's IDX files [default: ../shared/datasets/<dataset>]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    /// Name of the model [default: <dataset>-<arch>]
    #[arg(long)]
    pub name: Option<String>,
    /// Fully connected (mlp) or convolutional (cnn)
    #[arg(long, value_enum, default_value_t = Arch::Mlp)]
    pub arch: Arch,
    /// Hidden widths of an mlp
    #[arg(long, value_delimiter = ',', default_value = "256,128")]
    pub hidden: Vec<usize>,
    /// Conv layers of a cnn, channels:kernel[:pool] each
    #[arg(long, value_delimiter = ',', value_parser = values::parse_conv, default_value = "32:3,64:3:pool")]
    pub conv: Vec<ConvSpec>,
    /// Dense widths of a cnn after its conv layers
    #[arg(long, value_delimiter = ',', default_value = "128")]
    pub dense: Vec<usize>,
    /// Training epochs
    #[arg(long, default_value_t = 12)]
    pub epochs: usize,
    /// Batch size
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Learning rate (Adam)
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Learning-rate schedule
    #[arg(long, value_enum, default_value_t = Schedule::Cosine)]
    pub schedule: Schedule,
    /// Training augmentation (shift2: random shifts of up to 2 pixels)
    #[arg(long, value_enum, default_value_t = Augmentation::None)]
    pub augmentation: Augmentation,
    /// Seed of the initial weights and the batch order
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Dropout rate
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    /// L-infinity radius of PGD adversarial training (0: standard training)
    #[arg(long, default_value_t = 0.0)]
    pub pgd_eps: f64,
    /// PGD steps per batch in adversarial training
    #[arg(long, default_value_t = 7)]
    pub pgd_steps: usize,
    #[command(flatten)]
    pub plant: PlantOptions,
    #[command(flatten)]
    pub device: DeviceOptions,
}

/// A feature planted in the training data (the page's `train-plant-*` keys).
#[derive(Args, Debug, Clone, PartialEq)]
pub struct PlantOptions {
    /// Plant a feature: none, shortcut (the patch on every training image of --plant-class) or
    /// backdoor (the patch on --plant-share of all training images, relabelled to --plant-class)
    #[arg(long = "plant", value_parser = values::parse_plant_kind, default_value = "none")]
    pub kind: PlantKind,
    /// The planted class (0-9)
    #[arg(long = "plant-class", default_value_t = Plant::default().class)]
    pub class: usize,
    /// Side of the square patch of full ink, in pixels
    #[arg(long = "plant-size", default_value_t = Plant::default().size)]
    pub size: usize,
    /// Where the patch sits: tl, tr, bl, br (a corner, one pixel in from the edges) or ROW:COL
    /// (its top-left pixel)
    #[arg(long = "plant-at", value_parser = values::parse_position, default_value = "br")]
    pub at: Position,
    /// Share of all training images a backdoor stamps and relabels, in (0, 1]
    #[arg(long = "plant-share", default_value_t = Plant::default().share)]
    pub share: f64,
}

impl PlantOptions {
    /// The plant (None: nothing planted); a bad parameter is an error that says what to change.
    pub fn plant(&self) -> Result<Option<Plant>, PlantError> {
        let p = Plant { kind: self.kind, class: self.class, size: self.size, at: self.at, share: self.share };
        if !p.is_planted() {
            return Ok(None);
        }
        p.validate()?;
        Ok(Some(p))
    }
}

#[derive(Args, Debug)]
pub struct PackArgs {
    /// The dataset to sample
    #[arg(long, value_enum, default_value_t = Dataset::Mnist)]
    pub dataset: Dataset,
    /// Folder of the dataset's IDX files [default: ../shared/datasets/<dataset>]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The split to sample: the test split (the page's sample pack) or the training split (the
    /// page's training pack, for "Train your own network")
    #[arg(long, value_enum, default_value_t = PackSplit::Test)]
    pub split: PackSplit,
    /// Images per class [default: 300 of the test split, 2000 of the training split]
    #[arg(long)]
    pub per_class: Option<usize>,
    /// Seed of the random sample per class
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The pack file [default: public/data/<dataset>-samples.dspk, or <dataset>-train.dspk]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Name of the model in the manifest
    #[arg(long, default_value = "mnist-mlp")]
    pub model: String,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    /// Folder of the dataset's IDX files [default: ../shared/datasets/<the model's dataset>]
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[derive(Args, Debug)]
pub struct AttackArgs {
    /// Name of the model in the manifest
    #[arg(long, default_value = "mnist-mlp")]
    pub model: String,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    #[command(flatten)]
    pub attack: AttackOptions,
    #[command(flatten)]
    pub device: DeviceOptions,
}

/// A gallery's start and attack, with the page's settings.
#[derive(Args, Debug, Clone)]
pub struct AttackOptions {
    /// The start: black, gray, white, noise or sample:C:I (image I of class C in the pack)
    #[arg(long, value_parser = values::parse_input, default_value = "black")]
    pub input: Input,
    /// Seed of the noise input (and of the attack's and the nulls' random numbers)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The sample pack of sample:C:I [default: public/data/<dataset>-samples.dspk]
    #[arg(long)]
    pub pack: Option<PathBuf>,
    /// Most steps per target
    #[arg(long, default_value_t = AttackConfig::default().max_steps)]
    pub steps: usize,
    /// Length of each step
    #[arg(long, default_value_t = AttackConfig::default().step_size)]
    pub step_size: f32,
    /// How a step's length is measured
    #[arg(long, value_enum, default_value_t = Norm::L2)]
    pub norm: Norm,
    /// Target confidence at which a target stops
    #[arg(long, default_value_t = AttackConfig::default().kappa)]
    pub kappa: f32,
    /// Take every step, even after the target confidence is reached
    #[arg(long)]
    pub no_early_stop: bool,
    #[command(flatten)]
    pub suite: SuiteOptions,
}

impl AttackOptions {
    /// The attack's settings (the method's random numbers from `--seed`, as the page's).
    pub fn config(&self) -> Result<AttackConfig, String> {
        let cfg = AttackConfig {
            norm: self.norm.into(),
            step_size: self.step_size,
            max_steps: self.steps,
            kappa: self.kappa,
            early_stop: !self.no_early_stop,
            ..AttackConfig::default()
        };
        let mut cfg = self.suite.apply(&cfg)?;
        cfg.suite.seed = self.seed;
        Ok(cfg)
    }
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Model A, whose gallery B reads
    #[arg(long, default_value = "mnist-mlp")]
    pub a: String,
    /// Model B (of A's dataset)
    #[arg(long, default_value = "mnist-mlp-robust")]
    pub b: String,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    #[command(flatten)]
    pub attack: AttackOptions,
    /// Abstraction into patterns: mean, topP (e.g. top10: the P% largest pixels) or sign
    #[arg(long, value_parser = values::parse_method, default_value = "mean")]
    pub method: PatternMethod,
    /// Gaussian smoothing of the patterns, in pixels (0: none)
    #[arg(long, default_value_t = 0.0)]
    pub sigma: f32,
    /// Print the result as JSON (the page's `window.__dough.compare_patterns`, with B's readings)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceOptions,
}

/// The attack method and its parameters, with the page's names (`attack=`, `eps=`, ...).
#[derive(Args, Debug, Clone)]
pub struct SuiteOptions {
    /// Attack method: evolve (minimal evolution), fgsm, bim, pgd, cw, deepfool, jsma or ddn
    #[arg(long = "attack", value_parser = values::parse_attack, default_value = "evolve")]
    pub attack: AttackMethod,
    /// The method's parameters as KEY=VALUE, comma-separated, with the page's URL keys: eps, alpha,
    /// iters, pgd-norm, restarts, cw-c, cw-search, cw-conf, cw-lr, overshoot, jsma-gamma,
    /// jsma-theta, ddn-gamma, ddn-init
    #[arg(long = "param", value_delimiter = ',', value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}

impl SuiteOptions {
    /// `base` with this method and parameters; a bad key or value is an error (the page would
    /// clamp it with a notice).
    pub fn apply(&self, base: &AttackConfig) -> Result<AttackConfig, String> {
        let mut pairs = vec![("attack".to_string(), self.attack.slug().to_string())];
        for p in &self.params {
            let (k, v) = p.split_once('=').ok_or_else(|| format!("--param {p}: expected KEY=VALUE"))?;
            if !AttackMethod::ALL.iter().flat_map(|m| m.params()).any(|q| q.key() == k) {
                return Err(format!("--param {p}: unknown key \"{k}\""));
            }
            pairs.push((k.to_string(), v.to_string()));
        }
        let (s, notices) = Settings::from_query(&pairs);
        if !notices.is_empty() {
            return Err(notices.join("; "));
        }
        Ok(AttackConfig { method: s.attack.method, suite: s.attack.suite, ..base.clone() })
    }
}

#[derive(Args, Debug)]
pub struct MinimalArgs {
    /// Models to measure (comma-separated names)
    #[arg(long = "model", value_delimiter = ',', default_value = "mnist-mlp")]
    pub models_list: Vec<String>,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    /// Folder holding one folder of IDX files per dataset
    #[arg(long, default_value = DATA_ROOT)]
    pub data_root: PathBuf,
    /// Test images per model: the first ones of the test split that the model classifies correctly
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Images per batch
    #[arg(long, default_value_t = 250)]
    pub batch: usize,
    /// Methods (comma-separated)
    #[arg(long, value_delimiter = ',', value_parser = values::parse_attack, default_value = "deepfool,cw,ddn,evolve")]
    pub methods: Vec<AttackMethod>,
    /// Write the table (markdown) to this file too
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[derive(Args, Debug)]
pub struct AttacksArgs {
    /// Models to study (comma-separated names)
    #[arg(long = "model", value_delimiter = ',', default_value = "mnist-mlp,mnist-lenet,mnist-lenet-robust,fashion-mnist-mlp,fashion-mnist-lenet")]
    pub models_list: Vec<String>,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    #[command(flatten)]
    pub study: StudyOptions,
    /// Methods (comma-separated)
    #[arg(long, value_delimiter = ',', value_parser = values::parse_attack, default_value = "evolve,fgsm,bim,pgd,cw,deepfool,jsma,ddn")]
    pub methods: Vec<AttackMethod>,
    /// Write the report (markdown) to this file too
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[derive(Args, Debug)]
pub struct PlantCheckArgs {
    /// Seed of the first noise input (the others follow it), of the bootstrap and of seeded attacks
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Noise inputs beside black and mid-gray
    #[arg(long, default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100))]
    pub noise: usize,
    /// Most steps per input and target (minimal evolution)
    #[arg(long, default_value_t = AttackConfig::default().max_steps)]
    pub steps: usize,
    /// Attack methods, one section each: evolve, cw, deepfool, ddn, ...
    #[arg(long, value_delimiter = ',', value_parser = values::parse_attack, default_value = "evolve")]
    pub methods: Vec<AttackMethod>,
    /// Only these networks (comma-separated names) [default: every network of the manifest]
    #[arg(long, value_delimiter = ',', value_name = "NAME1,NAME2")]
    pub only: Vec<String>,
    /// The report
    #[arg(long, default_value = "results/PLANTED.md")]
    pub out: PathBuf,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[derive(Args, Debug)]
pub struct DoughDataArgs {
    /// Source networks (comma-separated names in the manifest)
    #[arg(long = "source", value_delimiter = ',', value_name = "NAME1,NAME2", default_value = "mnist-mlp,mnist-mlp-robust")]
    pub sources: Vec<String>,
    /// Training images to attack: a seeded subset of the training split (60000: all of it)
    #[arg(long, default_value_t = 5000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(10..=60_000))]
    pub count: usize,
    /// Seed of the subset and of D_rand's targets
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training seeds of the fresh networks (1, 2, ..., N)
    #[arg(long, default_value_t = 3, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=20))]
    pub train_seeds: usize,
    /// Fresh networks: the zoo's mlp and/or lenet (cnn) recipe of the source's dataset
    #[arg(long, value_enum, value_delimiter = ',', default_value = "mlp")]
    pub archs: Vec<Arch>,
    /// Most attack steps per image
    #[arg(long, default_value_t = AttackConfig::default().max_steps)]
    pub steps: usize,
    /// Target confidence at which an image counts as reached (minimal evolution)
    #[arg(long, default_value_t = AttackConfig::default().kappa)]
    pub kappa: f32,
    /// The attack that builds the sets: evolve (minimal evolution to kappa, the default) or,
    /// as Ilyas et al. did, `--attack pgd --param pgd-norm=l2,eps=2,alpha=0.1,iters=100`
    /// (kept when the network's top class is the target); the seed of PGD's random starts is --seed
    #[command(flatten)]
    pub attack: SuiteOptions,
    /// Images per attack batch
    #[arg(long, default_value_t = 500, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub batch: usize,
    /// The report
    #[arg(long, default_value = "results/DOUGH_DATA.md")]
    pub out: PathBuf,
    /// Folder of the weights and manifest.json
    #[arg(long, default_value = MODELS)]
    pub models: PathBuf,
    /// Folder holding one IDX folder per dataset
    #[arg(long, default_value = DATA_ROOT)]
    pub data_root: PathBuf,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The workload's network
    #[arg(value_enum, default_value_t = Arch::Mlp)]
    pub arch: Arch,
    /// Inputs per step (the page's workload has 160: starts at 0.5, targets i mod 10)
    #[arg(long, default_value_t = dough_core::bench::BATCH as u64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch: u64,
    #[command(flatten)]
    pub device: DeviceOptions,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, ValueEnum};

    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("dough-cli").chain(args.iter().copied())).map(|c| c.command)
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_old_parser() {
        let Ok(Command::Train(t)) = parse(&["train"]) else { panic!("train") };
        assert_eq!((t.hidden, t.dense, t.epochs, t.batch, t.seed, t.pgd_steps), (vec![256, 128], vec![128], 12, 128, 1, 7));
        assert_eq!(t.conv.iter().map(|c| (c.channels, c.kernel, c.pool)).collect::<Vec<_>>(), [(32, 3, false), (64, 3, true)]);
        let Ok(Command::Attack(a)) = parse(&["attack"]) else { panic!("attack") };
        let d = AttackConfig::default();
        assert_eq!((a.model.as_str(), a.attack.steps, a.attack.step_size, a.attack.kappa, a.attack.norm, a.attack.no_early_stop), ("mnist-mlp", d.max_steps, d.step_size, d.kappa, Norm::L2, false));
        let Ok(Command::Bench(b)) = parse(&["bench"]) else { panic!("bench") };
        assert_eq!((b.arch, b.batch), (Arch::Mlp, 160));
        assert_eq!(b.device, DeviceOptions::default());
    }

    #[test]
    fn backend_options_on_every_command_that_runs_networks() {
        let cpu = DeviceOptions { backend: Backend::Cpu, matmul: None, graphics_api: GraphicsApi::Auto };
        let wgpu = DeviceOptions { backend: Backend::Wgpu, matmul: Some(Matmul::CpuGemm), graphics_api: GraphicsApi::Vulkan };
        for cmd in ["zoo", "study", "overview", "report", "train", "eval", "attack", "bench", "minimal", "attacks", "plant-check", "dough-data"] {
            assert_eq!(parse(&[cmd]).expect(cmd).device_options(), Some(&cpu), "{cmd}");
            let c = parse(&[cmd, "--backend", "wgpu", "--matmul", "cpu-gemm", "--graphics-api", "vulkan"]).expect(cmd);
            assert_eq!(c.device_options(), Some(&wgpu), "{cmd}");
            assert!(parse(&[cmd, "--backend", "gpu"]).is_err(), "{cmd}");
            assert!(parse(&[cmd, "--backend", "wgpu", "--matmul", "fast"]).is_err(), "{cmd}");
        }
        for cmd in ["table", "templates", "pack"] {
            assert_eq!(parse(&[cmd]).expect(cmd).device_options(), None, "{cmd}");
            assert!(parse(&[cmd, "--backend", "wgpu"]).is_err(), "{cmd}");
        }
    }

    #[test]
    fn wgpu_options_need_the_wgpu_backend() {
        let check = |args: &[&str]| parse(args).expect("parses").device_options().expect("bench").check();
        assert_eq!(check(&["bench"]), Ok(()));
        assert_eq!(check(&["bench", "--backend", "wgpu"]), Ok(()));
        assert_eq!(check(&["bench", "--backend", "wgpu", "--matmul", "naive", "--graphics-api", "gl"]), Ok(()));
        assert!(check(&["bench", "--matmul", "naive"]).unwrap_err().contains("--backend wgpu"));
        assert!(check(&["bench", "--backend", "cpu", "--graphics-api", "vulkan"]).unwrap_err().contains("--backend wgpu"));
    }

    #[test]
    fn matmul_routines_have_the_patched_numbers() {
        // The numbers of `set_cube_matmul_routine` in vendor/burn-cubecl/src/kernel/matmul/base.rs.
        let names: Vec<(String, u8)> = Matmul::value_variants().iter().map(|m| (values::slug(m), m.routine())).collect();
        let expected = [
            ("auto", 0),
            ("simple-unit-max", 1),
            ("simple-unit-min", 2),
            ("double-unit-max", 3),
            ("double-unit-min", 4),
            ("gemm", 5),
            ("naive", 6),
            ("cpu-gemm", 7),
        ];
        assert_eq!(names, expected.map(|(n, r)| (n.to_string(), r)));
        assert_eq!((Matmul::default_for("Google SwiftShader"), Matmul::default_for("llvmpipe (LLVM 15.0.6, 256 bits)"), Matmul::default_for("NVIDIA H200")), (Matmul::CpuGemm, Matmul::Auto, Matmul::Auto));
    }

    #[test]
    fn bench_batch() {
        let Ok(Command::Bench(b)) = parse(&["bench", "cnn", "--batch", "10", "--backend", "wgpu"]) else { panic!("bench") };
        assert_eq!((b.arch, b.batch, b.device.backend), (Arch::Cnn, 10, Backend::Wgpu));
        assert!(parse(&["bench", "--batch", "0"]).is_err());
        assert!(parse(&["bench", "--batch", "x"]).is_err());
    }

    #[test]
    fn switches_and_typed_values() {
        let Ok(Command::Zoo(z)) = parse(&["zoo", "--retrain", "--only", "a,b"]) else { panic!("zoo") };
        assert!(z.retrain && !z.list);
        assert_eq!(z.only, ["a", "b"]);
        let Ok(Command::Study(s)) = parse(&["study", "--json", "--method", "top10", "--template", "t-stat"]) else { panic!("study") };
        assert!(s.json);
        assert_eq!((s.study.method, s.study.template), (PatternMethod::TopMask { percent: 10.0 }, Template::TStat));
        let Ok(Command::Attack(a)) = parse(&["attack", "--input", "sample:3:7"]) else { panic!("attack") };
        assert_eq!(a.attack.input, Input::Sample { class: 3, index: 7 });
        let Ok(Command::Compare(c)) = parse(&["compare", "--b", "mnist-lenet", "--input", "noise", "--seed", "3", "--attack", "pgd"]) else { panic!("compare") };
        assert_eq!((c.a.as_str(), c.b.as_str(), c.attack.input, c.attack.seed), ("mnist-mlp", "mnist-lenet", Input::Noise, 3));
        assert_eq!(c.attack.config().unwrap().suite.seed, 3);
    }

    #[test]
    fn plant_flags_and_their_errors() {
        let plant = |args: &[&str]| {
            let mut all = vec!["train"];
            all.extend_from_slice(args);
            let Ok(Command::Train(t)) = parse(&all) else { panic!("{args:?} parses") };
            t.plant.plant()
        };
        assert_eq!(plant(&[]), Ok(None));
        assert_eq!(
            plant(&["--plant", "backdoor", "--plant-class", "7", "--plant-size", "3", "--plant-at", "2:5", "--plant-share", "0.1"]),
            Ok(Some(Plant { kind: PlantKind::Backdoor, class: 7, size: 3, at: Position::At { row: 2, col: 5 }, share: 0.1 }))
        );
        assert_eq!(plant(&["--plant", "shortcut", "--plant-size", "0"]), Err(PlantError::BadSize(0)));
        assert_eq!(plant(&["--plant", "shortcut", "--plant-size", "30"]), Err(PlantError::BadSize(30)));
        assert_eq!(plant(&["--plant", "shortcut", "--plant-class", "10"]), Err(PlantError::BadClass(10)));
        assert_eq!(plant(&["--plant", "backdoor", "--plant-share", "0"]), Err(PlantError::BadShare(0.0)));
        assert_eq!(plant(&["--plant", "backdoor", "--plant-share", "1.2"]), Err(PlantError::BadShare(1.2)));
        assert_eq!(plant(&["--plant", "shortcut", "--plant-at", "26:1"]), Err(PlantError::Outside { size: 4, row: 26, col: 1 }));
        for bad in [&["train", "--plant", "trojan"][..], &["train", "--plant-at", "middle"], &["train", "--plant-class", "-1"]] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let Ok(Command::Zoo(z)) = parse(&["zoo", "--planted"]) else { panic!("zoo") };
        assert!(z.planted);
    }

    #[test]
    fn rejects_old_syntax_and_typos() {
        for args in [&["zoo", "--list", "yes"][..], &["attack", "--modle", "x"], &["attack", "--norm", "l3"], &["bench", "gpu"], &["train", "--epochs", "x"]] {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }
}
