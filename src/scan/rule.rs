//! The shape of a detection rule and of a finding, shared by the built-in rule set, gitleaks
//! configurations and the detector.

/// Which text an allowlist's `regexes` are matched against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RegexTarget {
    /// The captured secret (gitleaks' default).
    #[default]
    Secret,
    /// The whole rule match.
    Match,
    /// The whole line the match is on.
    Line,
}

/// An allowlist: matches that satisfy it are not findings. Same meaning as gitleaks'
/// `[[rules.allowlists]]` and global `[allowlist]`.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    /// Why the allowlist exists.
    pub description: String,
    /// `true`: every non-empty criterion must match (gitleaks `condition = "AND"`); `false`: any one (OR).
    pub condition_and: bool,
    /// Regular expressions matched against [`Allowlist::regex_target`].
    pub regexes: Vec<String>,
    /// What `regexes` are matched against.
    pub regex_target: RegexTarget,
    /// Regular expressions matched against the file path.
    pub paths: Vec<String>,
    /// Words that, found in the secret (case-insensitive), allow it.
    pub stopwords: Vec<String>,
    /// Commit SHAs whose findings are allowed.
    pub commits: Vec<String>,
}

/// A check of a secret and the note a finding carries when the check fails.
pub type NoteUnless = (fn(&str) -> bool, &'static str);

/// One detection rule.
#[derive(Clone, Debug, Default)]
pub struct Rule {
    /// Stable identifier, e.g. `gitlab-pat` (also gitleaks' `RuleID`).
    pub id: String,
    /// What the rule finds, for people.
    pub description: String,
    /// The pattern (Rust `regex` syntax). `None` for a path-only rule.
    pub regex: Option<String>,
    /// The capture group holding the secret; `None`: the first group if any, else the whole match.
    pub secret_group: Option<usize>,
    /// Minimum Shannon entropy of the secret, when set.
    pub entropy: Option<f64>,
    /// Keywords (lower-case) of which one must appear near a match; the prefilter. Empty: always run.
    pub keywords: Vec<String>,
    /// Regular expression the file path must match, when set.
    pub path: Option<String>,
    /// Free-form tags carried into reports.
    pub tags: Vec<String>,
    /// Allowlists specific to this rule.
    pub allowlists: Vec<Allowlist>,
    /// Built-in rules only: an extra check of the candidate secret (a checksum, a shape).
    pub validate: Option<fn(&str) -> bool>,
    /// Built-in rules only: a check whose failure does not drop the finding but notes it (a GitHub
    /// token whose checksum does not match is still a GitHub token: a typo, a test value, or real).
    pub note_unless: Option<NoteUnless>,
}

/// A secret found in one piece of content.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The rule that matched.
    pub rule_id: String,
    /// The rule's description.
    pub description: String,
    /// 1-based line where the match starts.
    pub start_line: usize,
    /// 1-based line where the match ends.
    pub end_line: usize,
    /// 1-based column (in bytes) where the match starts on its line.
    pub start_column: usize,
    /// 1-based column (in bytes) where the match ends on its line.
    pub end_column: usize,
    /// The secret itself (redact before showing it anywhere).
    pub secret: String,
    /// The whole rule match (redact before showing it anywhere).
    pub matched: String,
    /// Shannon entropy of the secret.
    pub entropy: f64,
    /// The rule's tags.
    pub tags: Vec<String>,
}
