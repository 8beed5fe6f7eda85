//! A plain-text summary of the public surface of generated code, for review.
//!
//! The summary lists every operation (its trait, its builder's setters with
//! their input types, and what `send` returns) and every public type (struct
//! fields with their types, enum variants). It is stable and diff-friendly,
//! so a pull request that changes the spec shows, in one short file, what
//! changed for users of the generated client.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use quote::ToTokens;

/// Summarises the public surface of a generated source file.
pub fn public_surface(source: &str) -> Result<String> {
    let file = syn::parse_file(source).context("generated source does not parse")?;
    let mut out = String::new();

    out.push_str("# Operations\n");
    let builders = find_mod(&file.items, "builder")
        .map(|m| mod_items(m).to_vec())
        .unwrap_or_default();
    for item in &file.items {
        let syn::Item::Trait(tr) = item else { continue };
        if !matches!(tr.vis, syn::Visibility::Public(_)) {
            continue;
        }
        for ti in &tr.items {
            let syn::TraitItem::Fn(f) = ti else { continue };
            let builder = return_type(&f.sig.output);
            writeln!(out, "\n{}::{} -> {}", tr.ident, f.sig.ident, builder)?;
            let builder_name = builder.trim_start_matches("builder::");
            let builder_name = builder_name.split('<').next().unwrap_or(builder_name);
            for line in builder_methods(&builders, builder_name) {
                writeln!(out, "    {line}")?;
            }
        }
    }

    out.push_str("\n# Types\n");
    if let Some(types) = find_mod(&file.items, "types") {
        for item in mod_items(types) {
            match item {
                syn::Item::Struct(s) if is_pub(&s.vis) => {
                    writeln!(out, "\nstruct {}", s.ident)?;
                    for field in &s.fields {
                        if !is_pub(&field.vis) {
                            continue;
                        }
                        let name = field
                            .ident
                            .as_ref()
                            .map(|i| i.to_string())
                            .unwrap_or_else(|| "0".into());
                        let wire = serde_rename(&field.attrs)
                            .map(|r| format!(" (wire: {r:?})"))
                            .unwrap_or_default();
                        writeln!(out, "    {name}: {}{wire}", tokens(&field.ty))?;
                    }
                }
                syn::Item::Enum(e) if is_pub(&e.vis) => {
                    writeln!(out, "\nenum {}", e.ident)?;
                    for v in &e.variants {
                        let fields = match &v.fields {
                            syn::Fields::Unit => String::new(),
                            other => tokens(other),
                        };
                        let wire = serde_rename(&v.attrs)
                            .map(|r| format!(" = {r:?}"))
                            .unwrap_or_default();
                        writeln!(out, "    {}{fields}{wire}", v.ident)?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn find_mod<'a>(items: &'a [syn::Item], name: &str) -> Option<&'a syn::ItemMod> {
    items.iter().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == name => Some(m),
        _ => None,
    })
}

fn mod_items(m: &syn::ItemMod) -> &[syn::Item] {
    m.content.as_ref().map(|(_, i)| i.as_slice()).unwrap_or(&[])
}

/// Token text with the spaces `to_string` puts around punctuation removed.
fn tokens(t: &impl ToTokens) -> String {
    let raw = t.to_token_stream().to_string();
    let mut s = raw
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" <", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& '", "&'")
        .replace("( ", "(")
        .replace(" )", ")");
    for (from, to) in [
        ("::std::", "std::"),
        ("std::string::String", "String"),
        ("std::option::Option", "Option"),
        ("std::vec::Vec", "Vec"),
        ("std::collections::", ""),
        ("std::num::", ""),
        ("std::ops::", ""),
        ("std::result::Result", "Result"),
        ("crate::types::", ""),
        ("::serde_json::", "serde_json::"),
        (",>", ">"),
        (",)", ")"),
        ("FnOnce (", "FnOnce("),
    ] {
        s = s.replace(from, to);
    }
    s
}

fn return_type(output: &syn::ReturnType) -> String {
    match output {
        syn::ReturnType::Default => "()".into(),
        syn::ReturnType::Type(_, ty) => tokens(ty),
    }
}

fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| {
        if !a.path().is_ident("serde") {
            return None;
        }
        let text = tokens(&a.meta);
        let start = text.find("rename = \"")? + "rename = \"".len();
        let end = text[start..].find('"')? + start;
        Some(text[start..end].to_owned())
    })
}

/// `name(Input)` for each setter of a builder, then `send() -> Output`.
fn builder_methods(builders: &[syn::Item], name: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for item in builders {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        let self_name = tokens(&imp.self_ty);
        if self_name.split('<').next() != Some(name) {
            continue;
        }
        for ii in &imp.items {
            let syn::ImplItem::Fn(f) = ii else { continue };
            if !is_pub(&f.vis) {
                continue;
            }
            let ident = f.sig.ident.to_string();
            if ident == "new" {
                continue;
            }
            if ident == "send" {
                lines.push(format!("send() -> {}", return_type(&f.sig.output)));
                continue;
            }
            lines.push(format!("{ident}({})", setter_input(f)));
        }
    }
    lines
}

/// The input type of a setter: `T` of `V: TryInto<T>`, else the argument type.
fn setter_input(f: &syn::ImplItemFn) -> String {
    if let Some(wc) = &f.sig.generics.where_clause {
        for pred in &wc.predicates {
            let text = tokens(pred);
            if let Some(start) = text.find("TryInto<") {
                let inner = &text[start + "TryInto<".len()..];
                if let Some(end) = inner.rfind('>') {
                    return inner[..end].trim().to_owned();
                }
            }
            if text.contains("FnOnce") {
                return text
                    .split_once(':')
                    .map(|(_, b)| b.trim().to_owned())
                    .unwrap_or(text);
            }
        }
    }
    f.sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            syn::FnArg::Typed(t) => Some(tokens(&t.ty)),
            syn::FnArg::Receiver(_) => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}
