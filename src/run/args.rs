//! A step's arguments as its own command line would make them: `run` hands flags to clap, so every
//! default and every environment variable a step's flags read applies exactly as when the step's command
//! runs in a CI job. Flags a step does not take are left out (and reported), never a parse error.

use crate::exit::{self, ExitCode};

/// One flag `run` would give a step: `--name` or `--name value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    /// The long name, without dashes.
    pub long: &'static str,
    /// The value, for a flag that takes one.
    pub value: Option<String>,
}

impl Flag {
    /// A switch: `--name`.
    pub fn switch(long: &'static str) -> Flag {
        Flag { long, value: None }
    }

    /// A flag with a value: `--name value`.
    pub fn value(long: &'static str, value: impl Into<String>) -> Flag {
        Flag {
            long,
            value: Some(value.into()),
        }
    }

    /// The flag as it would be typed.
    pub fn shell(&self) -> String {
        match &self.value {
            Some(v) => format!("--{} {v}", self.long),
            None => format!("--{}", self.long),
        }
    }
}

/// The long flags a step's arguments accept.
pub fn known_flags<T: clap::Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("step"))
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect()
}

/// Parses `flags` into a step's arguments through clap (defaults and environment variables apply as on
/// the command line). Returns the arguments and the flags left out because the step does not take them.
pub fn step_args<T>(step: &str, flags: &[Flag]) -> anyhow::Result<(T, Vec<Flag>)>
where
    T: clap::Args + clap::FromArgMatches,
{
    let known = known_flags::<T>();
    let (given, dropped): (Vec<Flag>, Vec<Flag>) = flags
        .iter()
        .cloned()
        .partition(|f| known.iter().any(|k| k == f.long));
    let mut argv: Vec<String> = vec![format!("stevedore {step}")];
    for f in &given {
        argv.push(format!("--{}", f.long));
        if let Some(v) = &f.value {
            argv.push(v.clone());
        }
    }
    let cmd =
        T::augment_args(clap::Command::new("stevedore").bin_name(format!("stevedore {step}")));
    let matches = cmd.try_get_matches_from(&argv).map_err(|e| {
        exit::coded(
            ExitCode::Usage,
            format!(
                "stevedore run cannot set up {step} with {}: {}",
                argv[1..].join(" "),
                e.render().to_string().trim()
            ),
        )
    })?;
    let args = T::from_arg_matches(&matches)
        .map_err(|e| exit::coded(ExitCode::Usage, format!("{step}: {e}")))?;
    Ok((args, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, clap::Args)]
    struct Demo {
        /// A switch.
        #[arg(long)]
        push: bool,
        /// A value with a default.
        #[arg(long, default_value = "auto")]
        status: String,
        /// A value from the environment.
        #[arg(long, env = "STEVEDORE_RUN_TEST_DEMO_IMAGE")]
        image: Option<String>,
    }

    #[test]
    fn flags_parse_through_clap_and_unknown_ones_are_left_out() {
        let (d, dropped) = step_args::<Demo>(
            "demo",
            &[
                Flag::switch("push"),
                Flag::value("status", "failed"),
                Flag::value("dotenv", "build.env"),
            ],
        )
        .unwrap();
        assert!(d.push);
        assert_eq!(d.status, "failed");
        assert_eq!(d.image, None);
        assert_eq!(dropped, [Flag::value("dotenv", "build.env")]);
        let (d, _) = step_args::<Demo>("demo", &[]).unwrap();
        assert!(!d.push);
        assert_eq!(d.status, "auto", "the command line's default applies");
    }

    #[test]
    fn a_bad_value_is_a_usage_error() {
        #[derive(Debug, clap::Args)]
        struct Num {
            #[arg(long)]
            n: u32,
        }
        let e = step_args::<Num>("num", &[Flag::value("n", "many")]).unwrap_err();
        assert_eq!(exit::code_of(&e), ExitCode::Usage);
        let m = exit::render(&e);
        assert!(m.contains("--n many"), "{m}");
    }
}
