//! The net under everything else: a secret-like name assigned a random-looking literal.

use super::checks;
use super::{Def, Kind, Meta};
use crate::scan::rule::Rule;

/// A name ending in a secret-like word, the glue of an assignment, and a literal value. Quotes may be
/// escaped (`{\"api_key\":\"…\"}`: JSON inside a string, a log line or a notebook output).
const GENERIC: &str = r#"(?i:(?P<name>[A-Za-z0-9_.\-]{0,60}(?:key|token|secret|passw(?:or)?d|pwd|pass|passphrase|credentials?|creds|pw|pat|auth)(?:_?(?:string|str|value|val|do_?not_?commit|dont_?commit))?[0-9_]{0,4}))(?:(?:(?:\\?["'`\]]){1,2}[ \t]{0,4}|[ \t]{0,4})(?:(?:=|:=|::=|:::=|\.=|=>|<-|\?=|\|\|=|,[ \t]{0,4}["'`])[ \t]{0,4}|(?::|>)[ \t]{0,4}(?:\r?\n[ \t]{0,40})?)|[ \t]{1,4}[A-Za-z]{1,10}[ \t]{0,4}(?:=|:=)[ \t]{0,4})\\?["'`]?([^\s"'`<>;,\\(){}\[\]=:][^\s"'`<>;,\\(){}\[\]]{9,299})(?:["'`\s;,<\\)\]}&|]|$)"#;

#[allow(clippy::too_many_lines)] // a rule table: one entry per provider format
pub(super) fn rules() -> Vec<Def> {
    vec![Def {
        rule: Rule {
            id: "generic-api-key".into(),
            description: "Secret-like name assigned a high-entropy value".into(),
            regex: Some(format!("(?-u){GENERIC}")),
            secret_group: Some(2),
            keywords: [
                "key", "token", "secret", "pass", "pwd", "cred", "auth", "_pat=", "_pat:",
                "_pat\"", "_pat'", "_pat ",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            tags: vec!["generic".into()],
            ..Rule::default()
        },
        meta: Meta {
            kind: Kind::Generic,
            before: 0,
            after: 1,
            check: Some(checks::generic_assignment),
        },
    }]
}
