//! Image archives made here (docker save and OCI layouts, plain, gzip and zstd layers) scanned end to
//! end without a daemon.

use super::*;
use crate::scan::found::Limits;
use std::io::Write;

const KEY: &str = "AKIAZ4QR7TXW2MLPKV3N"; // stevedore:allow (fixture)
const KEY2: &str = "AKIAJ6YH3BVC5NRQ2WXE"; // stevedore:allow (fixture)
const KEY3: &str = "AKIAT2GK7PZM4QXW6RDS"; // stevedore:allow (fixture)

/// A layer tar from (path, content) pairs; a content of `None` is a directory.
fn layer(files: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, c) in files {
        let mut h = tar::Header::new_gnu();
        match c {
            Some(c) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(c.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, p, *c).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn add(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, name, data).unwrap();
}

/// A `docker save` archive: layers written in a scrambled order, manifest last.
fn docker_save(layers: &[Vec<u8>], config: serde_json::Value) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("{:064x}/layer.tar", 0xff - i))
        .collect();
    for i in (0..layers.len()).rev() {
        add(&mut b, &names[i], &layers[i]);
    }
    let mut cfg = config;
    cfg["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": (0..layers.len()).map(|i| format!("sha256:{:064x}", i + 1)).collect::<Vec<_>>()});
    add(
        &mut b,
        &format!("{:064x}.json", 0xc0),
        cfg.to_string().as_bytes(),
    );
    let manifest = serde_json::json!([{"Config": format!("{:064x}.json", 0xc0), "RepoTags": ["t:1"], "Layers": names}]);
    add(&mut b, "manifest.json", manifest.to_string().as_bytes());
    b.into_inner().unwrap()
}

fn scan_bytes(archive: &[u8], skip: &SkipList) -> ImageScan {
    let d = Detector::builtin();
    let limits = Limits::default();
    let s = Scanner {
        detector: &d,
        limits: &limits,
        skip,
        on_bytes: &|_| {},
    };
    s.stream("t:1", archive).unwrap()
}

fn by_path<'a>(r: &'a ImageScan, file: &str) -> &'a Located {
    r.findings
        .iter()
        .find(|f| f.file == file)
        .unwrap_or_else(|| panic!("no finding in {file}: {:?}", r.findings))
}

#[test]
fn deleted_file_is_reported_in_its_layer_as_still_in_the_image() {
    let env = format!("AWS_ACCESS_KEY_ID={KEY}\n");
    let l1 = layer(&[
        ("app/", None),
        ("app/.env", Some(env.as_bytes())),
        ("app/keep", Some(b"x")),
    ]);
    let l2 = layer(&[("app/.wh..env", Some(b""))]);
    let r = scan_bytes(
        &docker_save(&[l1, l2], serde_json::json!({})),
        &SkipList::default(),
    );
    assert_eq!(r.layers, 2);
    let f = by_path(&r, "/app/.env");
    let w = f.image.as_deref().unwrap();
    assert_eq!(w.layer(), Some((1, format!("sha256:{:064x}", 1).as_str())));
    let place = f.place();
    assert!(
        place.contains(
            "layer 1 (sha256:000000000000) /app/.env, deleted by layer 2: still in the image"
        ),
        "{place}"
    );
    assert_eq!(r.stats.files_scanned, 2);
}

#[test]
fn overwritten_opaque_and_visible_files() {
    let k = format!("aws_key = {KEY}\n");
    let k2 = format!("aws_key = {KEY2}\n");
    let l1 = layer(&[
        ("etc/a.conf", Some(k.as_bytes())),
        ("srv/x/b.conf", Some(k2.as_bytes())),
    ]);
    let l2 = layer(&[
        ("etc/a.conf", Some(b"clean")),
        ("srv/x/", None),
        ("srv/x/.wh..wh..opq", Some(b"")),
    ]);
    let r = scan_bytes(
        &docker_save(&[l1, l2], serde_json::json!({})),
        &SkipList::default(),
    );
    let a = by_path(&r, "/etc/a.conf").place();
    assert!(
        a.ends_with("overwritten by layer 2: still in the image"),
        "{a}"
    );
    let b = by_path(&r, "/srv/x/b.conf").place();
    assert!(b.ends_with("deleted by layer 2: still in the image"), "{b}");
    // The same file copied again unchanged in a later layer is reported once, as visible.
    let l1 = layer(&[("etc/a.conf", Some(k.as_bytes()))]);
    let l2 = layer(&[("etc/a.conf", Some(k.as_bytes()))]);
    let r = scan_bytes(
        &docker_save(&[l1, l2], serde_json::json!({})),
        &SkipList::default(),
    );
    assert_eq!(r.findings.len(), 1);
    assert!(
        r.findings[0].place().ends_with("/etc/a.conf"),
        "{}",
        r.findings[0].place()
    );
}

#[test]
fn config_env_labels_cmd_and_history_are_scanned() {
    let cfg = serde_json::json!({
        "config": {
            "Env": ["PATH=/bin", format!("AWS_ACCESS_KEY_ID={KEY}")],
            "Labels": {"deploy.key": KEY2},
        },
        "history": [
            {"created_by": "/bin/sh -c #(nop) COPY file:abc in /"},
            {"created_by": format!("|1 AWS_KEY={KEY3} /bin/sh -c make")},
            {"created_by": format!("/bin/sh -c #(nop)  LABEL deploy.key={KEY2}")},
        ]
    });
    let r = scan_bytes(
        &docker_save(&[layer(&[("a", Some(b"x"))])], cfg),
        &SkipList::default(),
    );
    let env = by_path(&r, "config:Env");
    assert_eq!(env.image.as_deref().unwrap().part, Part::Config("Env"));
    assert!(
        env.image
            .as_deref()
            .unwrap()
            .fix()
            .contains("--mount=type=secret")
    );
    assert_eq!(
        by_path(&r, "config:Labels").image.as_deref().unwrap().part,
        Part::Config("Labels")
    );
    let h = by_path(&r, "config:history");
    assert_eq!(h.image.as_deref().unwrap().part, Part::History(2));
    // The LABEL step's history line repeats the label: reported once.
    assert_eq!(r.findings.len(), 3, "{:?}", r.findings);
}

#[test]
fn gzip_and_zstd_layers_in_an_oci_layout_tar_and_directory() {
    let k = format!("key={KEY}\n");
    let plain = layer(&[("root/.aws/credentials", Some(k.as_bytes()))]);
    let gz = gzip(&plain);
    let zs = zstd::encode_all(
        &layer(&[("opt/z.txt", Some(format!("k={KEY2}\n").as_bytes()))])[..],
        3,
    )
    .unwrap();
    let cfg = br#"{"config":{},"history":[],"rootfs":{"diff_ids":[]}}"#.to_vec();
    let blobs = [("aa01", gz), ("aa02", zs), ("cc", cfg)];
    let manifest = br#"{"schemaVersion":2,"config":{"digest":"sha256:cc"},"layers":[{"digest":"sha256:aa01"},{"digest":"sha256:aa02"}]}"#;
    let index = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:mm"}]}"#;
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add(&mut b, "index.json", index);
    add(&mut b, "blobs/sha256/mm", manifest);
    for (n, d) in &blobs {
        add(&mut b, &format!("blobs/sha256/{n}"), d);
    }
    let r = scan_bytes(&b.into_inner().unwrap(), &SkipList::default());
    assert_eq!(
        by_path(&r, "/root/.aws/credentials")
            .image
            .as_deref()
            .unwrap()
            .layer(),
        Some((1, "sha256:aa01"))
    );
    assert_eq!(
        by_path(&r, "/opt/z.txt").image.as_deref().unwrap().layer(),
        Some((2, "sha256:aa02"))
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
    std::fs::write(dir.path().join("index.json"), index).unwrap();
    std::fs::write(dir.path().join("blobs/sha256/mm"), manifest).unwrap();
    for (n, d) in &blobs {
        std::fs::write(dir.path().join("blobs/sha256").join(n), d).unwrap();
    }
    let d = Detector::builtin();
    let limits = Limits::default();
    let skip = SkipList::default();
    let s = Scanner {
        detector: &d,
        limits: &limits,
        skip: &skip,
        on_bytes: &|_| {},
    };
    let r = s.archive(dir.path()).unwrap();
    assert_eq!(r.findings.len(), 2, "{:?}", r.findings);
}

#[test]
fn skip_list_binary_and_size_limits_are_counted() {
    let k = format!("key={KEY}\n");
    let mut bin = b"\x7fELF\0\0".to_vec();
    bin.extend_from_slice(k.as_bytes());
    let big = format!("{}\n{k}", "x".repeat(20_000_000));
    let l = layer(&[
        ("usr/share/doc/pkg/README", Some(k.as_bytes())),
        ("etc/ssl/certs/ca.pem", Some(k.as_bytes())),
        ("etc/ssl/certs/other.pem", Some(b"x")),
        ("bin/tool", Some(&bin)),
        ("var/big.txt", Some(big.as_bytes())),
    ]);
    let r = scan_bytes(
        &docker_save(&[l], serde_json::json!({})),
        &SkipList::default(),
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(
        r.skipped,
        [
            ("/usr/share/doc/**".to_string(), 1),
            ("/etc/ssl/certs/**".to_string(), 2)
        ]
    );
    assert_eq!(
        (
            r.stats.skipped_binary,
            r.stats.skipped_too_large,
            r.stats.skipped_excluded
        ),
        (1, 1, 3)
    );
    // With the list emptied, the doc file is read.
    let l = layer(&[("usr/share/doc/pkg/README", Some(k.as_bytes()))]);
    let r = scan_bytes(
        &docker_save(&[l], serde_json::json!({})),
        &SkipList::empty(),
    );
    assert_eq!(r.findings.len(), 1);
}

#[test]
fn fingerprint_ignores_the_layer_digest() {
    let k = format!("key={KEY}\n");
    let a = scan_bytes(
        &docker_save(
            &[layer(&[("a.txt", Some(k.as_bytes()))])],
            serde_json::json!({}),
        ),
        &SkipList::default(),
    );
    let b = scan_bytes(
        &docker_save(
            &[
                layer(&[("other", Some(b"x"))]),
                layer(&[("a.txt", Some(k.as_bytes()))]),
            ],
            serde_json::json!({}),
        ),
        &SkipList::default(),
    );
    assert_eq!(a.findings[0].fingerprint, b.findings[0].fingerprint);
    assert_ne!(
        a.findings[0].image.as_deref().unwrap().layer(),
        b.findings[0].image.as_deref().unwrap().layer()
    );
}

#[test]
fn broken_archives_say_what_to_pass() {
    let d = Detector::builtin();
    let limits = Limits::default();
    let skip = SkipList::default();
    let s = Scanner {
        detector: &d,
        limits: &limits,
        skip: &skip,
        on_bytes: &|_| {},
    };
    let e = format!("{:#}", s.stream("x", &b"not a tar at all"[..]).unwrap_err());
    assert!(e.contains("docker save") || e.contains("tar"), "{e}");
    let mut b = tar::Builder::new(Vec::new());
    add(
        &mut b,
        "manifest.json",
        br#"[{"Config":"c.json","Layers":["l/layer.tar"]}]"#,
    );
    add(&mut b, "c.json", b"{}");
    let e = s.stream("x", &b.into_inner().unwrap()[..]).unwrap_err();
    assert!(
        format!("{e:#}").contains("misses layer l/layer.tar"),
        "{e:#}"
    );
    assert_eq!(crate::exit::code_of(&e), crate::exit::ExitCode::Usage);
    let e = s.archive(Path::new("/nonexistent/x.tar")).unwrap_err();
    assert!(format!("{e:#}").contains("docker save"), "{e:#}");
}
