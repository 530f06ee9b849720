//! Where in an image a finding is, and what to do about it.

/// Where in an image a finding is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Where {
    /// The image reference or archive path the scan was given.
    pub image: String,
    /// Which part of the image.
    pub part: Part,
}

/// The part of an image a finding is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// A file of a layer.
    Layer {
        /// 1-based index of the layer, base first.
        index: usize,
        /// The layer's digest (`sha256:…`: the diff id for `docker save`, the blob digest for OCI).
        digest: String,
        /// The later layer that deleted or replaced the file, if one did.
        gone: Option<Gone>,
    },
    /// A field of the image config: `Env`, `Labels`, `Cmd` or `Entrypoint`.
    Config(&'static str),
    /// The `created_by` of a history entry (1-based step), where build arguments used by `RUN` show.
    History(usize),
}

/// A later layer hid a file: the bytes are still in the layer below.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gone {
    /// 1-based index of the layer that hid it.
    pub layer: usize,
    /// True when it deleted the file (whiteout, opaque directory); false when it wrote a new file there.
    pub deleted: bool,
}

impl Where {
    /// The place in words, e.g. `app:1 layer 3 (sha256:ab…) /app/.env, deleted by layer 4: still in the
    /// image`.
    pub fn describe(&self, path: &str) -> String {
        match &self.part {
            Part::Layer {
                index,
                digest,
                gone,
            } => {
                let mut s = format!("{} layer {index} ({}) {path}", self.image, short(digest));
                if let Some(g) = gone {
                    s.push_str(&format!(
                        ", {} by layer {}: still in the image",
                        if g.deleted { "deleted" } else { "overwritten" },
                        g.layer
                    ));
                }
                s
            }
            Part::Config(field) => format!("{} config {field}", self.image),
            Part::History(step) => format!("{} history step {step} (created_by)", self.image),
        }
    }

    /// What to do, printed with the finding.
    pub fn fix(&self) -> &'static str {
        match &self.part {
            Part::Layer { gone: Some(_), .. } => {
                "a later `RUN rm` (or overwrite) does not remove a file from the layer below: keep it out of the build context (.dockerignore) or use `RUN --mount=type=secret,id=NAME` with `docker build --secret id=NAME,src=FILE`; rotate the credential"
            }
            Part::Layer { .. } => {
                "the file is copied into the image: keep it out of the build context (.dockerignore) or use `RUN --mount=type=secret,id=NAME` with `docker build --secret id=NAME,src=FILE`; rotate the credential"
            }
            Part::Config("Env") => {
                "an ENV value is in the image config for every puller: set it at run time (the deploy environment), or for the build use `RUN --mount=type=secret,id=NAME,env=NAME`; rotate the credential"
            }
            Part::Config(_) => {
                "image labels and commands are readable by every puller: pass the value at run time instead; rotate the credential"
            }
            Part::History(_) => {
                "build arguments used by a RUN stay in the image history: use `RUN --mount=type=secret,id=NAME,env=NAME` with `docker build --secret id=NAME,env=NAME` instead of --build-arg; rotate the credential"
            }
        }
    }

    /// The layer's index and digest, for layer findings.
    pub fn layer(&self) -> Option<(usize, &str)> {
        match &self.part {
            Part::Layer { index, digest, .. } => Some((*index, digest.as_str())),
            _ => None,
        }
    }
}

/// `sha256:` and the first 12 hex digits.
pub fn short(digest: &str) -> String {
    let (algo, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    format!("{algo}:{}", &hex[..hex.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_deleted_files_as_still_there() {
        let w = Where {
            image: "app:1".into(),
            part: Part::Layer {
                index: 3,
                digest: format!("sha256:{}", "ab".repeat(32)),
                gone: Some(Gone {
                    layer: 4,
                    deleted: true,
                }),
            },
        };
        assert_eq!(
            w.describe("/app/.env"),
            "app:1 layer 3 (sha256:abababababab) /app/.env, deleted by layer 4: still in the image"
        );
        assert!(w.fix().contains("--mount=type=secret"));
        let h = Where {
            image: "app:1".into(),
            part: Part::History(5),
        };
        assert!(h.fix().contains("--build-arg"));
        assert_eq!(
            h.describe("config:history"),
            "app:1 history step 5 (created_by)"
        );
    }
}
