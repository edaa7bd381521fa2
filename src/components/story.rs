//! The guided story's panel: the step's title and paragraph (from `dough_core::story`), what the
//! page itself measured for it, where the paragraph's numbers come from, and the way on (buttons,
//! or the keys ← → and Esc).

use leptos::prelude::*;

use dough_core::manifest::DatasetId;
use dough_core::story::{self, STEPS};

#[component]
pub fn StoryPanel(
    step: Signal<Option<usize>>,
    dataset: Signal<DatasetId>,
    /// What this page computed for the step (none yet: it is still running).
    live: Signal<Option<String>>,
    on_go: Callback<usize>,
    on_leave: Callback<()>,
) -> impl IntoView {
    view! {
        {move || step.get().and_then(|n| story::step(n, dataset.get())).map(|s| {
            let n = s.number;
            view! {
                <section class="story" id="story" data-story-step=n aria-labelledby="story-title" aria-live="polite">
                    <div class="story-head">
                        <span class="story-count">{format!("Step {n} of {STEPS}")}</span>
                        <h2 id="story-title">{s.title.clone()}</h2>
                    </div>
                    <p class="story-text">{s.text.clone()}</p>
                    {move || live.get().map(|l| view! { <p class="story-live" id="story-live">{l}</p> })}
                    <p class="story-source">{format!("Numbers in the paragraph: {}.", s.source)}</p>
                    <div class="story-nav">
                        <button type="button" class="secondary" id="story-back" disabled=n == 1 aria-keyshortcuts="ArrowLeft"
                            on:click=move |_| on_go.run(n - 1)>"← Back"</button>
                        <button type="button" id="story-next" disabled=n == STEPS aria-keyshortcuts="ArrowRight"
                            on:click=move |_| on_go.run(n + 1)>"Next →"</button>
                        <button type="button" class="secondary" id="story-leave" aria-keyshortcuts="Escape"
                            on:click=move |_| on_leave.run(())>"Leave the story (Esc)"</button>
                    </div>
                </section>
            }
        })}
    }
}
