//! Compare mode's driver: model B's readings of model A's gallery; then B's own run (the
//! gallery's attack from the gallery's start on B), model A's reading of B's own examples (the
//! reverse direction) and the same attack on an untrained network of B's shape (the untrained
//! null). Its statistics are [`crate::compare::pattern_pair`], computed in a worker in the page.

use crate::attack::{AttackConfig, SampleOutcome};
use crate::compare::{self, ModelReadings, PatternPair};
use crate::study::pipeline;

use super::{Compute, DriveError, Progress, Run, attack_in_pieces, piece_count, read};

/// A model of the pair: its name and model.
pub struct Named<'a, M> {
    pub name: &'a str,
    pub model: &'a M,
}

/// B's own run of the gallery's attack on the gallery's input.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnRun {
    pub model: String,
    pub rows: Vec<SampleOutcome>,
    /// The reverse direction: model A's readings of B's own adversarial examples (`None` if A
    /// could not read them).
    pub reverse: Option<ModelReadings>,
    /// The same attack from the same input on an untrained network of B's architecture (the
    /// untrained null of the persistence; `None` if that run failed).
    pub untrained: Option<Vec<SampleOutcome>>,
    /// Why a part is missing, for the page's notices.
    pub notes: Vec<String>,
}

fn adversarial(rows: &[SampleOutcome]) -> (Vec<f32>, Vec<usize>) {
    (rows.iter().flat_map(|o| o.adversarial.iter().copied()).collect(), rows.iter().map(|o| o.target).collect())
}

async fn readings_in<C: Compute>(c: &C, run: &Run<'_>, reader: &Named<'_, C::Model>, rows: &[SampleOutcome]) -> Result<Option<ModelReadings>, C::Error> {
    let (images, targets) = adversarial(rows);
    let Some(p) = read(c, run, reader.model, &images, &format!("{} reads the examples", reader.name)).await? else { return Ok(None) };
    let rows = compare::readings(&p, &targets).map_err(DriveError::Answer)?;
    Ok(Some(ModelReadings { model: reader.name.to_string(), rows }))
}

/// `reader`'s readings of `rows`' adversarial examples (B's readings of A's gallery); `None`
/// when cancelled or when there are no rows.
pub async fn readings<C: Compute>(c: &C, reader: &Named<'_, C::Model>, rows: &[SampleOutcome], cancelled: &dyn Fn() -> bool) -> Result<Option<ModelReadings>, C::Error> {
    if rows.is_empty() {
        return Ok(None);
    }
    let run = Run::new(c.lanes(), 0, 1, &|_| {}, cancelled);
    readings_in(c, &run, reader, rows).await
}

/// B's own run on the start and targets of A's gallery `a_rows` with the attack `cfg`, A's
/// reverse reading, and B's untrained twin (weights from `pipeline::untrained_seed(seed)`).
/// B's own attack must succeed; the reverse reading and the twin are left out, with a note, when
/// they fail in a way the compute can carry on from. `None` when cancelled.
pub async fn own_run<C: Compute>(
    c: &C,
    a: &Named<'_, C::Model>,
    b: &Named<'_, C::Model>,
    a_rows: &[SampleOutcome],
    cfg: &AttackConfig,
    seed: u64,
    progress: &dyn Fn(&Progress),
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<OwnRun>, C::Error> {
    let starts: Vec<Vec<f32>> = a_rows.iter().map(|o| o.start.clone()).collect();
    let targets: Vec<usize> = a_rows.iter().map(|o| o.target).collect();
    let run = Run::new(c.lanes(), 2 * piece_count(c, starts.len()), 1, progress, cancelled);
    let own = async {
        let Some(rows) = attack_in_pieces(c, &run, b.model, None, &starts, &targets, cfg, &format!("attacking {}", b.name)).await? else { return Ok(None) };
        let reverse = readings_in(c, &run, a, &rows).await;
        Ok::<_, C::Error>(Some((rows, reverse)))
    };
    let twin_label = format!("attacking {}'s untrained twin", b.name);
    let twin = attack_in_pieces(c, &run, b.model, Some(pipeline::untrained_seed(seed)), &starts, &targets, cfg, &twin_label);
    let (own, twin) = futures::future::join(own, twin).await;
    let Some((rows, reverse)) = own? else { return Ok(None) };
    let mut notes = Vec::new();
    let Some(reverse) = optional(c, reverse, &mut notes, |e| format!("Model A ({}) could not read B's examples: {e}", a.name))? else { return Ok(None) };
    let Some(untrained) = optional(c, twin, &mut notes, |e| format!("The untrained null of model B ({}) failed: {e}; its row is left out.", b.name))? else { return Ok(None) };
    if run.cancelled() {
        return Ok(None);
    }
    Ok(Some(OwnRun { model: b.name.to_string(), rows, reverse, untrained, notes }))
}

/// An optional part's answer: `Some(Some(value))`; `Some(None)` (with a note) when it failed in a
/// way the compute can carry on from; the error when it cannot; `None` when cancelled.
fn optional<C: Compute, T>(c: &C, r: Result<Option<T>, C::Error>, notes: &mut Vec<String>, note: impl FnOnce(&C::Error) -> String) -> Result<Option<Option<T>>, C::Error> {
    match r {
        Ok(Some(v)) => Ok(Some(Some(v))),
        Ok(None) => Ok(None),
        Err(e) if c.can_leave_out(&e) => {
            notes.push(note(&e));
            Ok(Some(None))
        }
        Err(e) => Err(e),
    }
}

/// Compare mode's numbers as the page publishes them (`window.__dough.compare_patterns`) and
/// `dough-cli compare --json` prints them: the pair's matrix and nulls with their p-values, B's
/// readings of A's gallery (`forward`) and A's of B's own run (`reverse`).
pub fn published(a_model: &str, b_model: &str, pair: &PatternPair, forward: Option<&ModelReadings>, reverse: Option<&ModelReadings>) -> serde_json::Value {
    serde_json::json!({
        "a_model": a_model,
        "b_model": b_model,
        "matrix": pair.comparison.matrix,
        "identification": pair.comparison.identification,
        "p_value": pair.p_value,
        "random_null": pair.random_null,
        "random_null_p_value": pair.random_null_p_value,
        "untrained_null": pair.untrained_null,
        "untrained_null_p_value": pair.untrained_null_p_value,
        "forward": forward,
        "reverse": reverse,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::every_target;
    use crate::drive::fake::{Fake, block_on};

    fn gallery(model: u64) -> Vec<SampleOutcome> {
        let (starts, targets) = every_target(&[0.5; crate::model::PIXELS]);
        starts.iter().zip(&targets).map(|(s, &t)| Fake::outcome(model, None, s, t)).collect()
    }

    #[test]
    fn own_run_is_bs_attack_with_as_reverse_reading_and_bs_twin() {
        let a_rows = gallery(0);
        let (a, b) = (Named { name: "a", model: &0u64 }, Named { name: "b", model: &1u64 });
        let c = Fake::new(2);
        let own = block_on(own_run(&c, &a, &b, &a_rows, &AttackConfig::default(), 3, &|_| {}, &|| false)).unwrap().unwrap();
        assert_eq!(own.rows, gallery(1));
        let twin: Vec<SampleOutcome> = a_rows.iter().map(|o| Fake::outcome(1, Some(pipeline::untrained_seed(3)), &o.start, o.target)).collect();
        assert_eq!(own.untrained.as_deref(), Some(&twin[..]));
        let reverse = own.reverse.unwrap();
        assert_eq!(reverse.model, "a");
        let (images, targets) = adversarial(&gallery(1));
        let p: Vec<f32> = images.chunks(crate::model::PIXELS).flat_map(|i| Fake::probs(0, i)).collect();
        assert_eq!(reverse.rows, compare::readings(&p, &targets).unwrap());
        assert_eq!((c.attacks(), c.readings(), c.max_in_flight()), (2, 1, 2), "B's run and its twin side by side");
        assert!(own.notes.is_empty());
        // B's readings of A's gallery.
        let r = block_on(readings(&c, &b, &a_rows, &|| false)).unwrap().unwrap();
        assert_eq!(r.rows.len(), 10);
        assert!(block_on(readings(&c, &b, &[], &|| false)).unwrap().is_none());
    }

    #[test]
    fn a_failed_twin_or_reverse_reading_is_left_out_with_a_note_and_a_failed_own_run_is_an_error() {
        let a_rows = gallery(0);
        let (a, b) = (Named { name: "a", model: &0u64 }, Named { name: "b", model: &1u64 });
        // The twin is the second attack to start.
        let c = Fake::new(2).fail_at(2);
        let own = block_on(own_run(&c, &a, &b, &a_rows, &AttackConfig::default(), 3, &|_| {}, &|| false)).unwrap().unwrap();
        assert!(own.untrained.is_none() && own.reverse.is_some());
        assert!(own.notes[0].contains("untrained null of model B (b) failed: attack 2 failed"), "{:?}", own.notes);
        let c = Fake::new(2).fail_readings();
        let own = block_on(own_run(&c, &a, &b, &a_rows, &AttackConfig::default(), 3, &|_| {}, &|| false)).unwrap().unwrap();
        assert!(own.reverse.is_none() && own.untrained.is_some() && own.notes[0].contains("could not read"));
        let c = Fake::new(2).fail_at(1);
        assert!(block_on(own_run(&c, &a, &b, &a_rows, &AttackConfig::default(), 3, &|_| {}, &|| false)).is_err());
        let c = Fake::new(2).cancel_at(2);
        assert!(block_on(own_run(&c, &a, &b, &a_rows, &AttackConfig::default(), 3, &|_| {}, &|| false)).unwrap().is_none());
    }
}
