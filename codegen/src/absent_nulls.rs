//! Required + nullable fields that the server leaves out decode as `None`.
//!
//! typify turns a property that is `required` and `nullable` into an
//! `Option<T>` that must be present:
//! `#[serde(deserialize_with = "::std::option::Option::deserialize")]`, so a
//! missing key is a deserialisation error. The official SDKs (Python 2.10.0,
//! TypeScript 1.10.0) read an absent nullable field as null, and the real API
//! leaves some out, so codegen rewrites that attribute to `#[serde(default)]`:
//! absent and `null` both decode as `None`, and `None` still serialises as
//! `null` (the field stays on the wire, as `required` documents).

use anyhow::Result;
use syn::visit_mut::{self, VisitMut};

/// The `deserialize_with` path typify puts on required + nullable fields.
const REQUIRED_NULLABLE: &str = "::std::option::Option::deserialize";

/// Rewrites every required + nullable field of the `types` module (and its
/// submodules) so that an absent key decodes as `None`. Returns how many
/// fields it rewrote.
pub fn tolerate_absent_nulls(file: &mut syn::File) -> Result<usize> {
    let mut rewriter = Rewriter { rewritten: 0 };
    for item in crate::types_items(file)? {
        rewriter.visit_item_mut(item);
    }
    Ok(rewriter.rewritten)
}

struct Rewriter {
    rewritten: usize,
}

impl VisitMut for Rewriter {
    fn visit_field_mut(&mut self, field: &mut syn::Field) {
        for attr in &mut field.attrs {
            if is_required_nullable(attr) {
                *attr = syn::parse_quote!(#[serde(default)]);
                self.rewritten += 1;
            }
        }
        visit_mut::visit_field_mut(self, field);
    }
}

/// Whether `attr` is exactly `#[serde(deserialize_with = "<REQUIRED_NULLABLE>")]`.
fn is_required_nullable(attr: &syn::Attribute) -> bool {
    if !attr.path().is_ident("serde") {
        return false;
    }
    let Ok(nested) = attr.parse_args::<syn::MetaNameValue>() else {
        return false;
    };
    nested.path.is_ident("deserialize_with")
        && matches!(
            &nested.value,
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) if s.value() == REQUIRED_NULLABLE
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_required_nullable_attribute() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                pub struct Page {
                    #[serde(deserialize_with = "::std::option::Option::deserialize")]
                    pub next_page: ::std::option::Option<::std::string::String>,
                    #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                    pub limit: ::std::option::Option<i64>,
                    #[serde(deserialize_with = "other::deserialize")]
                    pub other: ::std::string::String,
                }
            }
        };
        assert_eq!(tolerate_absent_nulls(&mut file).unwrap(), 1);
        let text = quote::quote!(#file).to_string();
        assert!(!text.contains("Option::deserialize"), "{text}");
        assert!(text.contains("skip_serializing_if"), "{text}");
        assert!(text.contains("other::deserialize"), "{text}");
        assert_eq!(text.matches("# [serde (default)]").count(), 1, "{text}");
    }

    #[test]
    fn without_a_types_module_it_is_an_error() {
        let mut file: syn::File = syn::parse_quote! { pub mod other {} };
        assert!(tolerate_absent_nulls(&mut file).is_err());
    }
}
