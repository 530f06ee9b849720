//! One line for an error and its causes, as stevedore prints foreign errors (reqwest, bollard, hyper):
//! "error sending request: client error (Connect): tcp connect error: Connection refused".

/// The error's message followed by each cause's, `: `-separated, leaving out a cause whose text the line
/// already holds (many errors repeat their source in their own message).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string().trim().to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn joins_causes_and_skips_repeats() {
        let e = E(
            "client error (Connect)",
            Some(Box::new(E(
                "tcp connect error: Connection refused",
                Some(Box::new(E("Connection refused", None))),
            ))),
        );
        assert_eq!(
            error_chain(&e),
            "client error (Connect): tcp connect error: Connection refused"
        );
        assert_eq!(error_chain(&E(" alone\n", None)), "alone");
    }
}
