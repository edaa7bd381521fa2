//! Typed values of the command-line options: the fixed choices (`clap::ValueEnum`, each mapped to
//! its `dough_core` type or to the name the core stores) and the parsers of the structured ones.

use clap::ValueEnum;
use dough_core::attack::StepNorm;
use dough_core::inputs::ControlledInput;
use dough_core::manifest::{ArchKind, DatasetId};
use dough_core::model::ConvSpec;
use dough_core::study::abstraction::PatternMethod;
use dough_core::study::templates::TemplateKind;

/// The name a value is written with on the command line (`fashion-mnist`, `t-stat`, ...).
pub fn slug<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value().expect("no hidden values").get_name().to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Dataset {
    Mnist,
    FashionMnist,
}

impl From<Dataset> for DatasetId {
    fn from(d: Dataset) -> Self {
        match d {
            Dataset::Mnist => DatasetId::Mnist,
            Dataset::FashionMnist => DatasetId::FashionMnist,
        }
    }
}

/// The split a sample pack is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PackSplit {
    Test,
    Train,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    Mlp,
    Cnn,
}

impl From<Arch> for ArchKind {
    fn from(a: Arch) -> Self {
        match a {
            Arch::Mlp => ArchKind::Mlp,
            Arch::Cnn => ArchKind::Cnn,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Norm {
    L2,
    Linf,
}

impl From<Norm> for StepNorm {
    fn from(n: Norm) -> Self {
        match n {
            Norm::L2 => StepNorm::L2,
            Norm::Linf => StepNorm::Linf,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Template {
    ClassMean,
    Contrast,
    TStat,
}

impl From<Template> for TemplateKind {
    fn from(t: Template) -> Self {
        match t {
            Template::ClassMean => TemplateKind::ClassMean,
            Template::Contrast => TemplateKind::Contrast,
            Template::TStat => TemplateKind::TStat,
        }
    }
}

/// The learning-rate schedule; the core stores its name (`ModelConfig::schedule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Schedule {
    Cosine,
    Constant,
}

/// The training augmentation; the core stores its name (`ModelConfig::augmentation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Augmentation {
    None,
    Shift2,
}

/// `mean`, `sign` or `topP` (P: the percent of pixels kept, e.g. `top10`).
pub fn parse_method(s: &str) -> Result<PatternMethod, String> {
    match s {
        "mean" => Ok(PatternMethod::MeanUnit),
        "sign" => Ok(PatternMethod::Sign),
        m if m.starts_with("top") => {
            Ok(PatternMethod::TopMask { percent: m[3..].parse().map_err(|_| format!("bad method \"{m}\" (e.g. top10)"))? })
        }
        m => Err(format!("unknown method \"{m}\" (mean, topP, sign)")),
    }
}

/// The controlled input of `attack`; noise takes its seed from `--seed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    Black,
    Gray,
    White,
    Noise,
    Sample { class: u8, index: usize },
}

impl Input {
    pub fn controlled(self, seed: u64) -> ControlledInput {
        match self {
            Input::Black => ControlledInput::Black,
            Input::Gray => ControlledInput::Gray,
            Input::White => ControlledInput::White,
            Input::Noise => ControlledInput::Noise { seed },
            Input::Sample { class, index } => ControlledInput::Sample { class, index },
        }
    }
}

/// `black`, `gray`, `white`, `noise` or `sample:C:I` (image I of class C in the sample pack).
pub fn parse_input(s: &str) -> Result<Input, String> {
    Ok(match s {
        "black" => Input::Black,
        "gray" => Input::Gray,
        "white" => Input::White,
        "noise" => Input::Noise,
        other => match other.split(':').collect::<Vec<_>>().as_slice() {
            ["sample", c, i] => Input::Sample {
                class: c.parse().map_err(|_| format!("bad class \"{c}\""))?,
                index: i.parse().map_err(|_| format!("bad index \"{i}\""))?,
            },
            _ => return Err(format!("unknown input \"{other}\" (black, gray, white, noise, sample:C:I)")),
        },
    })
}

/// One conv layer written as `channels:kernel[:pool]`, e.g. `64:3:pool`.
pub fn parse_conv(layer: &str) -> Result<ConvSpec, String> {
    let parts: Vec<&str> = layer.split(':').collect();
    let num = |i: usize| {
        parts.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| format!("bad conv layer \"{layer}\" (channels:kernel[:pool])"))
    };
    Ok(ConvSpec { channels: num(0)?, kernel: num(1)?, pool: parts.get(2) == Some(&"pool") })
}

/// What `--plant` plants: none, shortcut or backdoor.
pub fn parse_plant_kind(s: &str) -> Result<dough_core::plant::PlantKind, String> {
    dough_core::plant::PlantKind::parse(s).ok_or_else(|| format!("unknown plant \"{s}\" (none, shortcut or backdoor)"))
}

/// Where `--plant-at` puts the patch: tl, tr, bl, br (a corner, one pixel in) or ROW:COL.
pub fn parse_position(s: &str) -> Result<dough_core::plant::Position, String> {
    dough_core::plant::Position::parse(s).ok_or_else(|| format!("bad patch position \"{s}\" (tl, tr, bl, br or ROW:COL)"))
}

/// An attack method by its page name (`evolve`, `fgsm`, `bim`, `pgd`, `cw`, `deepfool`, `jsma`, `ddn`).
pub fn parse_attack(s: &str) -> Result<dough_core::suite::AttackMethod, String> {
    dough_core::suite::AttackMethod::parse(s).ok_or_else(|| {
        format!("unknown attack \"{s}\" (one of {})", dough_core::suite::AttackMethod::ALL.map(|m| m.slug()).join(", "))
    })
}

/// The compute backend of the commands that run networks: Burn's CPU backend (flex), or Burn's
/// wgpu backend natively (Vulkan, Metal or DX12; OpenGL where nothing else answers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    #[default]
    Cpu,
    Wgpu,
}

/// The matmul routine of the wgpu backend without autotune, with the numbers of the patched
/// burn-cubecl's `set_cube_matmul_routine` (vendor/burn-cubecl/PATCH.md). `Auto` is Burn's own
/// choice; a routine that cannot take a problem falls back to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Matmul {
    /// Burn's default (cubek's `Auto`; without autotune it runs `SimpleUnit`)
    Auto = 0,
    /// cubek's SimpleUnit, largest tiles
    SimpleUnitMax = 1,
    /// cubek's SimpleUnit, smallest tiles
    SimpleUnitMin = 2,
    /// cubek's DoubleUnit, largest tiles
    DoubleUnitMax = 3,
    /// cubek's DoubleUnit, smallest tiles
    DoubleUnitMin = 4,
    /// cubek's gemm without stage
    Gemm = 5,
    /// cubek's naive matmul
    Naive = 6,
    /// cubek's tiled CPU gemm (register-blocked, no barriers; the worker's choice on software adapters)
    CpuGemm = 7,
}

// Used by the wgpu backend only (and the tests).
#[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
impl Matmul {
    /// `set_cube_matmul_routine`'s number for this routine.
    pub fn routine(self) -> u8 {
        self as u8
    }

    /// The routine used when `--matmul` is not given, the faster one measured per adapter class:
    /// the CPU gemm on SwiftShader (2.5-3x faster there, the browser worker's choice,
    /// crates/dough-worker/src/device.rs), Burn's own choice elsewhere: on llvmpipe the CPU gemm
    /// took 267 ms per `bench mlp --batch 10` step against 29.4 for `auto` (README), and no
    /// hardware adapter has been measured yet.
    pub fn default_for(adapter_name: &str) -> Self {
        if adapter_name.to_lowercase().contains("swiftshader") { Matmul::CpuGemm } else { Matmul::Auto }
    }
}

/// The graphics API of the wgpu backend: `auto` tries Vulkan, then DX12, then OpenGL (Metal on
/// macOS), preferring an API with a hardware adapter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum GraphicsApi {
    #[default]
    Auto,
    Vulkan,
    Metal,
    Dx12,
    Gl,
}
