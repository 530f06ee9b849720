//! Properties of the scan engine and the image-layer reader (issue 15): any bytes — invalid UTF-8,
//! NUL-heavy, one huge line, base64 runs — scan without a panic and in bounded time, and a planted key
//! is found whatever noise surrounds it; any archive bytes, and docker-save archives built from
//! generated layers (whiteouts, links, odd names, nested garbage), read without a panic, with a clear
//! error or the planted key found in its layer.

mod properties_support;

use properties_support::{check, nasty_bytes};
use proptest::prelude::*;
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use stevedore::scan::detect::Detector;
use stevedore::scan::found::Limits;
use stevedore::scan::image::{Scanner, SkipList};

static DETECTOR: LazyLock<Detector> = LazyLock::new(Detector::builtin);

/// A fake AWS access key id of the documented format (`AKIA` + 16 of `A-Z2-7`), made at run time so
/// this file holds none.
fn keys() -> impl Strategy<Value = String> {
    "[A-Z2-7]{16}"
        .prop_filter("not a repeated run", |s| {
            let mut c: Vec<char> = s.chars().collect();
            c.sort();
            c.dedup();
            c.len() >= 8
        })
        .prop_map(|s| format!("{}{s}", ["AK", "IA"].concat()))
}

/// Content shaped to stress the engine: random bytes, NUL floods, long lines of one character class,
/// keyword-dense text, base64 runs.
fn contents() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        nasty_bytes(4096),
        (0usize..65_536).prop_map(|n| vec![0u8; n]),
        (
            prop::sample::select(b"aA0+/=_-x \"".to_vec()),
            1usize..200_000
        )
            .prop_map(|(b, n)| vec![b; n]),
        (prop::collection::vec(
            prop::sample::select(vec![
                "password=",
                "token:",
                "api_key ",
                "AKIA",
                "ghp_",
                "secret",
                "-----BEGIN ",
                "eyJ",
                "xoxb-",
                "sk_live_",
                "=",
                "\"",
                "\n",
                "\u{0}",
                "base64,",
                "glpat-",
            ]),
            0..400,
        ))
        .prop_map(|v| v.concat().into_bytes()),
        prop::collection::vec("[A-Za-z0-9+/]{40,200}={0,2}", 0..40)
            .prop_map(|v| v.join("\n").into_bytes()),
    ]
}

/// Generous: a debug build on a loaded 2-core machine scans well over 1 MB a second; a quadratic
/// path on a 200 KB line would take minutes.
fn budget(len: usize) -> Duration {
    Duration::from_secs(5) + Duration::from_micros(len as u64 * 20)
}

#[test]
fn any_content_scans_without_panic_in_bounded_time() {
    check(
        "scan_any_content",
        256,
        (contents(), "[a-z./_-]{1,30}"),
        |(content, path)| {
            let started = Instant::now();
            let found = DETECTOR.scan(&path, None, &content);
            let took = started.elapsed();
            prop_assert!(
                took < budget(content.len()),
                "{} bytes took {:?}",
                content.len(),
                took
            );
            for f in &found {
                prop_assert!(f.start_line >= 1 && f.end_line >= f.start_line, "{:?}", f);
            }
            Ok(())
        },
    );
}

#[test]
fn a_planted_key_is_found_whatever_surrounds_it() {
    check(
        "scan_planted_key",
        256,
        (keys(), nasty_bytes(2000), nasty_bytes(2000)),
        |(key, before, after)| {
            let mut content = before.clone();
            content.extend_from_slice(format!("\naws_access_key_id = {key}\n").as_bytes());
            content.extend_from_slice(&after);
            let found = DETECTOR.scan("config/app.ini", None, &content);
            prop_assert!(
                found.iter().any(|f| f.secret == key),
                "{} not found among {:?}",
                key,
                found
                    .iter()
                    .map(|f| (&f.rule_id, &f.secret))
                    .collect::<Vec<_>>()
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- image archives

fn scan_archive(bytes: &[u8]) -> anyhow::Result<stevedore::scan::image::ImageScan> {
    let limits = Limits {
        threads: 2,
        ..Limits::default()
    };
    let skip = SkipList::empty();
    let s = Scanner {
        detector: &DETECTOR,
        limits: &limits,
        skip: &skip,
        on_bytes: &|_| {},
    };
    s.stream("prop:1", bytes)
}

#[test]
fn any_archive_bytes_read_or_fail_with_a_clear_error() {
    check("image_any_bytes", 1024, nasty_bytes(3000), |bytes| {
        if let Err(e) = scan_archive(&bytes) {
            let msg = format!("{e:#}");
            prop_assert!(!msg.is_empty());
        }
        Ok(())
    });
}

/// One entry of a generated layer: a path from pieces that matter to the reader, and what it is.
#[derive(Clone, Debug)]
enum Entry {
    File(String, Vec<u8>),
    Dir(String),
    Symlink(String, String),
    Hardlink(String, String),
    Whiteout(String),
    Opaque(String),
}

fn layer_paths() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        "[a-z]{1,6}",
        Just("..".to_string()),
        Just(".".to_string()),
        Just("etc".to_string()),
        Just("é".to_string()),
        "[a-z]{90,120}",
    ];
    (any::<bool>(), prop::collection::vec(seg, 1..4))
        .prop_map(|(abs, v)| format!("{}{}", if abs { "/" } else { "" }, v.join("/")))
}

fn entries(key: String) -> impl Strategy<Value = Vec<Entry>> {
    let e = prop_oneof![
        4 => (layer_paths(), nasty_bytes(300)).prop_map(|(p, c)| Entry::File(p, c)),
        1 => layer_paths().prop_map(Entry::Dir),
        1 => (layer_paths(), layer_paths()).prop_map(|(p, t)| Entry::Symlink(p, t)),
        1 => (layer_paths(), layer_paths()).prop_map(|(p, t)| Entry::Hardlink(p, t)),
        1 => layer_paths().prop_map(Entry::Whiteout),
        1 => layer_paths().prop_map(Entry::Opaque),
    ];
    prop::collection::vec(e, 0..8).prop_map(move |mut v| {
        v.push(Entry::File(
            "app/.env".into(),
            format!("AWS_ACCESS_KEY_ID={key}\n").into_bytes(),
        ));
        v
    })
}

fn header(kind: tar::EntryType, size: usize) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size as u64);
    h.set_mode(0o644);
    h
}

/// A layer tar; entries whose names tar refuses (`..`) are written raw into the header.
fn layer_tar(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let (mut h, path, data, link): (tar::Header, String, Vec<u8>, Option<&str>) = match e {
            Entry::File(p, c) => (
                header(tar::EntryType::Regular, c.len()),
                p.clone(),
                c.clone(),
                None,
            ),
            Entry::Dir(p) => (
                header(tar::EntryType::Directory, 0),
                p.clone(),
                vec![],
                None,
            ),
            Entry::Symlink(p, t) => (
                header(tar::EntryType::Symlink, 0),
                p.clone(),
                vec![],
                Some(t),
            ),
            Entry::Hardlink(p, t) => (header(tar::EntryType::Link, 0), p.clone(), vec![], Some(t)),
            Entry::Whiteout(p) => {
                let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
                let w = if dir.is_empty() {
                    format!(".wh.{name}")
                } else {
                    format!("{dir}/.wh.{name}")
                };
                (header(tar::EntryType::Regular, 0), w, vec![], None)
            }
            Entry::Opaque(p) => (
                header(tar::EntryType::Regular, 0),
                format!("{p}/.wh..wh..opq"),
                vec![],
                None,
            ),
        };
        if let Some(t) = link {
            let _ = h.set_link_name(t);
        }
        if h.set_path(&path).is_err() {
            // tar refuses `..` and over-long names here: put the bytes in the header's name field as
            // a hostile archive would.
            let name = &mut h.as_old_mut().name;
            let n = path.len().min(name.len());
            name[..n].copy_from_slice(&path.as_bytes()[..n]);
        }
        h.set_cksum();
        b.append(&h, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

fn add(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = header(tar::EntryType::Regular, data.len());
    h.set_path(name).unwrap();
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// A `docker save` archive of the layers, with a config whose `Env` holds `env`.
fn docker_save(layers: &[Vec<u8>], env: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("{:064x}/layer.tar", i + 1))
        .collect();
    for (n, l) in names.iter().zip(layers) {
        add(&mut b, n, l);
    }
    let cfg = serde_json::json!({
        "config": {"Env": [env]},
        "rootfs": {"type": "layers", "diff_ids": (0..layers.len()).map(|i| format!("sha256:{:064x}", i + 1)).collect::<Vec<_>>()},
        "history": [],
    });
    let cfg_name = format!("{:064x}.json", 0xc0);
    add(&mut b, &cfg_name, cfg.to_string().as_bytes());
    let manifest =
        serde_json::json!([{"Config": cfg_name, "RepoTags": ["prop:1"], "Layers": names}]);
    add(&mut b, "manifest.json", manifest.to_string().as_bytes());
    b.into_inner().unwrap()
}

#[test]
fn a_generated_image_reads_without_panic_and_its_planted_key_is_found() {
    let image = keys().prop_flat_map(|key| {
        (
            Just(key.clone()),
            prop::collection::vec(entries(key), 1..4),
            nasty_bytes(200),
        )
    });
    check("image_generated", 256, image, |(key, layers, env)| {
        let tars: Vec<Vec<u8>> = layers.iter().map(|l| layer_tar(l)).collect();
        let archive = docker_save(&tars, &String::from_utf8_lossy(&env));
        let scan = scan_archive(&archive).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
        prop_assert_eq!(scan.layers, tars.len());
        prop_assert!(
            scan.findings
                .iter()
                .any(|f| f.finding.secret == key && f.file.ends_with("app/.env")),
            "{} not found: {:?}",
            key,
            scan.findings
                .iter()
                .map(|f| (&f.file, &f.finding.secret))
                .collect::<Vec<_>>()
        );
        Ok(())
    });
}

#[test]
fn a_truncated_or_corrupted_image_fails_clearly_or_reads_what_it_can() {
    let image = (
        keys(),
        prop::collection::vec(entries("AKIA".into()), 1..3),
        any::<prop::sample::Index>(),
        any::<u8>(),
    );
    check("image_corrupted", 256, image, |(_key, layers, at, byte)| {
        let tars: Vec<Vec<u8>> = layers.iter().map(|l| layer_tar(l)).collect();
        let mut archive = docker_save(&tars, "A=b");
        let i = at.index(archive.len());
        if byte % 2 == 0 {
            archive.truncate(i);
        } else {
            archive[i] ^= byte | 1;
        }
        if let Err(e) = scan_archive(&archive) {
            let msg = format!("{e:#}");
            prop_assert!(!msg.is_empty());
        }
        Ok(())
    });
}
