//! Inputs that can't be valid fail before any request, with a typed error.

mod common;

use anthropic_environments::Error;
use common::*;

fn field(err: Error) -> &'static str {
    match err {
        Error::InvalidInput { field, .. } => field,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bad_ids_and_bounds_send_nothing() {
    let server = server(|_| ok(env_json("env_1"))).await;
    let (client, _) = client(&server);
    let envs = client.environments();
    for bad in ["", "a/b", "..", "a?b", "a#b", "x y"] {
        assert_eq!(
            field(envs.retrieve(bad).send().await.unwrap_err()),
            "environment_id",
            "{bad:?}"
        );
        assert_eq!(
            field(envs.delete(bad).send().await.unwrap_err()),
            "environment_id"
        );
        assert_eq!(
            field(envs.archive(bad).send().await.unwrap_err()),
            "environment_id"
        );
        assert_eq!(
            field(envs.update(bad).send().await.unwrap_err()),
            "environment_id"
        );
        let q = client.work(bad);
        assert_eq!(field(q.poll().send().await.unwrap_err()), "environment_id");
        assert_eq!(field(q.stats().send().await.unwrap_err()), "environment_id");
        assert_eq!(field(q.list().send().await.unwrap_err()), "environment_id");
        let q = client.work("env_1");
        assert_eq!(field(q.ack(bad).send().await.unwrap_err()), "work_id");
        assert_eq!(field(q.heartbeat(bad).send().await.unwrap_err()), "work_id");
        assert_eq!(field(q.stop(bad).send().await.unwrap_err()), "work_id");
        assert_eq!(field(q.retrieve(bad).send().await.unwrap_err()), "work_id");
        assert_eq!(field(q.update(bad).send().await.unwrap_err()), "work_id");
    }
    let q = client.work("env_1");
    assert_eq!(
        field(q.poll().block_ms(0).send().await.unwrap_err()),
        "block_ms"
    );
    assert_eq!(
        field(q.poll().block_ms(1000).send().await.unwrap_err()),
        "block_ms"
    );
    assert_eq!(
        field(
            q.heartbeat("w")
                .desired_ttl_seconds(0)
                .send()
                .await
                .unwrap_err()
        ),
        "desired_ttl_seconds"
    );
    assert_eq!(
        field(envs.list().limit(0).send().await.unwrap_err()),
        "limit"
    );
    assert_eq!(field(envs.create("").send().await.unwrap_err()), "name");
    assert_eq!(
        field(envs.retrieve("e").beta("a,b").send().await.unwrap_err()),
        "beta"
    );
    assert_eq!(
        field(
            envs.retrieve("e")
                .header("bad name", "v")
                .send()
                .await
                .unwrap_err()
        ),
        "header"
    );
    assert!(server.requests().is_empty(), "no request was sent");
    let err = q.poll().block_ms(1000).send().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid block_ms: 1000 is outside 1-999 milliseconds"
    );
}
