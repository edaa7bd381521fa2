//! Keyboard shortcuts and presentation mode: one key for a full-screen, high-contrast, large-type
//! view; keys for next class, run, cancel, switch model, swap the compared models; "?" lists them.

use leptos::ev;
use leptos::prelude::*;

/// What a key asks the page to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    TogglePresentation,
    ToggleHelp,
    Run,
    Cancel,
    NextClass,
    PreviousClass,
    NextModel,
    SwitchDataset,
    Study,
    SwapModels,
    Overview,
    /// Play the kneading (or pause it).
    Play,
    /// Start the guided story, or leave it.
    Tour,
    /// → and ←: the story's next and previous step while it runs, else the next and previous class.
    Forward,
    Back,
    /// Light or dark colours.
    ToggleTheme,
}

pub const SHORTCUTS: [(&str, &str); 14] = [
    ("P", "presentation mode on/off (full screen, large type, high contrast)"),
    ("T", "the guided story (tour) on/off"),
    ("→ / ←", "in the story: next / previous step; otherwise next / previous class"),
    ("N / B", "next / previous class: highlight its column"),
    ("Space", "play the kneading: the run's steps on the columns"),
    ("L", "light or dark colours"),
    ("R", "run the gallery again"),
    ("C or Esc", "cancel the run (Esc also closes this list, or leaves the story keeping its state)"),
    ("M", "switch to the next model of this dataset"),
    ("D", "switch dataset"),
    ("A", "run the study (analysis)"),
    ("X", "compare mode: swap models A and B"),
    ("O", "compute the zoo overview (the networks ticked there)"),
    ("?", "show or hide this list"),
];

fn command_for(key: &str) -> Option<Command> {
    Some(match key {
        "p" | "P" => Command::TogglePresentation,
        "?" => Command::ToggleHelp,
        "r" | "R" => Command::Run,
        "c" | "C" | "Escape" => Command::Cancel,
        "n" | "N" => Command::NextClass,
        "b" | "B" => Command::PreviousClass,
        "ArrowRight" => Command::Forward,
        "ArrowLeft" => Command::Back,
        " " => Command::Play,
        "t" | "T" => Command::Tour,
        "l" | "L" => Command::ToggleTheme,
        "m" | "M" => Command::NextModel,
        "d" | "D" => Command::SwitchDataset,
        "a" | "A" => Command::Study,
        "x" | "X" => Command::SwapModels,
        "o" | "O" => Command::Overview,
        _ => return None,
    })
}

/// Listens for shortcut keys on the window (not while typing in a field).
pub fn listen(on_command: Callback<Command>) {
    let handle = window_event_listener(ev::keydown, move |e| {
        if e.ctrl_key() || e.meta_key() || e.alt_key() {
            return;
        }
        let typing = e
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
            .map(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"))
            .unwrap_or(false);
        if typing && e.key() != "Escape" {
            return;
        }
        // Space on a focused button or summary is that control's own click.
        let control = e
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "BUTTON" | "SUMMARY" | "A"));
        if control && e.key() == " " {
            return;
        }
        if let Some(c) = command_for(&e.key()) {
            e.prevent_default();
            on_command.run(c);
        }
    });
    // The page lives as long as the app; keep the listener.
    std::mem::forget(handle);
}

#[component]
pub fn ShortcutHelp(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <Show when=move || open.get()>
            <div class="shortcuts" id="shortcuts" role="dialog" aria-label="Keyboard shortcuts">
                <h2>"Keyboard shortcuts"</h2>
                <dl>
                    {SHORTCUTS.iter().map(|(k, what)| view! { <dt><kbd>{*k}</kbd></dt><dd>{*what}</dd> }).collect_view()}
                </dl>
                <button type="button" on:click=move |_| open.set(false)>"Close"</button>
            </div>
        </Show>
    }
}

/// Enters or leaves the browser's full screen (where allowed; the CSS mode works without it).
pub fn fullscreen(on: bool) {
    let doc = crate::platform::window().document();
    let Some(doc) = doc else { return };
    if on {
        if let Some(el) = doc.document_element() {
            let _ = el.request_fullscreen();
        }
    } else if doc.fullscreen_element().is_some() {
        doc.exit_fullscreen();
    }
}
