//! A plain-text summary of a hand-written crate's public API, for review:
//! every public module's public items (functions with their signatures,
//! structs with their public fields, enums with their variants, traits with
//! their methods, constants, type aliases, re-exports) and the public
//! methods of inherent impls, and the trait impls. An accidental breaking
//! change of the facade shows in the diff of its snapshot. It reads the
//! source, so methods that a macro generates (the per-request option
//! setters, `send`) are not listed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use quote::ToTokens;

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

/// Tokens as compact text.
fn text(tokens: impl ToTokens) -> String {
    tokens
        .to_token_stream()
        .to_string()
        .replace(" :: ", "::")
        .replace(" < ", "<")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
        .replace(" (", "(")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ;", ";")
        .replace("' ", "'")
        .replace(" : ", ": ")
        .replace(" { ", " {")
        .replace(" }", "}")
        .replace("{ ", "{")
        .replace(",)", ")")
        .replace(",}", "}")
}

fn signature(sig: &syn::Signature) -> String {
    let mut sig = sig.clone();
    // Argument patterns are not API; their types are.
    for input in sig.inputs.iter_mut() {
        match input {
            syn::FnArg::Typed(t) => *t.pat = syn::parse_quote!(_),
            syn::FnArg::Receiver(r) => r.mutability = None,
        }
    }
    text(sig)
}

/// The file of module `name` declared in `file` (a `mod.rs` or crate root
/// owns its directory; another file owns a directory named after it).
fn module_file(file: &Path, name: &str) -> Option<PathBuf> {
    let stem = file.file_stem()?.to_str()?;
    let dir = if matches!(stem, "lib" | "mod" | "main") {
        file.parent()?.to_path_buf()
    } else {
        file.parent()?.join(stem)
    };
    [
        dir.join(format!("{name}.rs")),
        dir.join(name).join("mod.rs"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

fn walk(path: &str, file: &Path, items: &[syn::Item], out: &mut Vec<String>) {
    for item in items {
        match item {
            syn::Item::Fn(f) if is_pub(&f.vis) => {
                out.push(format!("{path}: pub {}", signature(&f.sig)));
            }
            syn::Item::Const(c) if is_pub(&c.vis) => {
                out.push(format!("{path}: pub const {}: {}", c.ident, text(&c.ty)));
            }
            syn::Item::Type(t) if is_pub(&t.vis) => {
                out.push(format!(
                    "{path}: pub type {}{} = {}",
                    t.ident,
                    text(&t.generics),
                    text(&t.ty)
                ));
            }
            syn::Item::Use(u) if is_pub(&u.vis) => {
                out.push(format!("{path}: pub use {}", text(&u.tree)));
            }
            syn::Item::Struct(s) if is_pub(&s.vis) => {
                let fields: Vec<String> = s
                    .fields
                    .iter()
                    .filter(|f| is_pub(&f.vis))
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f.ident.as_ref().map_or("_".into(), |i| i.to_string()),
                            text(&f.ty)
                        )
                    })
                    .collect();
                let exhaustive = if s.attrs.iter().any(|a| a.path().is_ident("non_exhaustive")) {
                    " #[non_exhaustive]"
                } else {
                    ""
                };
                out.push(format!(
                    "{path}: pub struct {}{}{exhaustive} {{ {} }}",
                    s.ident,
                    text(&s.generics),
                    fields.join(", ")
                ));
            }
            syn::Item::Enum(e) if is_pub(&e.vis) => {
                let variants: Vec<String> = e
                    .variants
                    .iter()
                    .map(|v| {
                        let mut v = v.clone();
                        v.attrs.clear();
                        for field in v.fields.iter_mut() {
                            field.attrs.clear();
                        }
                        text(v)
                    })
                    .collect();
                out.push(format!(
                    "{path}: pub enum {}{} {{ {} }}",
                    e.ident,
                    text(&e.generics),
                    variants.join(", ")
                ));
            }
            syn::Item::Trait(t) if is_pub(&t.vis) => {
                out.push(format!(
                    "{path}: pub trait {}{}",
                    t.ident,
                    if t.supertraits.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", text(&t.supertraits))
                    }
                ));
                for ti in &t.items {
                    if let syn::TraitItem::Fn(f) = ti {
                        out.push(format!("{path}: trait {}: {}", t.ident, signature(&f.sig)));
                    }
                }
            }
            syn::Item::Impl(i) => {
                let target = text(&i.self_ty);
                let header = match &i.trait_ {
                    Some((tr, _)) => format!("impl {} for {target}", text(tr)),
                    None => format!("impl {target}"),
                };
                if i.trait_.is_some() {
                    out.push(format!("{path}: {header}"));
                }
                for ii in &i.items {
                    if let syn::ImplItem::Fn(f) = ii
                        && (i.trait_.is_none() && is_pub(&f.vis))
                    {
                        out.push(format!("{path}: {header}: pub {}", signature(&f.sig)));
                    }
                }
            }
            syn::Item::Mod(m) if is_pub(&m.vis) => {
                let child = format!("{path}::{}", m.ident);
                match &m.content {
                    Some((_, inner)) => walk(&child, file, inner, out),
                    None => {
                        if let Some(sub) = module_file(file, &m.ident.to_string()) {
                            let parsed = parse(&sub);
                            walk(&child, &sub, &parsed.items, out);
                        }
                    }
                }
            }
            // Private modules: their `pub` items matter only when
            // re-exported, which the `pub use` lines show; their impls of
            // public types matter, so they are walked for impls (and their
            // own modules) only.
            syn::Item::Mod(m) if m.content.is_none() => {
                if let Some(sub) = module_file(file, &m.ident.to_string()) {
                    let parsed = parse(&sub);
                    let impls: Vec<syn::Item> = parsed
                        .items
                        .into_iter()
                        .filter(|i| {
                            matches!(
                                i,
                                syn::Item::Impl(_)
                                    | syn::Item::Struct(_)
                                    | syn::Item::Enum(_)
                                    | syn::Item::Trait(_)
                                    | syn::Item::Mod(_)
                            )
                        })
                        .collect();
                    walk(&format!("{path}::{}", m.ident), &sub, &impls, out);
                }
            }
            _ => {}
        }
    }
}

fn parse(path: &Path) -> syn::File {
    let source =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    syn::parse_file(&source).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The public API summary of the crate whose root is `lib_rs`, one line an
/// item, sorted.
pub fn crate_surface(crate_name: &str, lib_rs: &Path) -> String {
    let file = parse(lib_rs);
    let mut lines = Vec::new();
    walk(crate_name, lib_rs, &file.items, &mut lines);
    lines.sort();
    lines.dedup();
    let mut out = String::new();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    out
}
