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
    /// parameter; `None` when the template has no such parameter or the
    /// path does not match it.
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
