//! Streaming 100,000 work items keeps one page in memory: the process's
//! resident memory after the last page is what it was after the tenth.
//! Alone in its test binary, so that no other test moves the number.

mod common;

use anthropic_environments_mock::MockServer;
use futures::TryStreamExt;

/// Resident memory of this process in bytes (Linux: /proc/self/statm).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_100_000_items_keeps_memory_flat() {
    const ITEMS: usize = 100_000;
    let server = MockServer::builder().journal_capacity(0).start().await;
    let (client, env) = common::mock_environment(&server, "many").await;
    for i in 0..ITEMS {
        server.queue_work(&env, &format!("session_{i}")).unwrap();
    }
    let mut stream = client.work(&env).list().limit(1000).into_stream();
    let (mut seen, mut after_ten_pages) = (0usize, None);
    while let Some(item) = stream.try_next().await.unwrap() {
        assert!(item.id.starts_with("work_"));
        seen += 1;
        if seen == 10_000 {
            after_ten_pages = resident_bytes();
        }
    }
    let at_the_end = resident_bytes().unwrap();
    let after_ten_pages = after_ten_pages.unwrap();
    assert_eq!(seen, ITEMS);
    // Holding the 90,000 items streamed since would take well over 50 MB.
    let growth = at_the_end.saturating_sub(after_ten_pages);
    assert!(
        growth < 16 * 1024 * 1024,
        "resident memory grew by {} MiB over 90 pages",
        growth / (1024 * 1024)
    );
}
