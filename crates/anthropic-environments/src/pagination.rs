//! Pages of list results, and streams over them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use std::collections::HashSet;

use crate::error::{Error, Result};

/// One page of a list: its items and the cursor of the next page.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// The cursor of the next page (`None` on the last page).
    pub next_page: Option<String>,
    /// The `request-id` of the response that carried this page.
    pub request_id: Option<String>,
}

impl<T> Page<T> {
    /// Whether another page follows.
    pub fn has_next_page(&self) -> bool {
        self.next_page.as_deref().is_some_and(|c| !c.is_empty())
    }

    /// The items of this page.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The cursor of the next page (`None` on the last page).
    pub fn next_page(&self) -> Option<&str> {
        self.next_page.as_deref()
    }

    /// The `request-id` of the response that carried this page.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The items of this page, by reference.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.data.iter()
    }
}

impl<'a, T> IntoIterator for &'a Page<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.data.iter()
    }
}

impl<T> IntoIterator for Page<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.data.into_iter()
    }
}

type PageFuture<T> = Pin<Box<dyn Future<Output = Result<Page<T>>> + Send>>;

/// Fetches the page at a cursor (`None`: the first page).
type FetchPage<T> = Arc<dyn Fn(Option<String>) -> PageFuture<T> + Send + Sync>;

/// A list request that can fetch the page at any cursor.
pub(crate) trait PagedRequest: Send + Sync + 'static {
    /// What the pages hold.
    type Item: Send + 'static;
    /// The operation (the spec's operationId), for errors.
    const OPERATION: &'static str;
    /// The cursor of the first page (`None`: the start of the list).
    fn start(&self) -> Option<String>;
    /// Fetches the page at `cursor`.
    fn fetch(
        &self,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<Page<Self::Item>>> + Send;
}

fn fetcher<R: PagedRequest>(request: R) -> FetchPage<R::Item> {
    let request = Arc::new(request);
    Arc::new(move |cursor| {
        let request = request.clone();
        Box::pin(async move { request.fetch(cursor).await })
    })
}

/// Every page of a list request, fetched as the stream reaches it.
pub(crate) fn pages_of<R: PagedRequest>(request: R) -> BoxStream<'static, Result<Page<R::Item>>> {
    let start = request.start();
    pages(fetcher(request), start, R::OPERATION)
}

/// Every item of a list request, one page in memory at a time.
pub(crate) fn items_of<R: PagedRequest>(request: R) -> BoxStream<'static, Result<R::Item>> {
    let start = request.start();
    items(fetcher(request), start, R::OPERATION)
}

/// Where a page stream is: the cursor to fetch next (`None` when done) and
/// every cursor fetched so far.
struct Cursor {
    next: Option<Option<String>>,
    seen: HashSet<String>,
}

/// Every page from `start`, fetching each only when the stream reaches it
/// and stopping after the page whose `next_page` is null, absent or empty.
/// A `next_page` the stream has already fetched ends it with
/// [`Error::PaginationLoop`] instead of looping forever.
fn pages<T: Send + 'static>(
    fetch: FetchPage<T>,
    start: Option<String>,
    operation: &'static str,
) -> BoxStream<'static, Result<Page<T>>> {
    let state = Cursor {
        next: Some(start),
        seen: HashSet::new(),
    };
    stream::try_unfold(state, move |mut state| {
        let fetch = fetch.clone();
        async move {
            let Some(cursor) = state.next.take() else {
                return Ok(None);
            };
            if let Some(c) = &cursor
                && !state.seen.insert(c.clone())
            {
                return Err(Error::PaginationLoop {
                    operation,
                    cursor: c.clone(),
                });
            }
            let page = fetch(cursor).await?;
            state.next = page.has_next_page().then(|| page.next_page.clone());
            Ok(Some((page, state)))
        }
    })
    .boxed()
}

/// Every item of every page from `start`, one page in memory at a time.
fn items<T: Send + 'static>(
    fetch: FetchPage<T>,
    start: Option<String>,
    operation: &'static str,
) -> BoxStream<'static, Result<T>> {
    pages(fetch, start, operation)
        .map_ok(|page| stream::iter(page.data.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}
