//! The API key never shows in Debug output, errors or traces.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use anthropic_environments::{ApiKey, Client};
use common::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_key_is_never_printed() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = server(|_| api_error(401, "authentication_error", "invalid x-api-key")).await;
    let (client, _) = client(&server);
    let builder = Client::builder().api_key(KEY);
    for text in [
        format!("{client:?}"),
        format!("{builder:?}"),
        format!("{:?}", ApiKey::new(KEY)),
    ] {
        assert!(!text.contains(KEY), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }
    let err = client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_auth_error());
    assert!(!format!("{err}").contains("SECRET"));
    assert!(!format!("{err:?}").contains("SECRET"));

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrieve_environment"),
        "the request span is traced: {logs}"
    );
    assert!(!logs.contains("SECRET"), "{logs}");
}
