//! How the page's pool of workers shares one attack: the rows of a batch are cut into
//! contiguous slices, one per worker, and the slices' results are put back together in row
//! order, with progress and the step playback's frames as one worker would have reported them.
//! Every row of an attack moves on its own (its own step size, its own early stop), so a row's
//! outcome does not depend on which slice it ran in.

use std::ops::Range;

use crate::protocol::JobProgress;

/// `n` rows cut into at most `k` contiguous slices whose sizes differ by at most one (none
/// empty; fewer slices than `k` when there are fewer rows).
pub fn slices(n: usize, k: usize) -> Vec<Range<usize>> {
    let k = k.clamp(1, n.max(1));
    let (base, extra) = (n / k, n % k);
    let mut at = 0;
    (0..k)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let r = at..at + len;
            at += len;
            r
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// The progress of a whole attack from its slices' latest reports.
pub fn combine_progress(parts: &[JobProgress]) -> JobProgress {
    JobProgress {
        step: parts.iter().map(|p| p.step).max().unwrap_or(0),
        max_steps: parts.iter().map(|p| p.max_steps).max().unwrap_or(0),
        finished_samples: parts.iter().map(|p| p.finished_samples).sum(),
        samples: parts.iter().map(|p| p.samples).sum(),
    }
}

/// The step playback's frames of a whole attack from its slices' frames (`slices[s]`: that
/// slice's `(step, rows x 784)` frames, its last one at the step where it finished).
///
/// One worker records a frame every `stride` steps while any row moves, and one at its last
/// step; a row that has finished keeps its final image. So the merged frame at step `t` takes,
/// from each slice, its frame at the largest step <= `t`. The steps are every slice's steps
/// except a slice's own last step when another slice went on longer (one worker would not have
/// recorded it), plus the last step of all.
pub fn merge_frames(slices: &[Vec<(usize, Vec<f32>)>]) -> Vec<(usize, Vec<f32>)> {
    let last = slices.iter().filter_map(|f| f.last().map(|(s, _)| *s)).max();
    let Some(last) = last else { return Vec::new() };
    let mut steps: Vec<usize> = Vec::new();
    for f in slices {
        let own_last = f.last().map(|(s, _)| *s);
        for (s, _) in f {
            if Some(*s) != own_last || *s == last {
                steps.push(*s);
            }
        }
    }
    steps.push(last);
    steps.sort_unstable();
    steps.dedup();
    steps
        .into_iter()
        .map(|t| {
            let mut frame = Vec::new();
            for f in slices {
                // A slice has a frame at step 0, so one at or before `t` exists; an empty slice
                // (no frames) adds nothing.
                if let Some((_, x)) = f.iter().rev().find(|(s, _)| *s <= t).or(f.first()) {
                    frame.extend_from_slice(x);
                }
            }
            (t, frame)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PIXELS;

    #[test]
    fn slices_cover_every_row_once_in_order() {
        for n in [1, 2, 9, 10, 11, 50, 100] {
            for k in 1..=8 {
                let s = slices(n, k);
                assert_eq!(s.len(), k.min(n), "n {n} k {k}");
                assert_eq!(s.first().unwrap().start, 0);
                assert_eq!(s.last().unwrap().end, n);
                assert!(s.windows(2).all(|w| w[0].end == w[1].start));
                let lens: Vec<usize> = s.iter().map(|r| r.len()).collect();
                assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1, "{lens:?}");
            }
        }
        assert!(slices(0, 3).is_empty());
    }

    #[test]
    fn progress_adds_up_the_slices() {
        let a = JobProgress { step: 4, max_steps: 100, finished_samples: 2, samples: 5 };
        let b = JobProgress { step: 9, max_steps: 100, finished_samples: 5, samples: 5 };
        assert_eq!(combine_progress(&[a, b]), JobProgress { step: 9, max_steps: 100, finished_samples: 7, samples: 10 });
    }

    /// A simulated attack: row r moves by 1 per step until step `stop[r]`. One worker with
    /// every row, against two slices merged: the same frames.
    #[test]
    fn merged_frames_equal_one_workers_frames() {
        let stop = [3usize, 7, 12, 5, 9];
        let stride = 2;
        let value = |r: usize, t: usize| (t.min(stop[r]) as f32) + 100.0 * r as f32;
        let record = |rows: &[usize]| -> Vec<(usize, Vec<f32>)> {
            let end = rows.iter().map(|&r| stop[r]).max().unwrap();
            let frame = |t: usize| rows.iter().flat_map(|&r| vec![value(r, t); PIXELS]).collect::<Vec<f32>>();
            let mut f = vec![(0, frame(0))];
            for t in 1..end {
                if t % stride == 0 {
                    f.push((t, frame(t)));
                }
            }
            f.push((end, frame(end)));
            f
        };
        let one = record(&[0, 1, 2, 3, 4]);
        let merged = merge_frames(&[record(&[0, 1]), record(&[2, 3, 4])]);
        assert_eq!(merged.iter().map(|(s, _)| *s).collect::<Vec<_>>(), one.iter().map(|(s, _)| *s).collect::<Vec<_>>());
        assert_eq!(merged, one);
        let three = merge_frames(&[record(&[0]), record(&[1, 2]), record(&[3, 4])]);
        assert_eq!(three, one);
        assert_eq!(three[0].1.len() / PIXELS, 5);
    }
}
