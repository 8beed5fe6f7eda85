//! Request URLs built from a base URL parsed once.
//!
//! progenitor builds each request's URL with
//! `format!("{}/v1/environments/{}", client.baseurl, encode_path(&id.to_string()))`
//! and hands the string to reqwest, which parses all of it: the largest
//! single CPU cost of a request. Codegen rewrites that statement into
//! `client.request_url(&["v1", "environments", id.to_string().as_str()])`,
//! the raw crate's hand-written builder (`urls.rs`): it clones the base URL
//! parsed once and appends the segments, percent-encoded with the same set
//! as `encode_path`.

use anyhow::{Context, Result, bail};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};

/// Rewrites the URL statement of every generated method; `operations` is
/// how many the spec has, and each must have had exactly one.
pub fn rewrite(file: &mut syn::File, operations: usize) -> Result<()> {
    let mut rewriter = Rewriter {
        rewritten: 0,
        error: None,
    };
    rewriter.visit_file_mut(file);
    if let Some(error) = rewriter.error {
        return Err(error);
    }
    if rewriter.rewritten != operations {
        bail!(
            "expected one `let url = format!(..)` per operation ({operations}), found {}: \
             has progenitor changed how it builds URLs?",
            rewriter.rewritten
        );
    }
    Ok(())
}

struct Rewriter {
    rewritten: usize,
    error: Option<anyhow::Error>,
}

impl VisitMut for Rewriter {
    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        let is_url = matches!(&local.pat, syn::Pat::Ident(p) if p.ident == "url");
        if let (true, Some(init)) = (is_url, &mut local.init)
            && let syn::Expr::Macro(m) = &*init.expr
            && m.mac.path.is_ident("format")
        {
            match segments_call(&m.mac.tokens) {
                Ok(call) => {
                    *init.expr = call;
                    self.rewritten += 1;
                }
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
            return;
        }
        visit_mut::visit_local_mut(self, local);
    }
}

/// The arguments of progenitor's `format!`: the template, then expressions.
struct FormatArgs {
    template: syn::LitStr,
    args: Vec<syn::Expr>,
}

impl Parse for FormatArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let template: syn::LitStr = input.parse()?;
        let mut args = Vec::new();
        if !input.is_empty() {
            input.parse::<syn::Token![,]>()?;
            let rest = Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated(input)?;
            args.extend(rest);
        }
        Ok(FormatArgs { template, args })
    }
}

/// `client.request_url(&[..]).map_err(Error::InvalidRequest)?` for the
/// tokens of progenitor's `format!("{}/a/{}/b", client.baseurl, encode_path(&x), ..)`.
fn segments_call(tokens: &proc_macro2::TokenStream) -> Result<syn::Expr> {
    let FormatArgs { template, args } =
        syn::parse2(tokens.clone()).context("progenitor's URL format! does not parse")?;
    let template = template.value();
    let mut args = args.into_iter();
    let base = args
        .next()
        .context("the URL format! has no base URL argument")?;
    if quote!(#base).to_string() != "client . baseurl" {
        bail!("the URL format! does not start with client.baseurl: {template}");
    }
    let path = template
        .strip_prefix("{}/")
        .with_context(|| format!("the URL template {template:?} does not start with {{}}/"))?;
    let mut segments: Vec<syn::Expr> = Vec::new();
    for piece in path.split('/') {
        if piece == "{}" {
            let arg = args
                .next()
                .with_context(|| format!("the URL template {template:?} has too few arguments"))?;
            segments.push(unencoded(arg).with_context(|| {
                format!("a path argument of {template:?} is not encode_path(&..)")
            })?);
        } else if piece.is_empty() || piece.contains(['{', '}', '%', '?', '#']) {
            bail!("unexpected path piece {piece:?} in the URL template {template:?}");
        } else {
            segments.push(syn::parse_quote!(#piece));
        }
    }
    if args.next().is_some() {
        bail!("the URL template {template:?} has too many arguments");
    }
    Ok(syn::parse_quote! {
        client.request_url(&[#(#segments),*]).map_err(Error::InvalidRequest)?
    })
}

/// `x.to_string().as_str()` for progenitor's `encode_path(&x.to_string())`:
/// the builder encodes the segment itself.
fn unencoded(arg: syn::Expr) -> Option<syn::Expr> {
    let syn::Expr::Call(call) = arg else {
        return None;
    };
    let syn::Expr::Path(func) = &*call.func else {
        return None;
    };
    if !func.path.is_ident("encode_path") || call.args.len() != 1 {
        return None;
    }
    let syn::Expr::Reference(reference) = call.args.into_iter().next()? else {
        return None;
    };
    let value = reference.expr;
    Some(syn::parse_quote!((#value).as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rewritten file, without whitespace.
    fn rewritten(mut file: syn::File, operations: usize) -> Result<String> {
        rewrite(&mut file, operations)?;
        Ok(prettyplease::unparse(&file).split_whitespace().collect())
    }

    #[test]
    fn literal_pieces_and_arguments_become_segments() {
        let text = rewritten(
            syn::parse_quote! {
                async fn send() {
                    let url = format!(
                        "{}/v1/environments/{}/work/{}/ack",
                        client.baseurl,
                        encode_path(&environment_id.to_string()),
                        encode_path(&work_id.to_string()),
                    );
                }
            },
            1,
        )
        .unwrap();
        assert!(
            text.contains(
                r#"client.request_url(&["v1","environments",(environment_id.to_string()).as_str(),"work",(work_id.to_string()).as_str(),"ack",],).map_err(Error::InvalidRequest)?;"#
            ),
            "{text}"
        );
        assert!(!text.contains("format!"), "{text}");
    }

    #[test]
    fn a_path_without_arguments() {
        let text = rewritten(
            syn::parse_quote! {
                async fn send() {
                    let url = format!("{}/v1/environments", client.baseurl,);
                }
            },
            1,
        )
        .unwrap();
        assert!(
            text.contains(
                r#"leturl=client.request_url(&["v1","environments"]).map_err(Error::InvalidRequest)?;"#
            ),
            "{text}"
        );
    }

    #[test]
    fn shapes_it_does_not_know_are_errors() {
        for file in [
            syn::parse_quote! { fn f() { let url = format!("{}/v1/{}", client.baseurl, id); } },
            syn::parse_quote! { fn f() { let url = format!("{}/v1/{}", client.baseurl); } },
            syn::parse_quote! { fn f() { let url = format!("{}/v1?x={}", client.baseurl, encode_path(&x)); } },
            syn::parse_quote! { fn f() { let url = format!("{}/v1", other.baseurl); } },
        ] {
            assert!(rewritten(file, 1).is_err());
        }
        assert!(rewritten(syn::parse_quote! { fn f() {} }, 1).is_err());
    }
}
