//! Secrets taken from the command line or the environment.

use std::fmt;
use std::str::FromStr;

/// A credential given as a flag or environment variable: usable, never
/// shown (`Debug` prints `[redacted]`). Surrounding whitespace is trimmed;
/// an empty value counts as not given (see [`SecretArg::given`]).
#[derive(Clone)]
pub struct SecretArg(String);

impl SecretArg {
    /// The secret itself, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `Some` unless empty (an exported but empty variable is not a
    /// credential).
    pub fn given(this: Option<&SecretArg>) -> Option<&SecretArg> {
        this.filter(|s| !s.0.is_empty())
    }
}

impl FromStr for SecretArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretArg(s.trim().to_owned()))
    }
}

impl fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shown() {
        let s: SecretArg = " sk-ant-oat01-abc ".parse().unwrap();
        assert_eq!(s.expose(), "sk-ant-oat01-abc");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let empty: SecretArg = "  ".parse().unwrap();
        assert!(SecretArg::given(Some(&empty)).is_none());
        assert!(SecretArg::given(Some(&s)).is_some());
    }
}
