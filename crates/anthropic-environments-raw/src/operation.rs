//! The types of the generated operation table ([`crate::operations`]):
//! what the spec says of each operation beyond its shapes.

/// One operation of the API, as the spec describes it. The generated
/// [`crate::operations`] module has one constant per operation, named for
/// its id, and [`ALL`](crate::operations::ALL) in the spec's order.
///
/// ```
/// use anthropic_environments_raw::operation::Credential;
/// use anthropic_environments_raw::operations;
///
/// let poll = operations::POLL_WORK;
/// assert_eq!((poll.method, poll.path), ("GET", "/v1/environments/{environment_id}/work/poll"));
/// assert_eq!(poll.credentials[0], Credential::EnvironmentKey);
/// assert_eq!(operations::find("poll_work"), Some(&operations::POLL_WORK));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Operation {
    /// The spec's `operationId` (`poll_work`).
    pub id: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template (`/v1/environments/{environment_id}/work/poll`).
    pub path: &'static str,
    /// The spec's tag (`environments`, `work`, `sessions`, `skills`).
    pub tag: &'static str,
    /// The tracing span name the official SDKs give a call of it
    /// (`anthropic.environments.work.poll`).
    pub span_name: &'static str,
    /// The credentials it accepts, in the order the official workers
    /// prefer them.
    pub credentials: &'static [Credential],
}

impl Operation {
    /// Whether it accepts `credential`.
    pub fn accepts(&self, credential: Credential) -> bool {
        self.credentials.contains(&credential)
    }

    /// The value a request's `path` gives the template's `{name}`
    /// parameter, as the path has it (percent-encoding is not decoded);
    /// `None` when the template has no such parameter or the path does not
    /// match it.
    ///
    /// ```
    /// use anthropic_environments_raw::operations;
    ///
    /// let path = "/v1/environments/env_1/work/w_2/ack";
    /// assert_eq!(operations::ACK_WORK.path_param(path, "work_id"), Some("w_2"));
    /// assert_eq!(operations::ACK_WORK.path_param(path, "session_id"), None);
    /// assert_eq!(operations::ACK_WORK.path_param("/v1/environments/env_1", "environment_id"), None);
    /// ```
    pub fn path_param<'p>(&self, path: &'p str, name: &str) -> Option<&'p str> {
        let path = path.trim_end_matches('/');
        let (given, template) = (path.split('/'), self.path.split('/'));
        if given.clone().count() != template.clone().count() {
            return None;
        }
        let mut value = None;
        for (g, t) in given.zip(template) {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(_) if g.is_empty() => return None,
                Some(param) if param == name => value = Some(g),
                Some(_) => {}
                None if g == t => {}
                None => return None,
            }
        }
        value
    }

    /// How well a request's method and path match this operation: `None`
    /// when they do not, else how many of its path segments are literal
    /// (the more, the more specific: `.../work/poll` over `.../work/{id}`).
    fn literal_segments(&self, method: &str, path: &str) -> Option<usize> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let path = path.trim_end_matches('/');
        let (mut given, mut template) = (path.split('/'), self.path.split('/'));
        let mut literal = 0;
        loop {
            match (given.next(), template.next()) {
                (None, None) => return Some(literal),
                (Some(g), Some(t)) if t.starts_with('{') && t.ends_with('}') && !g.is_empty() => {}
                (Some(g), Some(t)) if g == t => literal += 1,
                _ => return None,
            }
        }
    }
}

/// The operation a request's method and path call, the most specific when
/// several templates match; `None` when none does.
///
/// ```
/// use anthropic_environments_raw::operation::for_request;
/// assert_eq!(for_request("GET", "/v1/environments/env_1/work/poll").map(|o| o.id), Some("poll_work"));
/// assert_eq!(for_request("GET", "/v1/environments/env_1/work/w_1").map(|o| o.id), Some("retrieve_work"));
/// assert_eq!(for_request("PUT", "/v1/environments"), None);
/// ```
pub fn for_request(method: &str, path: &str) -> Option<&'static Operation> {
    crate::operations::ALL
        .iter()
        .filter_map(|op| Some((op.literal_segments(method, path)?, op)))
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, op)| op)
}

/// A kind of credential, as the spec's `x-credentials` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Credential {
    /// An organisation API key (`api_key`).
    ApiKey,
    /// A self-hosted environment's key (`environment_key`).
    EnvironmentKey,
    /// A work item's sessions token, from its poll's `secret`
    /// (`sessions_token`): that item's calls only.
    SessionsToken,
}

impl Credential {
    /// The name the spec uses (`api_key`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Credential::ApiKey => "api_key",
            Credential::EnvironmentKey => "environment_key",
            Credential::SessionsToken => "sessions_token",
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::for_request;
    use crate::operations::{ACK_WORK, ALL, LIST_ENVIRONMENTS};

    /// The parameter names of a template, in order.
    fn params(template: &str) -> Vec<&str> {
        template
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }

    #[test]
    fn trailing_slashes_empty_segments_and_encoded_values() {
        let path = "/v1/environments/env_1/work/w%2F2/ack/";
        assert_eq!(ACK_WORK.path_param(path, "work_id"), Some("w%2F2"));
        assert_eq!(ACK_WORK.path_param(path, "environment_id"), Some("env_1"));
        assert_eq!(
            ACK_WORK.path_param("/v1/environments//work/w/ack", "work_id"),
            None
        );
        assert_eq!(
            ACK_WORK.path_param("/v1/environments/e/work/w/stop", "work_id"),
            None
        );
        assert_eq!(
            ACK_WORK.path_param("/v1/environments/e/work/w/ack/x", "work_id"),
            None
        );
        assert_eq!(
            LIST_ENVIRONMENTS.path_param("/v1/environments", "environment_id"),
            None
        );
    }

    proptest! {
        /// Every operation's template, filled with any values, routes back
        /// to that operation and gives each value back by its name.
        #[test]
        fn every_template_round_trips(values in proptest::collection::vec("x_[A-Za-z0-9_.-]{0,16}", 3)) {
            for op in ALL {
                let names = params(op.path);
                let mut path = op.path.to_owned();
                for (name, value) in names.iter().zip(&values) {
                    path = path.replace(&format!("{{{name}}}"), value);
                }
                prop_assert_eq!(for_request(op.method, &path).map(|o| o.id), Some(op.id));
                for (name, value) in names.iter().zip(&values) {
                    prop_assert_eq!(op.path_param(&path, name), Some(value.as_str()));
                }
                prop_assert_eq!(op.path_param(&path, "no_such_param"), None);
            }
        }
    }
}
