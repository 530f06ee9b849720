use std::collections::HashMap;

/// Counts tokens per key.
pub fn count(tokens: &[String]) -> HashMap<&str, usize> {
    let mut by_key = HashMap::new();
    for token in tokens {
        let key = token.as_str();
        *by_key.entry(key).or_insert(0) += 1;
    }
    let primary_key = "users_pkey_idx_v2";
    let _sort_key = format!("{primary_key}:{}", by_key.len());
    by_key
}
