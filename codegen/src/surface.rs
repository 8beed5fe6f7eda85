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
///
/// The summary is canonical: operations and types are sorted by name, and
/// setters, fields and variants within them too (`send` and `Unknown` come
/// last). Their order in the spec changes nothing a user can see in Rust
/// (named fields, matched variants), so a spec that only reorders keys
/// (for example a YAML spec saved as sorted JSON) has the same surface.
pub fn public_surface(source: &str) -> Result<String> {
    let file = syn::parse_file(source).context("generated source does not parse")?;

    let builders = find_mod(&file.items, "builder")
        .map(|m| mod_items(m).to_vec())
        .unwrap_or_default();
    let mut operations = Vec::new();
    for item in &file.items {
        let syn::Item::Trait(tr) = item else { continue };
        if !matches!(tr.vis, syn::Visibility::Public(_)) {
            continue;
        }
        for ti in &tr.items {
            let syn::TraitItem::Fn(f) = ti else { continue };
            let builder = return_type(&f.sig.output);
            let builder_name = builder.trim_start_matches("builder::");
            let builder_name = builder_name.split('<').next().unwrap_or(builder_name);
            operations.push(Block::new(
                f.sig.ident.to_string(),
                format!("{}::{} -> {}", tr.ident, f.sig.ident, builder),
                builder_methods(&builders, builder_name),
                "send(",
            ));
        }
    }

    let mut types = Vec::new();
    if let Some(module) = find_mod(&file.items, "types") {
        for item in mod_items(module) {
            match item {
                syn::Item::Struct(s) if is_pub(&s.vis) => {
                    let fields = s
                        .fields
                        .iter()
                        .filter(|field| is_pub(&field.vis))
                        .map(|field| {
                            let name = field
                                .ident
                                .as_ref()
                                .map(|i| i.to_string())
                                .unwrap_or_else(|| "0".into());
                            let wire = serde_rename(&field.attrs)
                                .map(|r| format!(" (wire: {r:?})"))
                                .unwrap_or_default();
                            format!("{name}: {}{wire}", tokens(&field.ty))
                        })
                        .collect();
                    types.push(Block::new(
                        s.ident.to_string(),
                        format!("struct {}", s.ident),
                        fields,
                        "",
                    ));
                }
                syn::Item::Enum(e) if is_pub(&e.vis) => {
                    let variants = e
                        .variants
                        .iter()
                        .map(|v| {
                            let fields = match &v.fields {
                                syn::Fields::Unit => String::new(),
                                other => tokens(other),
                            };
                            let wire = serde_rename(&v.attrs)
                                .map(|r| format!(" = {r:?}"))
                                .unwrap_or_default();
                            format!("{}{fields}{wire}", v.ident)
                        })
                        .collect();
                    types.push(Block::new(
                        e.ident.to_string(),
                        format!("enum {}", e.ident),
                        variants,
                        "Unknown(",
                    ));
                }
                _ => {}
            }
        }
    }

    let mut out = String::new();
    out.push_str("# Operations\n");
    write_blocks(&mut out, operations)?;
    out.push_str("\n# Types\n");
    write_blocks(&mut out, types)?;
    Ok(out)
}

/// One operation or type of the summary: a heading and indented lines.
struct Block {
    /// What the blocks are sorted by: the operation or type name.
    key: String,
    head: String,
    lines: Vec<String>,
}

impl Block {
    /// Sorts `lines`, putting those that start with `last` at the end.
    fn new(key: String, head: String, mut lines: Vec<String>, last: &str) -> Self {
        lines.sort_by(|a, b| {
            let key = |l: &str| (!last.is_empty() && l.starts_with(last), l.to_owned());
            key(a).cmp(&key(b))
        });
        Block { key, head, lines }
    }
}

fn write_blocks(out: &mut String, mut blocks: Vec<Block>) -> Result<()> {
    blocks.sort_by(|a, b| a.key.cmp(&b.key));
    for block in blocks {
        writeln!(out, "\n{}", block.head)?;
        for line in block.lines {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
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
