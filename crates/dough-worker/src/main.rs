//! `dough-worker`: the compute worker with WebGPU and the CPU backend.

fn main() {
    dough_worker::start();
}
