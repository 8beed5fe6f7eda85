//! Retries as the official SDK makes them: which answers, how many, and how
//! long between (recorded, not slept).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use anthropic_environments::Client;
use common::*;

/// Fails with `status` (and `headers`) `failures` times, then succeeds.
fn flaky(
    failures: usize,
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
) -> impl Fn(&Recorded) -> Reply {
    let count = Arc::new(AtomicUsize::new(0));
    move |_| {
        if count.fetch_add(1, Ordering::SeqCst) < failures {
            let (s, mut h, b) = api_error(status, "api_error", "try again");
            h.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            (s, h, b)
        } else {
            ok(env_json("env_1"))
        }
    }
}

#[tokio::test]
async fn retryable_statuses_are_retried_twice_by_default() {
    for status in [408, 409, 429, 500, 503, 529] {
        let server = server(flaky(2, status, vec![])).await;
        let (client, sleep) = client(&server);
        let env = client
            .environments()
            .retrieve("env_1")
            .send()
            .await
            .unwrap();
        assert_eq!(env.id, "env_1");
        assert_eq!(server.requests().len(), 3, "{status}");
        let delays = sleep.delays();
        assert_eq!(delays.len(), 2);
        // min(0.5 s * 2^n, 8 s) times a jitter in [0.75, 1].
        assert!(
            delays[0] >= Duration::from_millis(375) && delays[0] <= Duration::from_millis(500),
            "{delays:?}"
        );
        assert!(
            delays[1] >= Duration::from_millis(750) && delays[1] <= Duration::from_secs(1),
            "{delays:?}"
        );
    }
}

#[tokio::test]
async fn retries_give_up_after_max_retries_with_the_last_error() {
    let server = server(flaky(100, 500, vec![])).await;
    let (client, sleep) = client(&server);
    let err = client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap(), 500);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(sleep.delays().len(), 2);
}

#[tokio::test]
async fn max_retries_per_client_and_per_request() {
    let server = server(flaky(100, 503, vec![])).await;
    let sleep = Arc::new(RecordingSleep::default());
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&server.base_url)
        .max_retries(4)
        .sleep_impl(sleep.clone())
        .build()
        .unwrap();
    client
        .environments()
        .retrieve("e")
        .send()
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 5);
    client
        .environments()
        .retrieve("e")
        .max_retries(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 6);
    client
        .environments()
        .retrieve("e")
        .max_retries(1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 8);
    let delays = sleep.delays();
    assert_eq!(delays.len(), 5);
    // The fourth backoff of the first request: min(0.5 * 2^3, 8) = 4 s with jitter.
    assert!(
        delays[3] >= Duration::from_secs(3) && delays[3] <= Duration::from_secs(4),
        "{delays:?}"
    );
}

#[tokio::test]
async fn non_retryable_statuses_are_not_retried() {
    for status in [400, 401, 403, 404, 412, 422] {
        let server = server(flaky(1, status, vec![])).await;
        let (client, sleep) = client(&server);
        let err = client
            .environments()
            .retrieve("e")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.status().unwrap(), status);
        assert_eq!(server.requests().len(), 1, "{status}");
        assert!(sleep.delays().is_empty());
    }
}

#[tokio::test]
async fn x_should_retry_is_obeyed_both_ways() {
    let no = server(flaky(1, 503, vec![("x-should-retry", "false")])).await;
    client(&no)
        .0
        .environments()
        .retrieve("e")
        .send()
        .await
        .unwrap_err();
    assert_eq!(no.requests().len(), 1);

    let yes = server(flaky(1, 400, vec![("x-should-retry", "true")])).await;
    client(&yes)
        .0
        .environments()
        .retrieve("e")
        .send()
        .await
        .unwrap();
    assert_eq!(yes.requests().len(), 2);
}

#[tokio::test]
async fn retry_after_headers_set_the_delay() {
    for (status, header, value, expected) in [
        (429, "retry-after-ms", "1234", Duration::from_millis(1234)),
        (529, "retry-after", "3", Duration::from_secs(3)),
        // The server may ask for more than the 8 s backoff cap.
        (500, "retry-after", "12", Duration::from_secs(12)),
    ] {
        let srv = server(flaky(1, status, vec![(header, value)])).await;
        let (c, sleep) = client(&srv);
        c.environments().retrieve("e").send().await.unwrap();
        assert_eq!(sleep.delays(), [expected], "{header}: {value}");
    }
}

/// The last answer's ask is on the error the caller gets (the client's
/// retries spent), in every form `retry-after` takes.
#[tokio::test]
async fn the_error_says_how_long_the_server_asked_to_wait() {
    let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(90));
    for (header, value, expected) in [
        ("retry-after-ms", "1500".to_owned(), Some(1500)),
        ("retry-after", "7".to_owned(), Some(7000)),
        ("retry-after", in_a_minute, Some(90_000)),
        ("x-other", "1".to_owned(), None),
    ] {
        let srv = server(flaky(usize::MAX, 429, vec![(header, value.leak())])).await;
        let (c, _) = client(&srv);
        let err = c
            .environments()
            .retrieve("e")
            .max_retries(0)
            .send()
            .await
            .unwrap_err();
        let asked = err.retry_after().map(|d| d.as_millis());
        match expected {
            // An HTTP date has whole seconds, and time passes: within 2 s.
            Some(ms) if header == "retry-after" && ms > 60_000 => {
                let asked = asked.expect("the date's wait");
                assert!(asked <= ms && asked + 2000 >= ms, "{asked}");
            }
            _ => assert_eq!(asked, expected, "{header}"),
        }
    }
}

#[tokio::test]
async fn a_retried_post_sends_the_same_body_each_time() {
    let server = server(flaky(2, 500, vec![])).await;
    let (client, _) = client(&server);
    client
        .environments()
        .update("env_1")
        .name("x")
        .send()
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(r.json().unwrap(), json!({"name": "x"}));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    let sleep = Arc::new(RecordingSleep::default());
    let client = Client::builder()
        .api_key(KEY)
        .base_url(closed_loopback_url())
        .sleep_impl(sleep.clone())
        .build()
        .unwrap();
    let err = client.work("env_1").stats().send().await.unwrap_err();
    assert!(
        matches!(err, anthropic_environments::Error::Connection { .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(sleep.delays().len(), 2, "two retries before giving up");
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    // The server holds the answer for 2 s; the attempt timeout is 100 ms.
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        "{}"
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sleep = Arc::new(RecordingSleep::default());
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}"))
        .timeout(Duration::from_millis(100))
        .max_retries(1)
        .sleep_impl(sleep.clone())
        .build()
        .unwrap();
    let err = client
        .environments()
        .retrieve("e")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(sleep.delays().len(), 1, "a timeout is retried");
    task.abort();
}

#[tokio::test]
async fn a_hostile_retry_after_is_bounded_by_the_clients_own_backoff() {
    for (name, value) in [
        ("retry-after", "86400"),
        ("retry-after", "1e300"),
        ("retry-after-ms", "600000"),
        ("retry-after", "Sun, 06 Nov 2994 08:49:37 GMT"),
    ] {
        let server = server(flaky(2, 429, vec![(name, value)])).await;
        let (client, sleep) = client(&server);
        client
            .environments()
            .retrieve("env_1")
            .send()
            .await
            .unwrap();
        let delays = sleep.delays();
        assert_eq!(delays.len(), 2, "{name}: {value}");
        assert!(
            delays.iter().all(|d| *d <= Duration::from_secs(1)),
            "{name}: {value} -> {delays:?}"
        );
    }
}

#[tokio::test]
async fn the_cap_on_server_asked_waits_is_configurable() {
    let server = server(flaky(1, 503, vec![("retry-after", "90")])).await;
    let sleep = Arc::new(RecordingSleep::default());
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&server.base_url)
        .sleep_impl(sleep.clone())
        .max_retry_after(Duration::from_secs(120))
        .build()
        .unwrap();
    client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap();
    assert_eq!(sleep.delays(), [Duration::from_secs(90)]);
}

#[tokio::test]
async fn an_answer_cut_mid_body_is_retried_like_a_connection_error() {
    let (base_url, accepted) = breaks_mid_answer(1).await;
    let (client, sleep) = client_at(&base_url);
    let env = client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap();
    assert_eq!(env.id, "env_1");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(sleep.delays().len(), 1, "one retry after the cut answer");
}

#[tokio::test]
async fn a_cut_answer_on_the_last_attempt_is_a_connection_error() {
    let (base_url, accepted) = breaks_mid_answer(usize::MAX).await;
    let (client, sleep) = client_at(&base_url);
    let err = client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, anthropic_environments::Error::Connection { .. }),
        "{err:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "the first try and two retries"
    );
    assert_eq!(sleep.delays().len(), 2);
}
