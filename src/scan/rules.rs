//! The built-in rule set, written from each provider's documented token format.
//!
//! Three shapes of rule:
//! - **token**: a token with its own distinctive prefix (`ghp_`, `glpat-`, `xoxb-`, …), found anywhere;
//! - **context**: a provider keyword in a name (`SUMO_TOKEN`, `"linkedin_secret":`) assigned a value
//!   of the provider's documented shape;
//! - **generic**: any secret-like name (`…_password`, `apiKey`, `client_secret`) assigned a
//!   high-entropy literal — the net under everything else.
//!
//! Every built-in rule also carries a [`Meta`] (its noise-control family and window) that the
//! detector looks up with [`builtin_meta`].

mod checks;
mod list_ai_obs;
mod list_chat_pay;
mod list_cloud;
mod list_code;
mod list_config;
mod list_generic;
mod list_misc;
mod views;

use super::detect::{Candidate, Kind, Meta};
use super::rule::Rule;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The tag of a rule whose findings are low severity (see [`Def::severity_low`]).
pub const SEVERITY_LOW: &str = "severity:low";

/// A rule under construction together with its meta.
pub(crate) struct Def {
    pub rule: Rule,
    pub meta: Meta,
}

impl Def {
    /// Sets the entropy floor.
    pub fn entropy(mut self, e: f64) -> Def {
        self.rule.entropy = Some(e);
        self
    }
    /// Notes (in the finding's description and a `note:` tag) a secret that fails `f`, instead of
    /// dropping it.
    pub fn note_unless(mut self, f: fn(&str) -> bool, note: &'static str) -> Def {
        self.rule.note_unless = Some((f, note));
        self
    }

    /// Sets the secret's validity check (a checksum).
    pub fn validate(mut self, f: fn(&str) -> bool) -> Def {
        self.rule.validate = Some(f);
        self
    }
    /// Sets a check of the whole candidate.
    pub fn check(mut self, f: fn(&Candidate) -> bool) -> Def {
        self.meta.check = Some(f);
        self
    }
    /// Widens the window by lines before and after the keyword's line.
    pub fn lines(mut self, before: u8, after: u16) -> Def {
        self.meta.before = before;
        self.meta.after = after;
        self
    }
    /// Marks a finding of this rule as low severity (tag [`SEVERITY_LOW`]): a publishable key that
    /// is worth knowing about, not a leaked secret. Reports say so (GitLab `Low`, SARIF `note`).
    pub fn severity_low(mut self) -> Def {
        self.rule.tags.push(SEVERITY_LOW.into());
        self
    }
    /// Sets the noise-control family.
    pub fn kind(mut self, k: Kind) -> Def {
        self.meta.kind = k;
        self
    }
    /// Restricts the rule to paths matching `re`.
    pub fn path(mut self, re: &str) -> Def {
        self.rule.path = Some(re.to_string());
        self
    }
    /// Sets the secret group.
    pub fn group(mut self, g: usize) -> Def {
        self.rule.secret_group = Some(g);
        self
    }
}

/// Makes a regex fast and byte-oriented: ASCII classes and word boundaries.
fn ascii(re: &str) -> String {
    format!("(?-u){re}")
}

/// Helpers for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) mod checks_for_tests {
    /// A GitHub-format token with a valid checksum, generated from `seed`.
    pub fn github_token(prefix: &str, seed: u64) -> String {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let random: String = (0..30)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                alphabet[(x % 62) as usize] as char
            })
            .collect();
        format!(
            "{prefix}{random}{}",
            super::checks::base62(crc32fast::hash(random.as_bytes()), 6)
        )
    }
}

pub(crate) use checks::token_name;
pub(crate) use views::views;

fn provider_tag(id: &str) -> String {
    id.split('-').next().unwrap_or(id).to_string()
}

/// A token with a distinctive prefix, reported wherever it appears. `re` should hold the token in
/// group 1 (or be the token).
pub(crate) fn token(id: &str, description: &str, keywords: &[&str], re: &str) -> Def {
    Def {
        rule: Rule {
            id: id.into(),
            description: description.into(),
            regex: Some(ascii(re)),
            keywords: keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
            tags: vec![provider_tag(id), "token".into()],
            ..Rule::default()
        },
        meta: Meta::TOKEN,
    }
}

/// The glue between a name and its value: the rest of the identifier (starting at a camelCase or
/// separator boundary, so `sumo` does not match `sumOf`), closing quotes, an optional
/// type word, an assignment operator (`=`, `:=`, `:`, `=>`, `->`, `<-`, `?=`, `||=`, `,` or the `>` of
/// an XML element) and an opening quote, allowing one line break (YAML, XML).
pub(crate) const GLUE: &str = r#"(?:[A-Z0-9_.\-][\w.\-]{0,30}?)?(?:(?:["'`\]]{1,2}[ \t]{0,4}|[ \t]{0,4})(?:(?:=|:=|::=|:::=|\.=|\+=|=>|->|<-|\?=|\|\|=|,)[ \t]{0,4}|(?::|>)[ \t]{0,4}(?:\r?\n[ \t]{0,40})?)|[ \t]{1,4}[A-Za-z]{1,10}[ \t]{0,4}(?:=|:=)[ \t]{0,4})["'`]?"#;

/// What may follow a value.
pub(crate) const END: &str = r#"(?:["'`\s;,<\\)\]}&|]|$)"#;

/// A value of a provider's shape assigned to a name containing one of `names` (literal, matched
/// case-insensitively; they are also the rule's keywords). `value` is the value's regex (no groups).
pub(crate) fn context(id: &str, description: &str, names: &[&str], value: &str) -> Def {
    let re = format!(r"{}{GLUE}({value}){END}", name_start(names));
    Def {
        rule: Rule {
            id: id.into(),
            description: description.into(),
            regex: Some(ascii(&re)),
            keywords: names.iter().map(|k| k.to_ascii_lowercase()).collect(),
            tags: vec![provider_tag(id), "keyword".into()],
            ..Rule::default()
        },
        meta: Meta {
            kind: Kind::Context,
            before: 0,
            after: 1,
            // A UUID under an `…_ID` name is an id, except for the rules that report client ids.
            check: (!id.ends_with("-id")).then_some(checks::not_an_id as fn(&Candidate) -> bool),
        },
    }
}

/// Matches one of `names` (case-insensitively) where a name starts: after a non-letter, or as a
/// capitalised camelCase part (`myEtsyToken`), never inside a word (`SetSysctl`, `rookTable`).
pub(crate) fn name_start(names: &[&str]) -> String {
    let alt = names
        .iter()
        .map(|n| regex::escape(n))
        .collect::<Vec<_>>()
        .join("|");
    let camel = names
        .iter()
        .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .flat_map(|n| {
            let mut cap = n.to_string();
            cap[..1].make_ascii_uppercase();
            [regex::escape(&cap), regex::escape(&n.to_ascii_uppercase())]
        })
        .collect::<Vec<_>>()
        .join("|");
    if camel.is_empty() {
        format!(r"(?:^|[^A-Za-z])(?i:{alt})")
    } else {
        format!(r"(?:(?:^|[^A-Za-z])(?i:{alt})|[a-z](?:{camel}))")
    }
}

/// A rule written out in full (structured material such as private keys).
pub(crate) fn raw(id: &str, description: &str, keywords: &[&str], re: &str) -> Def {
    token(id, description, keywords, re).kind(Kind::Raw)
}

/// A rule that reports a file by its path alone.
pub(crate) fn path_only(id: &str, description: &str, path: &str) -> Def {
    Def {
        rule: Rule {
            id: id.into(),
            description: description.into(),
            path: Some(path.into()),
            tags: vec!["file".into()],
            ..Rule::default()
        },
        meta: Meta {
            kind: Kind::Raw,
            before: 0,
            after: 0,
            check: None,
        },
    }
}

fn defs() -> &'static [Def] {
    static DEFS: OnceLock<Vec<Def>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let mut all = Vec::new();
        all.extend(list_cloud::rules());
        all.extend(list_code::rules());
        all.extend(list_chat_pay::rules());
        all.extend(list_ai_obs::rules());
        all.extend(list_misc::rules());
        all.extend(list_config::rules());
        all.extend(list_generic::rules());
        all
    })
}

/// Provider names whose context rules expect a structured value (`<bot id>:<secret>` for Telegram):
/// a value assigned to such a name without that structure is not the provider's secret, and the
/// generic rule leaves it alone. Providers whose values are plain runs of one alphabet are not here:
/// the generic rule stays the net for their variants.
pub(crate) fn provider_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<String> = defs()
            .iter()
            .filter(|d| d.meta.kind == Kind::Context)
            .filter(|d| d.rule.regex.as_deref().is_some_and(structured_value))
            .flat_map(|d| d.rule.keywords.iter())
            .filter(|k| k.len() >= 5 && k.bytes().all(|b| b.is_ascii_lowercase()))
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    })
}

/// True when the value part of a context rule's regex has a separator (`:`, `-`, `.`) outside its
/// character classes.
fn structured_value(re: &str) -> bool {
    let Some(at) = re.find(GLUE) else {
        return false;
    };
    let value = &re[at + GLUE.len()..];
    let value = value.strip_suffix(END).unwrap_or(value);
    let mut depth = 0;
    let mut escaped = false;
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' | '-' | '.' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// Every built-in rule.
pub fn builtin_rules() -> Vec<Rule> {
    defs().iter().map(|d| d.rule.clone()).collect()
}

/// The meta of a built-in rule, when `rule` is one (same id and same regex).
pub(crate) fn builtin_meta(rule: &Rule) -> Option<Meta> {
    static INDEX: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        defs()
            .iter()
            .enumerate()
            .map(|(i, d)| (d.rule.id.as_str(), i))
            .collect()
    });
    let d = &defs()[*index.get(rule.id.as_str())?];
    (d.rule.regex == rule.regex).then_some(d.meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_rules_compile() {
        let rules = builtin_rules();
        let mut ids = std::collections::HashSet::new();
        for r in &rules {
            assert!(ids.insert(r.id.clone()), "duplicate rule id {}", r.id);
            assert!(r.keywords.iter().all(|k| !k.is_empty()), "{}", r.id);
            regex::bytes::Regex::new(r.regex.as_deref().unwrap_or("")).unwrap();
        }
        assert!(rules.len() >= 150, "only {} rules", rules.len());
        // Providers with a structured value are named; plain-alphabet ones are left to the generic
        // rule's net.
        let names = provider_names();
        assert!(names.iter().any(|n| n == "telegram"), "{names:?}");
        assert!(
            !names.iter().any(|n| n == "confluent" || n == "drone"),
            "{names:?}"
        );
        // Rules without keywords run on every byte: there must be none among the built-ins.
        assert!(
            rules
                .iter()
                .all(|r| !r.keywords.is_empty() || r.regex.is_none())
        );
    }
}
