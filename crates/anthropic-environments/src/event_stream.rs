//! A session's events as server-sent events, decoded: the framing by the
//! `eventsource-stream` crate, the rules of the official SDKs on top (skip
//! `ping` and empty messages, `event: error` ends the stream with an error,
//! a message without an `event:` line is decoded by its JSON `type`), and a
//! stream that never yields half an event.

use anthropic_environments_raw::operations;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures::stream::{self, BoxStream, Stream, StreamExt};
use reqwest::StatusCode;

use crate::SessionEvent;
use crate::error::{ApiError, Error, Result, excerpt, object_id};
use crate::types::ErrorResponse;

/// The operation whose answer this stream decodes.
const OPERATION: &str = operations::STREAM_SESSION_EVENTS.id;

/// A session's events as the server sends them, decoded one by one.
///
/// Ends with `None` when the server ends the stream cleanly, or with one
/// error (then `None`): a connection that broke ([`Error::Connection`]), a
/// message cut off by the end of the stream ([`Error::StreamCut`]), an
/// `event: error` from the server ([`Error::Api`] with the stream's 200
/// status), a message that does not decode or bytes that are not UTF-8
/// ([`Error::Decode`]), or no bytes at all for the idle timeout
/// ([`Error::Timeout`]). All but the decode failure are
/// [`Error::is_retryable`]; reconnecting after any of them is the caller's
/// job (a session runner reconnects after every one and lists the history
/// to close the gap).
///
/// ```no_run
/// # async fn run(client: anthropic_environments::Client) -> anthropic_environments::Result<()> {
/// use futures::StreamExt;
/// let mut events = client.sessions().events("sesn_011CZkZ9X2dpNyB7HsEFoRfW").stream().send().await?;
/// while let Some(event) = events.next().await {
///     println!("{:?}", event?.tag());
/// }
/// # Ok(()) }
/// ```
pub struct EventStream {
    inner: BoxStream<'static, Result<SessionEvent>>,
    request_id: Option<String>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// Decodes `bytes`, the body of a stream answer, giving up with
    /// [`Error::Timeout`] after `idle_timeout` without a byte (`None`:
    /// never).
    pub(crate) fn new<S, E>(
        bytes: S,
        request_id: Option<String>,
        idle_timeout: Option<Duration>,
        transport_error: fn(E) -> Error,
    ) -> Self
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Send + 'static,
    {
        EventStream {
            inner: decode(bytes, request_id.clone(), idle_timeout, transport_error),
            request_id,
        }
    }

    /// The `request-id` of the answer that opened the stream.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl Stream for EventStream {
    type Item = Result<SessionEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Where the bytes seen so far stand in the framing: whether a message has
/// begun (a field line since the last blank line) and whether a line is
/// unfinished. Comment lines (`:`) begin no message. Only the end of the
/// stream asks: an unfinished message then was cut off.
#[derive(Debug, Default)]
struct Boundary {
    /// A field line since the last blank line.
    in_message: bool,
    /// Bytes of the current line so far.
    line_len: usize,
    /// The current line is a comment.
    comment: bool,
    /// The previous byte was a `\r` (a `\n` after it ends no other line).
    after_cr: bool,
}

impl Boundary {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\r' | b'\n' => {
                    if self.line_len == 0 {
                        self.in_message = false;
                    } else if !self.comment {
                        self.in_message = true;
                    }
                    self.line_len = 0;
                    self.comment = false;
                    self.after_cr = b == b'\r';
                }
                _ => {
                    if self.line_len == 0 {
                        self.comment = b == b':';
                    }
                    self.line_len += 1;
                    self.after_cr = false;
                }
            }
        }
    }

    /// Whether the stream, ending here, cuts a message off.
    fn cut(&self) -> bool {
        self.in_message || (self.line_len > 0 && !self.comment)
    }
}

/// The decoding: bytes (with the idle timeout and the boundary watch), the
/// crate's framing, then this API's rules; fused after the first error.
fn decode<S, E>(
    bytes: S,
    request_id: Option<String>,
    idle_timeout: Option<Duration>,
    transport_error: fn(E) -> Error,
) -> BoxStream<'static, Result<SessionEvent>>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    E: Send + 'static,
{
    let boundary = Arc::new(Mutex::new(Boundary::default()));
    let watched = boundary.clone();
    // Each read waits at most `idle_timeout`; bytes reach the framing only
    // as whole UTF-8 (a character split across chunks waits for its rest;
    // an invalid byte ends the stream, where the framing crate would stall
    // on it). A read error, the timeout or invalid UTF-8 is an item of its
    // own, after which the stream ends.
    let reads = stream::unfold(Some((Box::pin(bytes), Vec::<u8>::new())), move |state| {
        let watched = watched.clone();
        async move {
            let (mut bytes, mut carry) = state?;
            let next = match idle_timeout {
                Some(limit) => match tokio::time::timeout(limit, bytes.next()).await {
                    Ok(next) => next,
                    Err(_) => return Some((Err(ReadError::Timeout), None)),
                },
                None => bytes.next().await,
            };
            match next? {
                Ok(chunk) => {
                    watched
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .feed(&chunk);
                    carry.extend_from_slice(&chunk);
                    let whole = match std::str::from_utf8(&carry) {
                        Ok(_) => carry.len(),
                        // An incomplete character at the end: wait.
                        Err(e) if e.error_len().is_none() => e.valid_up_to(),
                        Err(_) => return Some((Err(ReadError::Utf8), None)),
                    };
                    let rest = carry.split_off(whole);
                    let text = Bytes::from(std::mem::replace(&mut carry, rest));
                    Some((Ok(text), Some((bytes, carry))))
                }
                Err(e) => Some((Err(ReadError::Transport(e)), None)),
            }
        }
    });
    let messages = reads
        .eventsource()
        .map(Some)
        .chain(stream::once(async { None }));
    let request_id = Arc::new(request_id);
    let decoded = messages
        .filter_map(move |message| {
            let boundary = boundary.clone();
            let request_id = request_id.clone();
            async move {
                match message {
                    // The end: a clean one, unless it cut a message off.
                    None => boundary
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .cut()
                        .then_some(Err(Error::StreamCut {
                            operation: OPERATION,
                        })),
                    Some(Ok(event)) => decode_message(&event.event, &event.data, &request_id),
                    Some(Err(EventStreamError::Transport(ReadError::Transport(e)))) => {
                        Some(Err(transport_error(e)))
                    }
                    Some(Err(EventStreamError::Transport(ReadError::Timeout))) => {
                        Some(Err(Error::Timeout {
                            operation: OPERATION,
                            source: None,
                        }))
                    }
                    Some(Err(EventStreamError::Transport(ReadError::Utf8))) => Some(Err(
                        undecodable(&request_id, "the stream is not valid UTF-8".into()),
                    )),
                    Some(Err(EventStreamError::Utf8(e))) => {
                        Some(Err(undecodable(&request_id, e.to_string())))
                    }
                    Some(Err(EventStreamError::Parser(e))) => {
                        Some(Err(undecodable(&request_id, e.to_string())))
                    }
                }
            }
        })
        .boxed();
    // Ends right after the first error, without reading on (the server may
    // keep the connection open with keep-alives).
    stream::unfold(Some(decoded), |state| async move {
        let mut decoded = state?;
        let item = decoded.next().await?;
        let failed = item.is_err();
        Some((item, (!failed).then_some(decoded)))
    })
    .boxed()
}

/// What the reads of a stream's body may end with.
enum ReadError<E> {
    /// The transport failed.
    Transport(E),
    /// Nothing came for the idle timeout.
    Timeout,
    /// A byte that is not UTF-8.
    Utf8,
}

/// Bytes the framing could not read (not UTF-8, or no SSE line).
fn undecodable(request_id: &Option<String>, message: String) -> Error {
    Error::Decode {
        operation: OPERATION,
        status: StatusCode::OK,
        request_id: request_id.clone(),
        message,
        excerpt: String::new(),
        object_id: None,
    }
}

/// One framed message: an event, nothing (`ping`, no data), or the error
/// it carries or is.
fn decode_message(
    name: &str,
    data: &str,
    request_id: &Option<String>,
) -> Option<Result<SessionEvent>> {
    if name == "ping" || data.is_empty() {
        return None;
    }
    if name == "error" {
        let (error_type, message, details) = match serde_json::from_str::<ErrorResponse>(data) {
            Ok(body) => (
                Some(body.error.type_),
                body.error.message,
                body.error.details,
            ),
            Err(_) => (None, excerpt(data.as_bytes(), 200), None),
        };
        return Some(Err(Error::Api(Box::new(ApiError {
            operation: OPERATION,
            status: StatusCode::OK,
            error_type,
            message,
            details,
            request_id: request_id.clone(),
            retry_after: None,
        }))));
    }
    Some(
        serde_json::from_str::<SessionEvent>(data).map_err(|e| Error::Decode {
            operation: OPERATION,
            status: StatusCode::OK,
            request_id: request_id.clone(),
            message: e.to_string(),
            excerpt: excerpt(data.as_bytes(), 200),
            object_id: object_id(data.as_bytes()),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use proptest::prelude::*;

    fn events_of(chunks: Vec<Vec<u8>>) -> Vec<std::result::Result<String, String>> {
        let bytes = stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::convert::Infallible>(Bytes::from(c))),
        );
        let stream = EventStream::new(bytes, None, None, |never| match never {});
        let items: Vec<Result<SessionEvent>> =
            futures::executor::block_on(stream.collect::<Vec<_>>());
        items
            .into_iter()
            .map(|r| {
                r.map(|e| serde_json::to_string(&e).unwrap())
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    const TOOL_USE: &str = r#"{"id":"sevt_1","type":"agent.tool_use","name":"bash","input":{"command":"ls"},"processed_at":"2026-03-15T10:00:05Z"}"#;
    const UNKNOWN: &str = r#"{"id":"sevt_2","type":"agent.thinking","processed_at":"2026-03-15T10:00:06Z","extra":[1,2],"text":"héllo ✓ 日本"}"#;

    fn framed() -> String {
        format!(
            ": keep-alive\n\nevent: ping\ndata: {{}}\n\nevent: agent.tool_use\ndata: {TOOL_USE}\n\n\
             data: {UNKNOWN}\n\nevent: message_without_data\n\n\
             event: session.status_idle\r\ndata: {{\"id\":\"sevt_3\",\r\ndata: \"type\":\"session.status_idle\",\"processed_at\":\"t\",\"stop_reason\":{{\"type\":\"end_turn\"}}}}\r\n\r\n"
        )
    }

    #[test]
    fn the_framing_the_notes_describe() {
        let events = events_of(vec![framed().into_bytes()]);
        assert_eq!(events.len(), 3, "{events:?}");
        let first: serde_json::Value = serde_json::from_str(events[0].as_ref().unwrap()).unwrap();
        assert_eq!(
            first,
            serde_json::from_str::<serde_json::Value>(TOOL_USE).unwrap()
        );
        // An unknown type, with no `event:` line: kept and serialised back
        // unchanged.
        let second: serde_json::Value = serde_json::from_str(events[1].as_ref().unwrap()).unwrap();
        assert_eq!(
            second,
            serde_json::from_str::<serde_json::Value>(UNKNOWN).unwrap()
        );
        // Two data lines, joined with `\n`, and CRLF line ends.
        assert!(events[2].as_ref().unwrap().contains("end_turn"));
    }

    #[test]
    fn an_error_event_ends_the_stream_with_a_retryable_error() {
        let text = format!(
            "event: agent.tool_use\ndata: {TOOL_USE}\n\nevent: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"busy\"}}}}\n\nevent: agent.tool_use\ndata: {TOOL_USE}\n\n"
        );
        let bytes = stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(text))]);
        let items: Vec<_> = futures::executor::block_on(
            EventStream::new(bytes, None, None, |never| match never {}).collect(),
        );
        assert_eq!(items.len(), 2, "nothing after the error");
        let error = items[1].as_ref().unwrap_err();
        assert!(error.is_retryable() && error.is_overloaded(), "{error}");
    }

    #[test]
    fn a_message_cut_off_by_the_end_is_an_error_never_an_event() {
        for cut in [
            format!("event: agent.tool_use\ndata: {TOOL_USE}\n"),
            format!("event: agent.tool_use\ndata: {}", &TOOL_USE[..20]),
            "event: agent.tool_use".to_owned(),
        ] {
            let events = events_of(vec![cut.clone().into_bytes()]);
            assert_eq!(events.len(), 1, "{cut:?}: {events:?}");
            assert!(
                events[0]
                    .as_ref()
                    .unwrap_err()
                    .contains("middle of an event")
            );
        }
        // A trailing comment or blank line is no cut.
        let events = events_of(vec![
            format!("data: {TOOL_USE}\n\n: keep-alive").into_bytes(),
        ]);
        assert_eq!(events.len(), 1);
        assert!(events[0].is_ok());
    }

    #[test]
    fn malformed_json_ends_the_stream_with_a_decode_error() {
        let events = events_of(vec![b"event: agent.tool_use\ndata: {not json\n\n".to_vec()]);
        assert_eq!(events.len(), 1);
        assert!(events[0].as_ref().unwrap_err().contains("could not decode"));
    }

    /// After an error the stream ends at once, without reading on: here the
    /// connection stays open forever after it (a timeout under paused time
    /// fails the test instead of hanging).
    #[tokio::test(start_paused = true)]
    async fn an_error_ends_the_stream_without_reading_on() {
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"m\"}}\n\n";
        for head in [
            error.as_bytes().to_vec(),
            b"data: {\"id\": \xff}\n\n".to_vec(),
        ] {
            let bytes = stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(head))])
                .chain(stream::pending());
            let stream = EventStream::new(bytes, None, None, |never| match never {});
            let items: Vec<_> = tokio::time::timeout(Duration::from_secs(1), stream.collect())
                .await
                .expect("the stream ended after its error");
            assert_eq!(items.len(), 1);
            assert!(items[0].is_err());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn silence_past_the_idle_timeout_is_a_timeout() {
        let bytes = stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(format!(
            "data: {TOOL_USE}\n\n"
        )))])
        .chain(stream::pending());
        let stream =
            EventStream::new(
                bytes,
                None,
                Some(Duration::from_secs(600)),
                |never| match never {},
            );
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 2);
        assert!(items[1].as_ref().unwrap_err().is_timeout());
    }

    proptest! {
        /// The same bytes split at any chunk boundaries give the same events.
        #[test]
        fn chunking_never_changes_the_events(cuts in proptest::collection::vec(0usize..400, 0..12)) {
            let text = framed().into_bytes();
            let whole = events_of(vec![text.clone()]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1)).collect();
            cuts.sort();
            let mut chunks = Vec::new();
            let mut start = 0;
            for cut in cuts {
                chunks.push(text[start..cut].to_vec());
                start = cut;
            }
            chunks.push(text[start..].to_vec());
            prop_assert_eq!(events_of(chunks), whole);
        }

        /// Arbitrary bytes never panic, and nothing follows an error.
        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let events = events_of(chunks);
            if let Some(first_error) = events.iter().position(|e| e.is_err()) {
                prop_assert_eq!(first_error, events.len() - 1);
            }
        }
    }

    #[test]
    fn the_stream_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let bytes = stream::iter([Ok::<_, std::convert::Infallible>(Bytes::new())]);
        let stream = EventStream::new(bytes, None, None, |never| match never {});
        is_send(&stream);
        let _ = futures::executor::block_on(stream.try_collect::<Vec<_>>());
    }
}
