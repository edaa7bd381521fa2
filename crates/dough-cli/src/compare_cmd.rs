//! `dough-cli compare`: compare mode natively, through the page's driver
//! (`dough_core::drive::compare`): model A's gallery, B's readings of it, B's own run with A's
//! reading and B's untrained twin, and both models' patterns with the persistence identification
//! and its nulls.

use std::time::Instant;

use dough_compute::network::Network;
use dough_compute::suite::{Goal, Attack};
use dough_core::attack::every_target;
use dough_core::compare::{self, pattern_pair};
use dough_core::drive::compare::{Named, own_run, published, readings};
use dough_core::study::abstraction::Abstraction;
use dough_core::study::stats::p_label;

use crate::cli::CompareArgs;
use crate::report::pct;
use crate::{device, load_manifest, load_model, start_of};

pub fn cmd_compare(a: &CompareArgs) -> Result<(), String> {
    let entries = load_manifest(&a.models)?;
    let (a_entry, a_spec, a_weights) = load_model(&a.models, &a.a)?;
    compare::check(&a.b, entries.iter().find(|e| e.name == a.b).map(|e| e.dataset), &a_entry.name, a_entry.dataset)?;
    let (b_entry, b_spec, b_weights) = load_model(&a.models, &a.b)?;
    let device = device();
    let net_a = Network::new(&a_spec, &a_weights, &device).map_err(|e| e.to_string())?;
    let net_b = Network::new(&b_spec, &b_weights, &device).map_err(|e| e.to_string())?;
    let (input, start) = start_of(&a.attack, &a_entry)?;
    let cfg = a.attack.config()?;
    let abs = Abstraction { method: a.method, sigma: a.sigma };
    let t = Instant::now();
    let (starts, targets) = every_target(&start);
    let goals: Vec<Goal> = targets.into_iter().map(Goal::Toward).collect();
    let a_rows = pollster::block_on(Attack::on(&net_a, &starts, &goals, &cfg).map_err(|e| e.to_string())?.run()).map_err(|e| e.to_string())?;
    let (na, nb) = (Named { name: &a_entry.name, model: &net_a }, Named { name: &b_entry.name, model: &net_b });
    let forward = pollster::block_on(readings(&crate::device::local(), &nb, &a_rows, &|| false)).map_err(|e| e.to_string())?;
    let own = pollster::block_on(own_run(&crate::device::local(), &na, &nb, &a_rows, &cfg, a.attack.seed, &|_| {}, &|| false)).map_err(|e| e.to_string())?.ok_or("compare mode was cancelled")?;
    for n in &own.notes {
        eprintln!("note: {n}");
    }
    let pair = pattern_pair(&a_rows, &own.rows, own.untrained.as_deref(), &abs, a.attack.seed).ok_or("A's and B's galleries are not whole galleries from one start")?;
    if a.json {
        let v = published(&a_entry.name, &b_entry.name, &pair, forward.as_ref(), own.reverse.as_ref());
        println!("{}", serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?);
        return Ok(());
    }
    println!("A {} and B {} from {} with {} ({:.1} s)\n", a_entry.name, b_entry.name, input.describe(), cfg.method.label(), t.elapsed().as_secs_f64());
    println!("target  A steps  A L2   B reads A's (class, p)  B's own L2  A reads B's (class, p)");
    for (i, o) in a_rows.iter().enumerate() {
        let f = forward.as_ref().map(|r| r.rows[i]);
        let r = own.reverse.as_ref().map(|r| r.rows[i]);
        let cell = |x: Option<compare::Reading>| x.map_or("-".to_string(), |x| format!("{}{} {:.3}", x.predicted, if x.fooled { "*" } else { " " }, x.confidence));
        println!("{:>6}  {:>7}  {:>4.2}  {:>22}  {:>10.2}  {:>22}", o.target, o.steps, o.l2, cell(f), own.rows[i].l2, cell(r));
    }
    let fooled = |r: &Option<compare::ModelReadings>| r.as_ref().map_or("-".to_string(), |r| format!("{} of {}", compare::agreement(&r.rows), r.rows.len()));
    println!("\n* = fooled (the example transfers). B is fooled by {} of A's examples; A by {} of B's.", fooled(&forward), fooled(&own.reverse));
    println!("\nPersistence ({}): A's pattern of a class matches B's of the same class best for {} of 10 classes (p {})", abs.describe(), pct(pair.comparison.identification), p_label(pair.p_value));
    println!("  random null: {} (p {})", pct(pair.random_null.identification), p_label(pair.random_null_p_value));
    match (&pair.untrained_null, pair.untrained_null_p_value) {
        (Some(u), Some(p)) => println!("  untrained null: {} (p {})", pct(u.identification), p_label(p)),
        _ => println!("  untrained null: not run"),
    }
    Ok(())
}
