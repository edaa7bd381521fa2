//! `--backend` end to end, through the built binary: a wgpu backend that cannot start is an
//! error with a message, never a panic, whether or not this machine has a GPU adapter.

use std::process::Command;

fn dough_cli(args: &[&str]) -> (Option<i32>, String) {
    let empty = std::env::temp_dir().join(format!("dough-cli-backend-test-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dough-cli"))
        .args(args)
        .arg("--models")
        .arg(&empty)
        .output()
        .expect("runs dough-cli");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `eval` of a model that does not exist starts the backend first: without an adapter that
/// fails with "no GPU adapter found" (exit 1); with one (a GPU, or Mesa's llvmpipe) stderr names
/// the adapter and the missing model fails (exit 1). A panic would exit with 101.
#[test]
fn wgpu_without_an_adapter_is_an_error_not_a_panic() {
    let (code, stderr) = dough_cli(&["eval", "--model", "no-such-model", "--backend", "wgpu"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let no_adapter = stderr.contains("error: no GPU adapter found: ") && stderr.contains("; use --backend cpu");
    let built_without = stderr.contains("built without the wgpu feature");
    let started = stderr.contains("backend: wgpu/") && stderr.contains("error: no model \"no-such-model\"");
    assert!(no_adapter || built_without || started, "{stderr}");
}

/// The same error path, deterministic everywhere but on macOS: a graphics API this build lacks.
#[cfg(not(target_os = "macos"))]
#[test]
fn wgpu_on_an_api_this_build_lacks_is_an_error() {
    let (code, stderr) = dough_cli(&["eval", "--model", "no-such-model", "--backend", "wgpu", "--graphics-api", "metal"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("error: no GPU adapter found: ") && stderr.contains("Metal") && stderr.contains("; use --backend cpu")
            || stderr.contains("built without the wgpu feature"),
        "{stderr}"
    );
}

#[test]
fn wgpu_options_with_the_cpu_are_an_error() {
    let (code, stderr) = dough_cli(&["eval", "--model", "no-such-model", "--matmul", "cpu-gemm"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error: --matmul cpu-gemm applies to --backend wgpu only"), "{stderr}");
    let (code, stderr) = dough_cli(&["eval", "--model", "no-such-model"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error: no model \"no-such-model\"") && !stderr.contains("backend:"), "{stderr}");
}
