//! What every property test file shares: [`check`] runs one property with proptest, scaled by
//! `PROPTEST_CASES`, counts the cases it ran (for `ci/fuzz`) and keeps a failing input under
//! `tests/data/regressions/`.
//!
//! Case counts: each property names its cases for a plain `cargo test` (sized so the whole property
//! suite stays well under a minute on 2 cores). `PROPTEST_CASES=N` scales every property by `N / 256`
//! (256 is proptest's own default), so `ci/fuzz` can run far more cases without a fast property taking
//! the time a slow one needs. `PROPTEST_RNG_SEED` fixes the seed (proptest's variable).
//!
//! A failure is written twice under `tests/data/regressions/`: proptest's seed (`properties.seeds`,
//! replayed first by every later run) and the shrunk input itself, readable
//! (`TARGET-UNIXTIME.txt`), to turn into an example-based regression test.

#![allow(dead_code)]

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};
use std::fmt::Debug;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// proptest's default case count, the unit `PROPTEST_CASES` is read against.
const PROPTEST_DEFAULT: u64 = 256;

/// Where failing inputs are kept (relative to the package root, cargo test's working directory).
pub const REGRESSIONS: &str = "tests/data/regressions";

/// The case count of a property whose plain-`cargo test` count is `cases`.
pub fn scaled(cases: u32) -> u32 {
    match std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(n) => (u64::from(cases) * n / PROPTEST_DEFAULT).clamp(1, u64::from(u32::MAX)) as u32,
        None => cases,
    }
}

/// Runs property `target` over `cases` inputs of `strategy` (scaled by `PROPTEST_CASES`). Panics with
/// the shrunk failing input on a failure, after keeping it under [`REGRESSIONS`]. When
/// `STEVEDORE_PROPERTY_LOG` names a file, appends `target<TAB>cases<TAB>millis<TAB>ok|FAIL` to it.
pub fn check<S>(
    target: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let mut config = Config {
        cases: scaled(cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/data/regressions/properties.seeds",
        ))),
        ..Config::default()
    };
    // Shrinking a slow property must not take longer than finding the failure did.
    config.max_shrink_time = 60_000;
    let ran = AtomicU64::new(0);
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |v| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(v)
    });
    let ran = ran.load(Ordering::Relaxed);
    log(target, ran, started.elapsed().as_millis(), result.is_ok());
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, input)) => {
            let kept = keep(target, &reason.to_string(), &format!("{input:#?}"));
            panic!(
                "property {target} failed: {reason}\nminimal input (kept in {kept}): {input:#?}"
            );
        }
        Err(TestError::Abort(reason)) => panic!("property {target} aborted: {reason}"),
    }
}

fn log(target: &str, cases: u64, millis: u128, ok: bool) {
    eprintln!("property {target}: {cases} cases in {millis} ms");
    let Ok(path) = std::env::var("STEVEDORE_PROPERTY_LOG") else {
        return;
    };
    let line = format!(
        "{target}\t{cases}\t{millis}\t{}\n",
        if ok { "ok" } else { "FAIL" }
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Writes a failing input under [`REGRESSIONS`]; returns the file's path.
fn keep(target: &str, reason: &str, input: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = format!("{REGRESSIONS}/{target}-{secs}.txt");
    let _ = std::fs::create_dir_all(REGRESSIONS);
    let _ = std::fs::write(&path, format!("# {target}: {reason}\n{input}\n"));
    path
}

/// Bytes biased towards what breaks parsers: NULs, high bytes, newlines, quotes, braces, backslashes
/// and ASCII, up to `max` long. Expanded from a seed (generating thousands of elements one by one is
/// slower than most properties under test); shrinking shortens them.
pub fn nasty_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    (any_seed(), 0..max).prop_map(|(seed, n)| {
        let mut rng = fastrand::Rng::with_seed(seed);
        const SPECIAL: &[u8] = b"\n\r\t \"'\\{}[]=#:/*?!.-_";
        (0..n)
            .map(|_| match rng.u8(0..12) {
                0..=3 => rng.u8(..),
                4 | 5 => 0,
                6 | 7 => SPECIAL[rng.usize(0..SPECIAL.len())],
                8..=10 => rng.u8(0x20..0x7f),
                _ => rng.u8(0x80..=0xff),
            })
            .collect()
    })
}

/// Text biased the same way as [`nasty_bytes`], valid UTF-8 (with multi-byte characters), up to `max`
/// characters.
pub fn nasty_text(max: usize) -> impl Strategy<Value = String> {
    (any_seed(), 0..max).prop_map(|(seed, n)| {
        let mut rng = fastrand::Rng::with_seed(seed);
        let special: Vec<char> = "\n\r\t \"'\\{}[]=#:/*?!.-_é€😀\u{0}\u{1b}"
            .chars()
            .collect();
        (0..n)
            .map(|_| match rng.u8(0..11) {
                0..=3 => rng.char(..),
                4..=6 => special[rng.usize(0..special.len())],
                _ => rng.char(' '..='~'),
            })
            .collect()
    })
}

fn any_seed() -> impl Strategy<Value = u64> {
    proptest::prelude::any::<u64>().no_shrink()
}
