//! `dough-worker`: the compute worker with the WebGPU backend only (the page starts
//! `dough-worker-cpu` when WebGPU will not start).

fn main() {
    dough_worker::start();
}
