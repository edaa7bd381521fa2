//! `dough-worker-cpu`: the compute worker with the CPU backend only (built with
//! `--no-default-features`; the page starts it whenever the CPU runs).

fn main() {
    dough_worker::start();
}
