//! Properties marked `x-sensitive: true` never show in `Debug`.
//!
//! typify derives `Debug` on every struct, so a work item's `secret` or a
//! decoded secret's `sessions_token` would be printed by `{:?}` and by any
//! log line that formats the value. For every component schema with a
//! property that carries the extension `x-sensitive: true`, codegen removes
//! `Debug` from the struct's derive (in `types` and in `types::builder`) and
//! emits an implementation that prints `<redacted>` for those fields (and
//! `None` as `None`, so that "was there a secret" stays visible).

use std::collections::BTreeMap;

use anyhow::Result;
use openapiv3::{OpenAPI, ReferenceOr, SchemaKind, Type};
use quote::quote;

/// The extension that marks a property as a credential.
pub const EXTENSION: &str = "x-sensitive";

/// Component name -> its sensitive properties (wire names), in spec order.
pub fn find(spec: &OpenAPI) -> BTreeMap<String, Vec<String>> {
    let mut found = BTreeMap::new();
    let Some(components) = &spec.components else {
        return found;
    };
    for (name, schema) in &components.schemas {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let SchemaKind::Type(Type::Object(object)) = &schema.schema_kind else {
            continue;
        };
        let fields: Vec<String> = object
            .properties
            .iter()
            .filter(|(_, property)| match property {
                ReferenceOr::Item(p) => p
                    .schema_data
                    .extensions
                    .get(EXTENSION)
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
                ReferenceOr::Reference { .. } => false,
            })
            .map(|(property, _)| property.clone())
            .collect();
        if !fields.is_empty() {
            found.insert(name.clone(), fields);
        }
    }
    found
}

/// Replaces the derived `Debug` of every struct in `sensitive` (in the
/// `types` module and its `builder` submodule) with a redacting one.
pub fn redact(file: &mut syn::File, sensitive: &BTreeMap<String, Vec<String>>) -> Result<()> {
    if sensitive.is_empty() {
        return Ok(());
    }
    let items = crate::types_items(file)?;
    let mut redacted = redact_items(items, sensitive);
    for item in items.iter_mut() {
        if let syn::Item::Mod(m) = item
            && m.ident == "builder"
            && let Some((_, inner)) = m.content.as_mut()
        {
            redact_items(inner, sensitive);
        }
    }
    redacted.sort();
    let missing: Vec<_> = sensitive
        .keys()
        .filter(|name| redacted.binary_search(name).is_err())
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "{EXTENSION}: no generated struct for {missing:?}"
    );
    Ok(())
}

/// Redacts the structs of one module; returns the names it redacted.
fn redact_items(
    items: &mut Vec<syn::Item>,
    sensitive: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut impls = Vec::new();
    let mut redacted = Vec::new();
    for item in items.iter_mut() {
        let syn::Item::Struct(st) = item else {
            continue;
        };
        let name = st.ident.to_string();
        let Some(secret_fields) = sensitive.get(&name) else {
            continue;
        };
        let syn::Fields::Named(named) = &st.fields else {
            continue;
        };
        remove_debug_derive(&mut st.attrs);
        let ident = &st.ident;
        let entries = named.named.iter().filter_map(|f| {
            let field = f.ident.as_ref()?;
            let wire = field.to_string();
            let wire = wire.trim_end_matches('_');
            let label = field.to_string();
            Some(if secret_fields.iter().any(|s| s == wire) {
                let is_option = is_option(&f.ty);
                if is_option {
                    quote! { .field(#label, &self.#field.as_ref().map(|_| "<redacted>")) }
                } else {
                    quote! { .field(#label, &"<redacted>") }
                }
            } else {
                quote! { .field(#label, &self.#field) }
            })
        });
        let title = name.clone();
        let tokens = quote! {
            impl ::std::fmt::Debug for #ident {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.debug_struct(#title) #( #entries )* .finish()
                }
            }
        };
        impls.push(syn::parse2::<syn::Item>(tokens).expect("a Debug impl parses"));
        redacted.push(name);
    }
    items.extend(impls);
    redacted
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// Removes `Debug` from `#[derive(...)]` attributes.
fn remove_debug_derive(attrs: &mut [syn::Attribute]) {
    for attr in attrs.iter_mut() {
        if !attr.path().is_ident("derive") {
            continue;
        }
        let Ok(paths) = attr.parse_args_with(
            syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
        ) else {
            continue;
        };
        let kept = paths
            .iter()
            .filter(|p| p.segments.last().is_none_or(|s| s.ident != "Debug"));
        *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_marked_fields_in_types_and_builders() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                #[derive(Clone, Debug, PartialEq)]
                pub struct Work {
                    pub id: String,
                    pub secret: ::std::option::Option<String>,
                }
                pub mod builder {
                    #[derive(Clone, Debug)]
                    pub struct Work {
                        id: Result<String, String>,
                        secret: Result<::std::option::Option<String>, String>,
                    }
                }
            }
        };
        let sensitive = BTreeMap::from([("Work".to_owned(), vec!["secret".to_owned()])]);
        redact(&mut file, &sensitive).unwrap();
        let text = quote::quote!(#file).to_string();
        assert!(!text.contains("Debug , PartialEq"), "{text}");
        assert_eq!(
            text.matches("impl :: std :: fmt :: Debug for Work").count(),
            2,
            "{text}"
        );
        assert!(text.contains("\"<redacted>\""), "{text}");
    }

    #[test]
    fn a_marked_schema_without_a_struct_is_an_error() {
        let mut file: syn::File = syn::parse_quote! { pub mod types {} };
        let sensitive = BTreeMap::from([("Gone".to_owned(), vec!["secret".to_owned()])]);
        assert!(redact(&mut file, &sensitive).is_err());
    }
}
