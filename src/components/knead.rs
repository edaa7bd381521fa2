//! Watch it knead: plays a run's recorded frames on the hero's columns at a speed a room can
//! follow (the whole run in about two seconds by default; Play or Space, a speed choice, a
//! scrubber). With `prefers-reduced-motion` the end state shows at once.

use leptos::prelude::*;

/// Playback state shared by the bar, the Space shortcut and the end of a run.
#[derive(Clone, Copy)]
pub struct Knead {
    pub frames: RwSignal<Vec<(usize, Vec<f32>)>>,
    /// The frame shown; `None`: the end state.
    pub frame: RwSignal<Option<usize>>,
    pub playing: RwSignal<bool>,
    /// Seconds for the whole run.
    pub seconds: RwSignal<f64>,
}

/// The speeds offered: seconds for the whole run.
const SPEEDS: [(f64, &str); 4] = [(1.0, "1 s"), (2.0, "2 s"), (4.0, "4 s"), (8.0, "8 s")];

impl Knead {
    pub fn new(frames: RwSignal<Vec<(usize, Vec<f32>)>>, frame: RwSignal<Option<usize>>) -> Self {
        Self { frames, frame, playing: RwSignal::new(false), seconds: RwSignal::new(2.0) }
    }

    /// Plays from the start (or pauses a playback in progress). Reduced motion: the end state.
    pub fn toggle(self) {
        if self.playing.get_untracked() {
            return self.playing.set(false);
        }
        self.play();
    }

    pub fn play(self) {
        let n = self.frames.with_untracked(|f| f.len());
        if n < 2 {
            return;
        }
        if crate::platform::reduced_motion() {
            self.playing.set(false);
            return self.frame.set(None);
        }
        self.playing.set(true);
        let frames = self.frames;
        leptos::task::spawn_local(async move {
            let t0 = crate::platform::now_ms();
            let first = self.frame.get_untracked().filter(|&i| i + 1 < n).unwrap_or(0);
            let mut shown = usize::MAX;
            loop {
                if !self.playing.get_untracked() || frames.with_untracked(|f| f.len()) != n {
                    return;
                }
                let total_ms = self.seconds.get_untracked() * 1000.0;
                let elapsed = crate::platform::now_ms() - t0;
                let i = first + ((elapsed / total_ms) * (n - 1) as f64) as usize;
                if i >= n - 1 {
                    break;
                }
                if i != shown {
                    self.frame.set(Some(i));
                    shown = i;
                }
                crate::platform::sleep_ms(16).await;
            }
            self.frame.set(None);
            self.playing.set(false);
        });
    }
}

#[component]
pub fn KneadBar(knead: Knead) -> impl IntoView {
    let Knead { frames, frame, playing, seconds } = knead;
    let last = move || frames.with(|f| f.len().saturating_sub(1));
    let at = move || frame.get().unwrap_or_else(last);
    view! {
        <Show when=move || frames.with(|f| f.len() > 1)>
            <div class="scrubber" id="scrubber" data-playing=move || playing.get().to_string()>
                <button type="button" class="secondary" id="play" aria-keyshortcuts="Space" on:click=move |_| knead.toggle()>
                    {move || if playing.get() { "Pause" } else { "▶ Play the kneading (Space)" }}
                </button>
                <input id="scrub" type="range" min="0" step="1" aria-label="step of the evolution"
                    prop:max=move || last().to_string()
                    prop:value=move || at().to_string()
                    on:input=move |ev| {
                        playing.set(false);
                        let i: Option<usize> = event_target_value(&ev).parse().ok();
                        frame.set(i.filter(|&i| i < last()));
                    }/>
                <span id="scrub-step" aria-live="off">{move || format!("step {}", frames.with(|f| f.get(at()).map_or(0, |x| x.0)))}</span>
                <label class="inline speed">
                    "whole run in "
                    <select id="knead-speed" on:change=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { seconds.set(v); } }>
                        {SPEEDS.map(|(v, label)| view! { <option value=v.to_string() selected=move || seconds.get() == v>{label}</option> }).collect_view()}
                    </select>
                </label>
            </div>
        </Show>
    }
}
