//! The operation table and the wire constants, from the spec: every
//! operation's id, method, path template, tag, span name (`x-span-name`)
//! and accepted credentials (`x-credentials`), and the API version
//! (`info.version`), the managed-agents beta (`info.x-managed-agents-beta`)
//! and `NO_HEARTBEAT` (`info.x-no-heartbeat`).
//!
//! Emitted as two modules of the generated file, `operations` (one
//! constant per operation, named for its id, and `ALL` in spec order) and
//! `wire`, whose types (`Operation`, `Credential`) the raw crate defines by
//! hand. Adding an operation to the spec changes no hand-written table;
//! removing one fails the build wherever its constant was used.

use anyhow::{Context, Result};
use openapiv3::OpenAPI;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The extension naming an operation's accepted credentials.
pub const CREDENTIALS: &str = "x-credentials";
/// The extension naming an operation's span.
pub const SPAN_NAME: &str = "x-span-name";

/// One operation as the table holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The spec's `operationId`.
    pub id: String,
    /// The HTTP method, upper case.
    pub method: String,
    /// The path template (`/v1/environments/{environment_id}`).
    pub path: String,
    /// The operation's first tag.
    pub tag: String,
    /// `x-span-name`.
    pub span_name: String,
    /// `x-credentials`, as written (`api_key`, `environment_key`,
    /// `sessions_token`).
    pub credentials: Vec<String>,
}

/// The credential names `x-credentials` may hold, and their variant.
const CREDENTIAL_VARIANTS: [(&str, &str); 3] = [
    ("api_key", "ApiKey"),
    ("environment_key", "EnvironmentKey"),
    ("sessions_token", "SessionsToken"),
];

/// Every operation of the spec, in spec order. A credential name not known
/// here is an error; an operation without the extensions gets a span named
/// `anthropic.{tag}.{operationId}` and no credential (the project's spec
/// has both on every operation: a test of the tests crate holds it).
pub fn rows(spec: &OpenAPI) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (path, method, op) in spec.operations() {
        let id = op
            .operation_id
            .clone()
            .with_context(|| format!("{method} {path} has no operationId"))?;
        let tag = op.tags.first().cloned().unwrap_or_default();
        // Without the extensions (a spec that does not say): a span named
        // for the tag and id, and no credential listed.
        let span_name = match op.extensions.get(SPAN_NAME) {
            None => format!("anthropic.{tag}.{id}"),
            Some(v) => v
                .as_str()
                .with_context(|| format!("{id}: {SPAN_NAME} is not a string"))?
                .to_owned(),
        };
        let listed = match op.extensions.get(CREDENTIALS) {
            None => Vec::new(),
            Some(v) => v
                .as_array()
                .with_context(|| format!("{id}: {CREDENTIALS} is not a list"))?
                .clone(),
        };
        let credentials: Vec<String> = listed
            .iter()
            .map(|v| {
                let name = v.as_str().unwrap_or_default();
                CREDENTIAL_VARIANTS
                    .iter()
                    .any(|(known, _)| *known == name)
                    .then(|| name.to_owned())
                    .with_context(|| format!("{id}: unknown credential {v} in {CREDENTIALS}"))
            })
            .collect::<Result<_>>()?;
        rows.push(Row {
            id,
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            tag,
            span_name,
            credentials,
        });
    }
    Ok(rows)
}

/// A wire constant from an `info` extension.
fn info_string(spec: &OpenAPI, name: &str) -> Result<String> {
    spec.info
        .extensions
        .get(name)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .with_context(|| format!("info.{name} is missing or not a string"))
}

/// The `operations` and `wire` modules.
pub fn emit(spec: &OpenAPI) -> Result<TokenStream> {
    let rows = rows(spec)?;
    let consts = rows.iter().map(|row| {
        let name = format_ident!("{}", row.id.to_ascii_uppercase());
        let (id, method, path, tag, span) =
            (&row.id, &row.method, &row.path, &row.tag, &row.span_name);
        let credentials = row.credentials.iter().map(|c| {
            let variant = CREDENTIAL_VARIANTS
                .iter()
                .find(|(known, _)| known == c)
                .map(|(_, v)| format_ident!("{v}"))
                .expect("checked by rows()");
            quote!(Credential::#variant)
        });
        let doc = format!("`{method} {path}`: `{id}`.");
        quote! {
            #[doc = #doc]
            pub const #name: Operation = Operation {
                id: #id,
                method: #method,
                path: #path,
                tag: #tag,
                span_name: #span,
                credentials: &[#(#credentials),*],
            };
        }
    });
    let names: Vec<_> = rows
        .iter()
        .map(|row| format_ident!("{}", row.id.to_ascii_uppercase()))
        .collect();
    let version = &spec.info.version;
    let beta = info_string(spec, "x-managed-agents-beta").unwrap_or_default();
    let no_heartbeat = info_string(spec, "x-no-heartbeat").unwrap_or_default();
    Ok(quote! {
        /// Every operation of the spec: its id, method, path template, tag,
        /// span name and accepted credentials (generated from the spec's
        /// `x-span-name` and `x-credentials`).
        pub mod operations {
            use crate::operation::{Credential, Operation};
            #(#consts)*
            /// Every operation, in the spec's order.
            pub const ALL: &[Operation] = &[#(#names),*];
            /// Calls the macro `$m` with the constant name of every
            /// operation (`$m!(LIST_ENVIRONMENTS, ...)`), for code that
            /// needs one item per operation at compile time (a tracing
            /// callsite per span name).
            #[macro_export]
            #[doc(hidden)]
            macro_rules! with_every_operation {
                ($m:ident) => {
                    $m!(#(#names),*)
                };
            }
            /// The operation whose `operationId` is `id`.
            pub fn find(id: &str) -> Option<&'static Operation> {
                ALL.iter().find(|op| op.id == id)
            }
        }
        /// Wire constants of this API version, from the spec's `info`.
        pub mod wire {
            /// The `anthropic-version` every request carries (`info.version`).
            pub const API_VERSION: &str = #version;
            /// The beta every environment and work call carries, last in
            /// `anthropic-beta` (`info.x-managed-agents-beta`).
            pub const MANAGED_AGENTS_BETA: &str = #beta;
            /// The `expected_last_heartbeat` of the first heartbeat of a
            /// lease (`info.x-no-heartbeat`).
            pub const NO_HEARTBEAT: &str = #no_heartbeat;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(credentials: &str) -> OpenAPI {
        let text = format!(
            "openapi: 3.0.3\n\
             info: {{title: t, version: '1', x-managed-agents-beta: b, x-no-heartbeat: N}}\n\
             paths:\n  /v1/things:\n    get:\n      operationId: list_things\n      \
             tags: [things]\n      x-span-name: anthropic.things.list\n      \
             x-credentials: {credentials}\n      responses: {{'200': {{description: ok}}}}\n"
        );
        crate::parse_spec(&text).unwrap()
    }

    #[test]
    fn each_operation_becomes_a_row() {
        let rows = rows(&spec("[environment_key, api_key]")).unwrap();
        assert_eq!(
            rows,
            [Row {
                id: "list_things".into(),
                method: "GET".into(),
                path: "/v1/things".into(),
                tag: "things".into(),
                span_name: "anthropic.things.list".into(),
                credentials: vec!["environment_key".into(), "api_key".into()],
            }]
        );
        let code = emit(&spec("[api_key]")).unwrap().to_string();
        assert!(code.contains("pub const LIST_THINGS"), "{code}");
        assert!(
            code.contains("pub const API_VERSION : & str = \"1\""),
            "{code}"
        );
    }

    #[test]
    fn unknown_credentials_are_errors_and_missing_extensions_defaults() {
        let err = rows(&spec("[password]")).unwrap_err();
        assert!(err.to_string().contains("unknown credential"), "{err}");
        let err = rows(&spec("api_key")).unwrap_err();
        assert!(err.to_string().contains("is not a list"), "{err}");
        let bare = crate::parse_spec(
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /v1/x:\n    get:\n      \
             operationId: get_x\n      tags: [xs]\n      responses: {'200': {description: ok}}\n",
        )
        .unwrap();
        let rows = rows(&bare).unwrap();
        assert_eq!(rows[0].span_name, "anthropic.xs.get_x");
        assert!(rows[0].credentials.is_empty());
    }
}
