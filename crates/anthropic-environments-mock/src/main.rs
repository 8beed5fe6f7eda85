//! `anthropic-environments-mock --listen 127.0.0.1:4010 [--api-key KEY]
//! [--credentials any|strict]`: serves the mock API until stopped (Ctrl-C).

use std::net::SocketAddr;
use std::process::ExitCode;

use anthropic_environments_mock::{CredentialMode, MockServer};

const USAGE: &str = "usage: anthropic-environments-mock [--listen ADDR] [--api-key KEY] [--credentials any|strict]\n\
    \n  --listen ADDR             address to bind (default 127.0.0.1:4010)\
    \n  --api-key KEY             accept only this API key (default: any non-empty key)\
    \n  --credentials any|strict  any: every endpoint takes any credential (default);\
    \n                            strict: each endpoint takes the credentials the real API does\
    \n                            (environment keys from GET /_mock/environments/{id}/key,\
    \n                            sessions tokens in each poll's secret)";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 4010));
    let mut api_key = None;
    let mut mode = CredentialMode::Any;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => match args.next().map(|a| a.parse()) {
                Some(Ok(addr)) => listen = addr,
                _ => {
                    eprintln!("--listen needs an address like 127.0.0.1:4010\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--api-key" => match args.next() {
                Some(key) if !key.is_empty() => api_key = Some(key),
                _ => {
                    eprintln!("--api-key needs a key\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--credentials" => match args.next().as_deref() {
                Some("any") => mode = CredentialMode::Any,
                Some("strict") => mode = CredentialMode::Strict,
                _ => {
                    eprintln!("--credentials takes any or strict\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument {other}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let mut builder = MockServer::builder().listen(listen).credential_mode(mode);
    if let Some(key) = api_key {
        builder = builder.api_key(key);
    }
    let server = match builder.try_start().await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("could not listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", server.base_url());
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}
