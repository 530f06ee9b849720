//! The built-in rule set. (Placeholder, being replaced by the real one.)

use super::rule::Rule;

/// Every built-in rule.
pub fn builtin_rules() -> Vec<Rule> {
    vec![Rule {
        id: "aws-access-key-id".into(),
        description: "AWS access key ID".into(),
        regex: Some(r"\b((?:AKIA|ASIA)[A-Z2-7]{16})\b".into()),
        keywords: vec!["akia".into(), "asia".into()],
        ..Rule::default()
    }]
}
