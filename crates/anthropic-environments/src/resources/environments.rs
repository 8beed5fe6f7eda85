//! Environments: create, list, retrieve, update, delete, archive.

use anthropic_environments_raw::operations;
use anthropic_environments_raw::prelude::ClientEnvironmentsExt;
use futures::stream::BoxStream;

use crate::client::Client;
use crate::error::Result;
use crate::metadata::MetadataPatch;
use crate::pagination::{self, Page, PagedRequest};
use crate::request::Response;
use crate::request::{Call, RequestOptions, request_options, sends};
use crate::resources::work::WorkQueue;
use crate::types::{
    BetaEnvironmentDeleteResponse, EnvironmentCreateParams, EnvironmentUpdateParams,
};
use crate::validate;
use crate::{Environment, EnvironmentConfigParams, Scope};

/// The environments of the account: `client.environments()`.
#[derive(Clone, Debug)]
pub struct Environments {
    client: Client,
}

impl Environments {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Creates an environment named `name`.
    ///
    /// ```no_run
    /// # async fn run(client: anthropic_environments::Client) -> anthropic_environments::Result<()> {
    /// use anthropic_environments::params::SelfHostedConfig;
    /// let env = client
    ///     .environments()
    ///     .create("ci-runners")
    ///     .config(SelfHostedConfig)
    ///     .description("Our own sandboxes")
    ///     .metadata("team", "infra")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn create(&self, name: impl Into<String>) -> CreateEnvironment {
        CreateEnvironment {
            client: self.client.clone(),
            params: crate::built(EnvironmentCreateParams::builder().name(name.into())),
            options: RequestOptions::default(),
        }
    }

    /// Lists environments, a page at a time or as a stream.
    pub fn list(&self) -> ListEnvironments {
        ListEnvironments {
            client: self.client.clone(),
            include_archived: None,
            limit: None,
            page: None,
            options: RequestOptions::default(),
        }
    }

    /// Retrieves one environment.
    pub fn retrieve(&self, environment_id: impl Into<String>) -> RetrieveEnvironment {
        RetrieveEnvironment {
            client: self.client.clone(),
            environment_id: environment_id.into(),
            options: RequestOptions::default(),
        }
    }

    /// Updates an environment: only the fields set change.
    pub fn update(&self, environment_id: impl Into<String>) -> UpdateEnvironment {
        UpdateEnvironment {
            client: self.client.clone(),
            environment_id: environment_id.into(),
            params: EnvironmentUpdateParams::default(),
            options: RequestOptions::default(),
        }
    }

    /// Deletes an environment.
    pub fn delete(&self, environment_id: impl Into<String>) -> DeleteEnvironment {
        DeleteEnvironment {
            client: self.client.clone(),
            environment_id: environment_id.into(),
            options: RequestOptions::default(),
        }
    }

    /// Archives an environment: it can no longer start sessions.
    pub fn archive(&self, environment_id: impl Into<String>) -> ArchiveEnvironment {
        ArchiveEnvironment {
            client: self.client.clone(),
            environment_id: environment_id.into(),
            options: RequestOptions::default(),
        }
    }

    /// The work queue of one environment.
    pub fn work(&self, environment_id: impl Into<String>) -> WorkQueue {
        WorkQueue::new(self.client.clone(), environment_id.into())
    }
}

/// A request to create an environment; see [`Environments::create`].
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until sent"]
pub struct CreateEnvironment {
    client: Client,
    params: EnvironmentCreateParams,
    options: RequestOptions,
}

request_options!(CreateEnvironment);
sends!(CreateEnvironment, Environment);

impl CreateEnvironment {
    /// The configuration (see [`crate::params`]); default: the server's.
    pub fn config(mut self, config: impl Into<EnvironmentConfigParams>) -> Self {
        self.params.config = Some(config.into());
        self
    }

    /// A description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.params.description = Some(description.into());
        self
    }

    /// Adds one metadata pair.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.metadata.insert(key.into(), value.into());
        self
    }

    /// The visibility scope (self-hosted environments).
    pub fn scope(mut self, scope: Scope) -> Self {
        self.params.scope = Some(scope);
        self
    }

    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Environment>> {
        if self.params.name.is_empty() {
            return Err(crate::Error::invalid("name", "must not be empty"));
        }
        let call = Call::new(
            &self.client,
            operations::CREATE_ENVIRONMENT.id,
            &self.options,
        )?;
        call.run(|raw| raw.create_environment().body(self.params.clone()).send())
            .await
    }
}

/// A request to list environments; see [`Environments::list`].
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until sent"]
pub struct ListEnvironments {
    client: Client,
    include_archived: Option<bool>,
    limit: Option<u64>,
    page: Option<String>,
    options: RequestOptions,
}

request_options!(ListEnvironments);

impl ListEnvironments {
    /// Include archived environments.
    pub fn include_archived(mut self, include: bool) -> Self {
        self.include_archived = Some(include);
        self
    }

    /// At most this many environments per page.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Start at this cursor (a previous page's `next_page`).
    pub fn page(mut self, cursor: impl Into<String>) -> Self {
        self.page = Some(cursor.into());
        self
    }

    /// Fetches one page (at the cursor set with [`page`](Self::page)).
    pub async fn send(self) -> Result<Page<Environment>> {
        self.fetch(self.start()).await
    }

    /// Fetches one page, with the response's status and headers.
    pub async fn send_with_meta(self) -> Result<Response<Page<Environment>>> {
        self.fetch_with_meta(self.start()).await
    }

    /// Every page, fetched as the stream reaches it.
    pub fn into_pages(self) -> BoxStream<'static, Result<Page<Environment>>> {
        pagination::pages_of(self)
    }

    /// Every environment of every page, one page in memory at a time.
    ///
    /// ```no_run
    /// # async fn run(client: anthropic_environments::Client) -> anthropic_environments::Result<()> {
    /// use futures::TryStreamExt;
    /// let mut all = client.environments().list().limit(100).into_stream();
    /// while let Some(env) = all.try_next().await? {
    ///     println!("{} {}", env.id, env.name);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn into_stream(self) -> BoxStream<'static, Result<Environment>> {
        pagination::items_of(self)
    }
}

impl PagedRequest for ListEnvironments {
    type Item = Environment;
    const OPERATION: &'static str = operations::LIST_ENVIRONMENTS.id;

    fn start(&self) -> Option<String> {
        self.page.clone()
    }

    async fn fetch(&self, cursor: Option<String>) -> Result<Page<Environment>> {
        Ok(self.fetch_with_meta(cursor).await?.into_inner())
    }
}

impl ListEnvironments {
    /// Fetches the page at `cursor`, with the response's status and headers.
    async fn fetch_with_meta(&self, cursor: Option<String>) -> Result<Response<Page<Environment>>> {
        let limit = self
            .limit
            .map(|l| validate::positive("limit", l))
            .transpose()?;
        let call = Call::new(
            &self.client,
            operations::LIST_ENVIRONMENTS.id,
            &self.options,
        )?;
        let response = call
            .run(|raw| {
                let mut request = raw.list_environments();
                if let Some(include) = self.include_archived {
                    request = request.include_archived(include);
                }
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(cursor) = &cursor {
                    request = request.page(cursor);
                }
                request.send()
            })
            .await?;
        let request_id = response.request_id().map(str::to_owned);
        Ok(response.map(|body| Page {
            data: body.data,
            next_page: body.next_page,
            request_id,
        }))
    }
}

/// A request to retrieve an environment; see [`Environments::retrieve`].
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until sent"]
pub struct RetrieveEnvironment {
    client: Client,
    environment_id: String,
    options: RequestOptions,
}

request_options!(RetrieveEnvironment);
sends!(RetrieveEnvironment, Environment);

impl RetrieveEnvironment {
    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Environment>> {
        validate::path_id("environment_id", &self.environment_id)?;
        let call = Call::new(
            &self.client,
            operations::RETRIEVE_ENVIRONMENT.id,
            &self.options,
        )?;
        call.run(|raw| {
            raw.retrieve_environment()
                .environment_id(&self.environment_id)
                .send()
        })
        .await
    }
}

/// A request to update an environment; see [`Environments::update`].
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until sent"]
pub struct UpdateEnvironment {
    client: Client,
    environment_id: String,
    params: EnvironmentUpdateParams,
    options: RequestOptions,
}

request_options!(UpdateEnvironment);
sends!(UpdateEnvironment, Environment);

impl UpdateEnvironment {
    /// A new name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.params.name = Some(name.into());
        self
    }

    /// A new description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.params.description = Some(description.into());
        self
    }

    /// A new configuration; fields left unset in it keep their value.
    pub fn config(mut self, config: impl Into<EnvironmentConfigParams>) -> Self {
        self.params.config = Some(config.into());
        self
    }

    /// A new visibility scope.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.params.scope = Some(scope);
        self
    }

    /// Sets the metadata key `key` to `value` (other keys keep theirs), as
    /// [`CreateEnvironment::metadata`] does on create.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params
            .metadata
            .extend(MetadataPatch::new().set(key, value).into_wire());
        self
    }

    /// Deletes the metadata key `key`.
    pub fn remove_metadata(mut self, key: impl Into<String>) -> Self {
        self.params
            .metadata
            .extend(MetadataPatch::new().delete(key).into_wire());
        self
    }

    /// Applies every change of `patch` (on top of those already given).
    pub fn metadata_patch(mut self, patch: MetadataPatch) -> Self {
        self.params.metadata.extend(patch.into_wire());
        self
    }

    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Environment>> {
        validate::path_id("environment_id", &self.environment_id)?;
        let call = Call::new(
            &self.client,
            operations::UPDATE_ENVIRONMENT.id,
            &self.options,
        )?;
        call.run(|raw| {
            raw.update_environment()
                .environment_id(&self.environment_id)
                .body(self.params.clone())
                .send()
        })
        .await
    }
}

/// A request to delete an environment; see [`Environments::delete`].
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until sent"]
pub struct DeleteEnvironment {
    client: Client,
    environment_id: String,
    options: RequestOptions,
}

request_options!(DeleteEnvironment);
sends!(DeleteEnvironment, BetaEnvironmentDeleteResponse);

impl DeleteEnvironment {
    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<BetaEnvironmentDeleteResponse>> {
        validate::path_id("environment_id", &self.environment_id)?;
        let call = Call::new(
            &self.client,
            operations::DELETE_ENVIRONMENT.id,
            &self.options,
        )?;
        call.run(|raw| {
            raw.delete_environment()
                .environment_id(&self.environment_id)
                .send()
        })
        .await
    }
}

/// A request to archive an environment; see [`Environments::archive`].
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until sent"]
pub struct ArchiveEnvironment {
    client: Client,
    environment_id: String,
    options: RequestOptions,
}

request_options!(ArchiveEnvironment);
sends!(ArchiveEnvironment, Environment);

impl ArchiveEnvironment {
    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Environment>> {
        validate::path_id("environment_id", &self.environment_id)?;
        let call = Call::new(
            &self.client,
            operations::ARCHIVE_ENVIRONMENT.id,
            &self.options,
        )?;
        call.run(|raw| {
            raw.archive_environment()
                .environment_id(&self.environment_id)
                .send()
        })
        .await
    }
}
