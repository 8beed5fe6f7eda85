//! The header map progenitor builds for every request.
//!
//! - No `api-version`: progenitor appends `api-version: <info.version>` to
//!   every request. This API versions requests with `anthropic-version` (a
//!   default header of the client) and has no `api-version`; the official
//!   SDKs never send one. Codegen removes the statement that appends it (the
//!   raw crate's hooks used to remove the header at run time, per request).
//! - A map that allocates only once a header is set: progenitor sizes it
//!   with `HeaderMap::with_capacity(n)`, which allocates even when none of
//!   the operation's optional header parameters is given (the common case);
//!   codegen makes it `HeaderMap::new()`.

use anyhow::{Result, bail};
use syn::visit_mut::{self, VisitMut};

/// Rewrites the header map of every generated method (see the module
/// docs). `operations` is how many the spec has, and each must have had
/// exactly one `api-version` statement and one `with_capacity` map: a
/// progenitor that generates them differently fails here instead of
/// putting the header back on the wire.
pub fn rewrite(file: &mut syn::File, operations: usize) -> Result<()> {
    let mut rewriter = Rewriter::default();
    rewriter.visit_file_mut(file);
    if rewriter.api_versions_removed != operations || rewriter.maps_made_lazy != operations {
        bail!(
            "expected one `api-version` header statement and one `HeaderMap::with_capacity` \
             per operation ({operations}), found {} and {}: has progenitor changed how it \
             builds request headers?",
            rewriter.api_versions_removed,
            rewriter.maps_made_lazy
        );
    }
    Ok(())
}

#[derive(Default)]
struct Rewriter {
    api_versions_removed: usize,
    maps_made_lazy: usize,
}

impl VisitMut for Rewriter {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let before = block.stmts.len();
        block.stmts.retain(|stmt| !appends_api_version(stmt));
        self.api_versions_removed += before - block.stmts.len();
        visit_mut::visit_block_mut(self, block);
    }

    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        if let syn::Expr::Call(call) = expr
            && path_ends_with(&call.func, &["HeaderMap", "with_capacity"])
        {
            *expr = syn::parse_quote!(::reqwest::header::HeaderMap::new());
            self.maps_made_lazy += 1;
            return;
        }
        visit_mut::visit_expr_mut(self, expr);
    }
}

/// Whether `expr` is a path whose last segments are `tail`.
fn path_ends_with(expr: &syn::Expr, tail: &[&str]) -> bool {
    let syn::Expr::Path(path) = expr else {
        return false;
    };
    let segments: Vec<_> = path.path.segments.iter().map(|s| &s.ident).collect();
    segments.len() >= tail.len()
        && segments[segments.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(ident, name)| *ident == name)
}

/// Whether `stmt` is `<map>.append(<path>::from_static("api-version"), <value>);`.
fn appends_api_version(stmt: &syn::Stmt) -> bool {
    let syn::Stmt::Expr(syn::Expr::MethodCall(call), Some(_)) = stmt else {
        return false;
    };
    if call.method != "append" || call.args.len() != 2 {
        return false;
    }
    let syn::Expr::Call(name) = &call.args[0] else {
        return false;
    };
    path_ends_with(&name.func, &["from_static"])
        && matches!(
            name.args.first(),
            Some(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. })) if s.value() == "api-version"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_the_api_version_append_and_makes_the_map_lazy() {
        let mut file: syn::File = syn::parse_quote! {
            async fn send() {
                let mut header_map = ::reqwest::header::HeaderMap::with_capacity(2usize);
                header_map.append(
                    ::reqwest::header::HeaderName::from_static("api-version"),
                    ::reqwest::header::HeaderValue::from_static(super::Client::api_version()),
                );
                header_map.append(
                    ::reqwest::header::HeaderName::from_static("anthropic-worker-id"),
                    value,
                );
            }
        };
        rewrite(&mut file, 1).unwrap();
        let text = prettyplease::unparse(&file);
        assert!(!text.contains("\"api-version\""), "{text}");
        assert!(text.contains("\"anthropic-worker-id\""), "{text}");
        assert!(text.contains("HeaderMap::new()"), "{text}");
        assert!(!text.contains("with_capacity"), "{text}");
    }

    #[test]
    fn a_count_that_differs_from_the_operations_is_an_error() {
        let mut file: syn::File = syn::parse_quote! {
            async fn send() {
                let mut header_map = HeaderMap::with_capacity(1usize);
                header_map.append(HeaderName::from_static("other"), value);
            }
        };
        let err = rewrite(&mut file, 1).unwrap_err();
        assert!(err.to_string().contains("found 0 and 1"), "{err}");
    }
}
