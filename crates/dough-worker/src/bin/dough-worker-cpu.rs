//! `dough-worker-cpu`: the compute worker with the CPU backend only (built with
//! `--no-default-features --features cpu`; the page starts it whenever the CPU runs).

fn main() {
    dough_worker::start();
}
