//! Pages and streams across pages.

mod common;

use futures::{StreamExt, TryStreamExt};

use common::*;

/// 7 environments in pages of `limit` (default 3): cursors `p1`, `p2`, ...
fn paged(r: &Recorded) -> Reply {
    let q = r.query_pairs();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let limit: usize = get("limit").map(|l| l.parse().unwrap()).unwrap_or(3);
    let start: usize = get("page").map(|p| p[1..].parse().unwrap()).unwrap_or(0);
    let end = (start + limit).min(7);
    let data: Vec<Value> = (start..end)
        .map(|i| env_json(&format!("env_{i}")))
        .collect();
    let next = (end < 7).then(|| format!("p{end}"));
    if r.path.ends_with("/work") {
        let data: Vec<Value> = (start..end)
            .map(|i| work_json(&format!("work_{i}"), "queued"))
            .collect();
        return ok(json!({"data": data, "next_page": next}));
    }
    ok(json!({"data": data, "next_page": next}))
}

#[tokio::test]
async fn stream_yields_every_item_across_three_pages() {
    let server = server(paged).await;
    let (client, _) = client(&server);
    let ids: Vec<String> = client
        .environments()
        .list()
        .into_stream()
        .map_ok(|e| e.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, (0..7).map(|i| format!("env_{i}")).collect::<Vec<_>>());
    let cursors: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|r| {
            r.query_pairs()
                .into_iter()
                .find(|(k, _)| k == "page")
                .map(|(_, v)| v)
        })
        .collect();
    assert_eq!(cursors, [None, Some("p3".into()), Some("p6".into())]);
}

#[tokio::test]
async fn pages_are_fetched_only_when_reached() {
    let server = server(paged).await;
    let (client, _) = client(&server);
    let mut stream = client.environments().list().into_stream();
    assert_eq!(server.requests().len(), 0, "nothing before the first poll");
    stream.next().await.unwrap().unwrap();
    assert_eq!(server.requests().len(), 1);
    for _ in 0..2 {
        stream.next().await.unwrap().unwrap();
    }
    assert_eq!(server.requests().len(), 1, "the first page still serves");
    stream.next().await.unwrap().unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn limit_and_start_cursor_are_honoured() {
    let server = server(paged).await;
    let (client, _) = client(&server);
    let pages: Vec<_> = client
        .environments()
        .list()
        .limit(2)
        .page("p1")
        .into_pages()
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.data.len()).collect();
    assert_eq!(sizes, [2, 2, 2]);
    assert_eq!(pages[0].data[0].id, "env_1");
    assert_eq!(pages[2].next_page, None);
    assert!(pages[0].has_next_page() && !pages[2].has_next_page());
    for r in server.requests() {
        assert!(r.query_pairs().contains(&("limit".into(), "2".into())));
    }
}

#[tokio::test]
async fn work_items_stream_too() {
    let server = server(paged).await;
    let (client, _) = client(&server);
    let items: Vec<_> = client
        .work("env_1")
        .list()
        .limit(4)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items.len(), 7);
    assert_eq!(server.requests().len(), 2);
    let page = client.work("env_1").list().limit(4).send().await.unwrap();
    assert_eq!(page.next_page.as_deref(), Some("p4"));
}

#[tokio::test]
async fn an_error_mid_stream_ends_it_with_that_error() {
    let server = server(|r| {
        if r.query.as_deref().unwrap_or("").contains("page=p3") {
            api_error(404, "not_found_error", "cursor expired")
        } else {
            paged(r)
        }
    })
    .await;
    let (client, _) = client(&server);
    let results: Vec<_> = client.environments().list().into_stream().collect().await;
    assert_eq!(results.len(), 4);
    assert!(results[..3].iter().all(Result::is_ok));
    assert!(results[3].as_ref().unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_server_repeating_a_cursor_ends_the_stream_with_an_error() {
    // Page 1 points to p1, p1 points to p2, p2 points back to p1.
    let server = server(|r| {
        let page = r
            .query_pairs()
            .into_iter()
            .find(|(k, _)| k == "page")
            .map(|(_, v)| v);
        let (id, next) = match page.as_deref() {
            None => ("env_0", "p1"),
            Some("p1") => ("env_1", "p2"),
            _ => ("env_2", "p1"),
        };
        ok(json!({"data": [env_json(id)], "next_page": next}))
    })
    .await;
    let (client, _) = client(&server);
    let results: Vec<_> = client.environments().list().into_stream().collect().await;
    let ids: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|e| e.id.clone()))
        .collect();
    assert_eq!(ids, ["env_0", "env_1", "env_2"]);
    match results.last().unwrap() {
        Err(anthropic_environments::Error::PaginationLoop {
            operation, cursor, ..
        }) => {
            assert_eq!((*operation, cursor.as_str()), ("list_environments", "p1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.requests().len(),
        3,
        "the repeated page is not fetched"
    );
}

#[tokio::test]
async fn a_page_is_read_through_accessors_and_iterated_by_reference() {
    let server = server(paged).await;
    let (client, _) = client(&server);
    let page = client.environments().list().send().await.unwrap();
    assert_eq!(page.data().len(), 3);
    assert_eq!(page.next_page(), Some("p3"));
    assert_eq!(page.request_id(), Some("req_ok"));
    let ids: Vec<&str> = (&page).into_iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["env_0", "env_1", "env_2"]);
    assert_eq!(page.iter().count(), 3);
    let mut n = 0;
    for environment in &page {
        assert!(environment.id.starts_with("env_"));
        n += 1;
    }
    assert_eq!(
        n, 3,
        "the page is still usable after iterating by reference"
    );
    assert_eq!(page.into_iter().count(), 3);
}
