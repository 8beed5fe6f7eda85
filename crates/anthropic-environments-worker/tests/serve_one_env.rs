//! `ServeOne::from_env`: the variables an `--on-work` poller hands to the
//! process it starts. Alone in its test binary: it sets process variables.

use anthropic_environments::Client;
use anthropic_environments::credentials::CredentialKind;
use anthropic_environments::params::SelfHostedConfig;
use anthropic_environments_mock::{CallerKind, MockServer};
use anthropic_environments_worker::{ItemOutcome, ServeOne, WorkContext};

#[test]
fn serves_the_item_the_variables_name_with_the_secret_from_a_private_file() {
    // One thread (nothing else reads the environment while the test sets
    // it), on paused time.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let server = runtime.block_on(MockServer::builder().strict_credentials().start());
    let (env, work, secret, key) = runtime.block_on(async {
        let admin = Client::builder()
            .api_key("sk-ant-api-admin")
            .base_url(server.base_url())
            .build()
            .unwrap();
        let env = admin
            .environments()
            .create("serve-one")
            .config(SelfHostedConfig)
            .send()
            .await
            .unwrap()
            .id;
        let key = server.environment_key(&env).unwrap();
        server.queue_work(&env, "session_env").unwrap();
        let poller = Client::builder()
            .environment_key(&key)
            .base_url(server.base_url())
            .build()
            .unwrap();
        let work = poller.work(&env).poll().send().await.unwrap().unwrap();
        poller.work(&env).ack(&work.id).send().await.unwrap();
        let secret = work.secret.clone().unwrap();
        (env, work.id, secret, key)
    });
    let dir = std::env::temp_dir().join(format!("serve-one-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("work-secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // SAFETY: set before any other thread of this test binary reads the
    // environment (the runtime's threads do not).
    unsafe {
        std::env::set_var("ANTHROPIC_WORK_ID", &work);
        std::env::set_var("ANTHROPIC_ENVIRONMENT_ID", &env);
        std::env::set_var("ANTHROPIC_SESSION_ID", "session_env");
        std::env::set_var("ANTHROPIC_ENVIRONMENT_KEY", &key);
        std::env::set_var("ANTHROPIC_WORK_SECRET_FILE", &secret_file);
        std::env::set_var("ANTHROPIC_BASE_URL", server.base_url());
        std::env::remove_var("ANTHROPIC_WORK_SECRET");
        std::env::remove_var("ANTHROPIC_API_KEY");
    }
    server.clear_requests();
    let outcome = runtime.block_on(async {
        ServeOne::from_env()
            .unwrap()
            .build()
            .unwrap()
            .run(|ctx: WorkContext| async move {
                if ctx.session_id() != Some("session_env")
                    || ctx.client().credential_kind() != CredentialKind::SessionsToken
                {
                    return Err(std::io::Error::other(format!("{ctx:?}")));
                }
                Ok(())
            })
            .await
    });
    assert_eq!(outcome.outcome, ItemOutcome::Succeeded);
    let requests = server.requests();
    let ops: Vec<_> = requests
        .iter()
        .map(|r| r.operation.clone().unwrap())
        .collect();
    assert_eq!(ops, ["heartbeat_work", "stop_work"]);
    assert!(requests.iter().all(
        |r| matches!(&r.caller, CallerKind::SessionsToken { work_id, .. } if *work_id == work)
    ));
    assert_eq!(
        server.work_items(&env)[0].state.as_str(),
        "stopped",
        "force-stopped after the handler"
    );
    // A world-readable secret file is refused before anything is sent.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = ServeOne::from_env().unwrap_err();
        assert!(err.to_string().contains("world-readable"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // Client::from_env takes the first of ANTHROPIC_API_KEY,
    // ANTHROPIC_AUTH_TOKEN and ANTHROPIC_ENVIRONMENT_KEY.
    let kind = || Client::from_env().unwrap().credential_kind();
    assert_eq!(kind(), CredentialKind::EnvironmentKey);
    // SAFETY: as above; the runtime's threads do not read the environment.
    unsafe { std::env::set_var("ANTHROPIC_AUTH_TOKEN", "oauth-token") };
    assert_eq!(kind(), CredentialKind::AuthToken);
    unsafe { std::env::set_var("ANTHROPIC_API_KEY", "sk-ant-api-x") };
    assert_eq!(kind(), CredentialKind::ApiKey);
    unsafe {
        for var in [
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_ENVIRONMENT_KEY",
        ] {
            std::env::remove_var(var);
        }
    }
    let err = Client::from_env().unwrap_err();
    assert!(
        err.to_string().contains("ANTHROPIC_ENVIRONMENT_KEY"),
        "{err}"
    );
}
