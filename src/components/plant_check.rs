//! The planted-feature check beside the analysis: per class, the median L2 the attack needed from
//! the study's controlled inputs (bars), Neural Cleanse's anomaly index of the smallest class with
//! its bootstrap interval and flag, and for a network that knows its plant whether the check found
//! it, with the patch outlined on that class's pattern.

use leptos::prelude::*;

use dough_core::colormap::{diverging_rgba, symmetric_scale};
use dough_core::model::SIDE;
use dough_core::plant::Plant;
use dough_core::study::plant_check::{FLAG_THRESHOLD, PlantCheck};
use dough_core::study::pipeline::StudyResult;

use super::pixels::PixelImage;

/// `data-plant-flagged` of the root: the flagged class, or `none`.
pub fn flagged_slug(c: &PlantCheck) -> String {
    if c.flagged { c.smallest.to_string() } else { "none".into() }
}

#[component]
pub fn PlantCheckView(
    check: RwSignal<Option<PlantCheck>>,
    plant: Signal<Option<Plant>>,
    result: Memo<Option<StudyResult>>,
    names: Signal<[&'static str; 10]>,
) -> impl IntoView {
    view! {
        {move || check.get().map(|c| {
            let n = names.get();
            let top = c.medians.iter().copied().filter(|v| v.is_finite()).fold(0.0f32, f32::max).max(1e-6);
            let index = if c.anomaly_index.is_finite() { format!("{:.2}", c.anomaly_index) } else { "∞".into() };
            let interval = format!("[{:.2}, {:.2}]", c.interval.0, c.interval.1);
            let verdict = if c.flagged {
                format!("flagged: class {} (anomaly index {index} {interval}, above {FLAG_THRESHOLD}; flagged in {:.0}% of the bootstrap resamples)", n[c.smallest], c.flag_rate * 100.0)
            } else {
                format!("nothing flagged: the smallest, class {}, has anomaly index {index} {interval}, not above {FLAG_THRESHOLD} below the median", n[c.smallest])
            };
            let known = plant.get();
            view! {
                <section class="plant-check" id="plant-check" aria-labelledby="plant-check-title"
                    data-flagged=flagged_slug(&c) data-anomaly=format!("{:.4}", c.anomaly_index) data-smallest=c.smallest>
                    <h3 id="plant-check-title">"Planted-feature check"</h3>
                    <p class="gallery-note">
                        "A feature planted in one class's training data makes that class cheap to reach. Per class: the median L2 the attack needed "
                        "from the study's controlled inputs (every seed's). The anomaly index of the smallest is its distance from the median of the "
                        "ten, in units of 1.4826 × their median absolute deviation (Neural Cleanse); above 2 and below the median, the class is "
                        "flagged. Interval: 95% bootstrap over the inputs."
                    </p>
                    <div class="plant-bars" role="list">
                        {(0..10).map(|k| {
                            let v = c.medians[k];
                            let w = (v / top * 100.0).clamp(0.0, 100.0);
                            view! {
                                <div class="plant-bar" role="listitem" data-class=k class:flagged=c.flagged && k == c.smallest class:smallest=k == c.smallest>
                                    <span class="plant-name">{n[k]}</span>
                                    <span class="plant-track"><span class="plant-fill" style=format!("width:{w:.1}%")></span></span>
                                    <span class="plant-value">{format!("{v:.2}")}</span>
                                </div>
                            }
                        }).collect_view()}
                    </div>
                    <p class="plant-verdict" class:bad=c.flagged>{verdict}</p>
                    {known.map(|p| {
                        let found = c.flagged && c.smallest == p.class;
                        let pattern = result.with(|r| r.as_ref().and_then(|r| r.patterns.get(p.class).cloned()));
                        let origin = p.at.origin(p.size);
                        view! {
                            <p class="plant-known" id="plant-known" data-found=found.to_string()>
                                {format!(
                                    "This network was trained with a {}. {} Its class {} pattern puts {:.0}% of its energy on the patch (the patch is {:.1}% of the image), correlation with the patch {:+.2}.",
                                    p.describe(),
                                    if found {
                                        "The check found it.".to_string()
                                    } else if c.smallest == p.class {
                                        format!("Its class is the cheapest to reach (median L2 {:.2}), but its anomaly index is not above {FLAG_THRESHOLD}: not flagged.", c.medians[p.class])
                                    } else {
                                        format!("The check missed it: the cheapest class is {}.", n[c.smallest])
                                    },
                                    n[p.class],
                                    c.energy_in_patch[p.class] * 100.0,
                                    c.patch_area * 100.0,
                                    c.patch_correlation[p.class]
                                )}
                            </p>
                            {pattern.zip(origin).map(|(pat, (r0, c0))| {
                                let pct = |v: usize| v as f32 / SIDE as f32 * 100.0;
                                view! {
                                    <div class="plant-pattern">
                                        <PixelImage rgba=diverging_rgba(&pat, symmetric_scale(&pat)) alt=format!("pattern of class {} with the planted patch outlined", n[p.class]) tile="plant-pattern"/>
                                        <div class="plant-outline" aria-hidden="true"
                                            style=format!("left:{:.2}%;top:{:.2}%;width:{:.2}%;height:{:.2}%", pct(c0), pct(r0), pct(p.size), pct(p.size))></div>
                                    </div>
                                }
                            })}
                        }
                    })}
                </section>
            }
        })}
    }
}
