//! The page's state that views read: what it is doing, for people and for tests.

/// `data-status` on the app's root element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Loading,
    Running,
    Done,
    /// The user cancelled the run; the gallery keeps the last finished one.
    Cancelled,
    Error,
}

impl Status {
    pub fn slug(self) -> &'static str {
        match self {
            Status::Loading => "loading",
            Status::Running => "running",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
            Status::Error => "error",
        }
    }
}
