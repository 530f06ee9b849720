//! stevedore's own image: the Dockerfile's final stage, built FROM scratch on the real daemon from a
//! static binary compiled on this host (`ci/test-image`), runs `stevedore --version` and `stevedore scan`
//! with no network, and stays within 15 MB (issue 12.4: the `dist` profile of Cargo.toml).

mod common;

use std::process::Command;

/// The size budget of the image (gitleaks' binary alone is 22 MB): 15 MB, binary and CA certificates.
const MAX_IMAGE_BYTES: u64 = 15_000_000;

#[test]
fn the_final_stage_runs_the_static_binary_and_stays_small() {
    common::require_docker();
    let base = common::busybox_image();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/ci/test-image"))
        .env("SHELL_IMAGE", base)
        .output()
        .expect("run ci/test-image");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ci/test-image failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("test-image: --version: stevedore "),
        "{stdout}"
    );
    assert!(stdout.contains("scan in the image exited 0"), "{stdout}");
    assert!(stdout.contains("ci target: stevedore "), "{stdout}");
    assert!(stdout.contains("names resolve in the image"), "{stdout}");
    let size: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("image size: "))
        .and_then(|s| s.trim_end_matches(" bytes").parse().ok())
        .unwrap_or_else(|| panic!("no image size in:\n{stdout}"));
    println!("stevedore image: {size} bytes");
    assert!(
        size <= MAX_IMAGE_BYTES,
        "the image is {size} bytes, over the {MAX_IMAGE_BYTES}-byte budget"
    );
}
