//! Skill versions, as a self-hosted worker installs a session's skills:
//! resolve a version (`latest` allowed) and download its archive as a byte
//! stream. These calls carry only the caller's betas, as the official SDKs
//! send them (not `managed-agents-2026-04-01`).

use anthropic_environments_raw::operations;
use std::pin::Pin;
use std::task::{Context, Poll};

use anthropic_environments_raw::prelude::ClientSkillsExt;
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};

use crate::SkillVersion;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::{Betas, Call, RequestOptions, Response, request_options, sends};
use crate::validate;

/// Skills: `client.skills()`.
#[derive(Clone, Debug)]
pub struct Skills {
    client: Client,
}

/// Fields every skill version request builder has.
macro_rules! skill_request {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        #[must_use = "a request does nothing until sent"]
        pub struct $name {
            client: Client,
            skill_id: String,
            version: String,
            options: RequestOptions,
        }
        request_options!($name);
    };
}

impl Skills {
    pub(crate) fn new(client: Client) -> Self {
        Skills { client }
    }

    /// Retrieves a skill version; `version` may be `latest`. Download by
    /// the returned `id`.
    pub fn retrieve_version(
        &self,
        skill_id: impl Into<String>,
        version: impl Into<String>,
    ) -> RetrieveSkillVersion {
        RetrieveSkillVersion {
            client: self.client.clone(),
            skill_id: skill_id.into(),
            version: version.into(),
            options: RequestOptions::default(),
        }
    }

    /// Downloads a skill version's archive (a zip; tar, optionally
    /// compressed, is also seen) as a byte stream: one chunk in memory at a
    /// time, whatever its size. `version_id` is a concrete version id, not
    /// `latest`.
    ///
    /// ```no_run
    /// # async fn run(client: anthropic_environments::Client) -> anthropic_environments::Result<()> {
    /// use futures::TryStreamExt;
    /// let version = client.skills().retrieve_version("skill_01AbC", "latest").send().await?;
    /// let mut content = client.skills().download_version(&version.skill_id, &version.id).send().await?;
    /// let mut size = 0;
    /// while let Some(chunk) = content.try_next().await? {
    ///     size += chunk.len(); // write it to a file, say
    /// }
    /// # Ok(()) }
    /// ```
    pub fn download_version(
        &self,
        skill_id: impl Into<String>,
        version_id: impl Into<String>,
    ) -> DownloadSkillVersion {
        DownloadSkillVersion {
            client: self.client.clone(),
            skill_id: skill_id.into(),
            version: version_id.into(),
            options: RequestOptions::default(),
        }
    }
}

skill_request!(
    /// A request for a skill version; see [`Skills::retrieve_version`].
    RetrieveSkillVersion
);
sends!(RetrieveSkillVersion, SkillVersion);

impl RetrieveSkillVersion {
    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<SkillVersion>> {
        validate::path_id("skill_id", &self.skill_id)?;
        validate::path_id("version", &self.version)?;
        let call = Call::with_betas(
            &self.client,
            operations::RETRIEVE_SKILL_VERSION.id,
            &self.options,
            Betas::CallerOnly,
        )?;
        call.run(|raw| {
            raw.retrieve_skill_version()
                .skill_id(&self.skill_id)
                .version(&self.version)
                .send()
        })
        .await
    }
}

skill_request!(
    /// A request for a skill version's archive; see
    /// [`Skills::download_version`].
    DownloadSkillVersion
);

impl DownloadSkillVersion {
    /// Opens the download (retried like any call until the answer starts).
    pub async fn send(mut self) -> Result<SkillContent> {
        validate::path_id("skill_id", &self.skill_id)?;
        validate::path_id("version", &self.version)?;
        self.options
            .headers
            .push(("accept".into(), "application/binary".into()));
        let call = Call::with_betas(
            &self.client,
            operations::DOWNLOAD_SKILL_VERSION_CONTENT.id,
            &self.options,
            Betas::CallerOnly,
        )?;
        let response = call
            .run(|raw| {
                raw.download_skill_version_content()
                    .skill_id(&self.skill_id)
                    .version(&self.version)
                    .send()
            })
            .await?;
        let request_id = response.request_id().map(str::to_owned);
        let content_length = response
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response
            .into_inner()
            .into_inner()
            .map(|chunk| {
                chunk.map_err(|source| Error::Connection {
                    operation: operations::DOWNLOAD_SKILL_VERSION_CONTENT.id,
                    source,
                })
            })
            .boxed();
        Ok(SkillContent {
            bytes,
            request_id,
            content_length,
        })
    }
}

/// A skill version's archive, as a stream of byte chunks.
pub struct SkillContent {
    bytes: BoxStream<'static, Result<Bytes>>,
    request_id: Option<String>,
    content_length: Option<u64>,
}

impl std::fmt::Debug for SkillContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillContent")
            .field("request_id", &self.request_id)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl SkillContent {
    /// The `request-id` of the answer.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The archive's size, when the server announced it.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }
}

impl Stream for SkillContent {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.bytes.as_mut().poll_next(cx)
    }
}
