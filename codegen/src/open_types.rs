//! Forward-compatible ("open") types that replace what typify would generate.
//!
//! typify turns a string `enum` into a closed Rust enum and a `oneOf` of
//! `$ref`s into an `#[serde(untagged)]` enum: a value the server adds later is
//! a deserialisation error in both. This module finds the named component
//! schemas of those two shapes, registers them as typify *replacements* (so
//! typify does not generate them) and emits their code itself:
//!
//! - **open enum**: a component with `type: string` and `enum: [...]` becomes
//!   an enum with one unit variant per value plus `Unknown(UnknownValue)`,
//!   which keeps any other string (opaque: only parsing makes one) and
//!   serialises it back unchanged; `try_parse` refuses unknown values;
//! - **open union**: a component with `oneOf` of `$ref`s and a
//!   `discriminator` becomes an enum with one newtype variant per mapping
//!   entry plus `Unknown(serde_json::Value)`. Deserialisation reads the
//!   discriminator property first: a known tag decodes into its variant (a
//!   malformed known variant is still an error), anything else, including a
//!   missing tag, is kept whole as `Unknown`.
//!
//! Inline single-value enums (the `type` tags inside a struct) stay closed:
//! the union around them is what absorbs new tags.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use openapiv3::{OpenAPI, ReferenceOr, Schema, SchemaKind, StringType, Type};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// A component schema that codegen emits itself instead of typify.
#[derive(Debug, Clone)]
pub enum OpenType {
    /// A string enum that tolerates unknown values.
    Enum {
        /// Component (and Rust type) name.
        name: String,
        /// The component's description, for the doc comment.
        description: Option<String>,
        /// The documented values, in spec order.
        values: Vec<String>,
    },
    /// A discriminated union that tolerates unknown variants.
    Union {
        /// Component (and Rust type) name.
        name: String,
        /// The component's description, for the doc comment.
        description: Option<String>,
        /// The discriminator property, e.g. `type`.
        tag: String,
        /// Tag value -> name of the component schema of that variant.
        variants: Vec<(String, String)>,
    },
}

impl OpenType {
    /// The component name, which is also the Rust type name.
    pub fn name(&self) -> &str {
        match self {
            OpenType::Enum { name, .. } | OpenType::Union { name, .. } => name,
        }
    }
}

/// Finds every component schema that must be open, in component order.
pub fn find(spec: &OpenAPI) -> Result<Vec<OpenType>> {
    let Some(components) = &spec.components else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for (name, schema) in &components.schemas {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        if let Some(open) = classify(name, schema)? {
            check(&open, components)?;
            found.push(open);
        }
    }
    Ok(found)
}

/// Refuses, naming the component, what would otherwise be a compile error
/// or a silently wrong tag in the generated code: two enum values with one
/// variant name, a value that would be named `Unknown`, two union tags
/// mapped to one schema, and a union variant whose schema does not require
/// the tag property.
fn check(open: &OpenType, components: &openapiv3::Components) -> Result<()> {
    match open {
        OpenType::Enum { name, values, .. } => {
            let mut seen = BTreeMap::new();
            for value in values {
                let variant = variant_name(value);
                if variant == "Unknown" {
                    bail!(
                        "component {name}: the value {value:?} would be the variant `Unknown`, \
                         which keeps values this version does not know"
                    );
                }
                if let Some(previous) = seen.insert(variant.clone(), value) {
                    bail!(
                        "component {name}: the values {previous:?} and {value:?} both become the variant `{variant}`"
                    );
                }
            }
        }
        OpenType::Union {
            name,
            tag,
            variants,
            ..
        } => {
            let mut targets = BTreeMap::new();
            for (value, target) in variants {
                if let Some(previous) = targets.insert(target.clone(), value) {
                    bail!(
                        "component {name}: the tags {previous:?} and {value:?} both map to {target}"
                    );
                }
                let schema = match components.schemas.get(target) {
                    Some(ReferenceOr::Item(schema)) => schema,
                    _ => {
                        bail!("component {name}: the mapping of {value:?} names no schema {target}")
                    }
                };
                let SchemaKind::Type(Type::Object(object)) = &schema.schema_kind else {
                    bail!("component {name}: the variant {target} is not an object");
                };
                if !object.properties.contains_key(tag) || !object.required.contains(tag) {
                    bail!(
                        "component {name}: the variant {target} does not require the tag property `{tag}`"
                    );
                }
            }
        }
    }
    Ok(())
}

fn classify(name: &str, schema: &Schema) -> Result<Option<OpenType>> {
    let description = schema.schema_data.description.clone();
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(StringType { enumeration, .. }))
            if !enumeration.is_empty() =>
        {
            let values = enumeration
                .iter()
                .map(|v| {
                    v.clone()
                        .with_context(|| format!("component {name}: null in a string enum"))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(OpenType::Enum {
                name: name.to_owned(),
                description,
                values,
            }))
        }
        SchemaKind::OneOf { one_of } => {
            let Some(discriminator) = &schema.schema_data.discriminator else {
                return Ok(None);
            };
            if one_of.iter().any(|s| matches!(s, ReferenceOr::Item(_))) {
                bail!("component {name}: a discriminated oneOf must list only $refs");
            }
            if discriminator.mapping.is_empty() {
                bail!("component {name}: the discriminator needs an explicit mapping");
            }
            let variants = discriminator
                .mapping
                .iter()
                .map(|(tag, reference)| {
                    let target = reference
                        .strip_prefix("#/components/schemas/")
                        .with_context(|| {
                            format!("component {name}: mapping {tag} is not a local schema")
                        })?;
                    Ok((tag.clone(), target.to_owned()))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(OpenType::Union {
                name: name.to_owned(),
                description,
                tag: discriminator.property_name.clone(),
                variants,
            }))
        }
        _ => Ok(None),
    }
}

/// Rust variant name for a wire value: `self_hosted` -> `SelfHosted`.
pub fn variant_name(value: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

fn doc_attr(description: &Option<String>, fallback: &str) -> TokenStream {
    let text = description.as_deref().unwrap_or(fallback);
    let lines = text.lines().map(|l| format!(" {l}"));
    quote! { #( #[doc = #lines] )* }
}

/// Emits the code of one open type. `types_path` is how the code refers to
/// its own module from anywhere in the crate (e.g. `crate::types`).
pub fn emit(open: &OpenType) -> Result<TokenStream> {
    match open {
        OpenType::Enum {
            name,
            description,
            values,
        } => Ok(emit_enum(name, description, values)),
        OpenType::Union {
            name,
            description,
            tag,
            variants,
        } => emit_union(name, description, tag, variants),
    }
}

/// The opaque value of an open enum's `Unknown` variant, and the error of a
/// strict parse: emitted once when the spec has open enums.
pub fn emit_unknown_value() -> TokenStream {
    quote! {
        /// A value of an open enum that this version of the client does not
        /// know, as the server sent it.
        ///
        /// Opaque on purpose: it can only come from parsing (so it never holds
        /// a value a variant stands for), and code that needs a value the
        /// client does not know yet compares [`as_str`](Self::as_str) rather
        /// than matching on it, which would silently stop matching once a
        /// later version adds the variant.
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct UnknownValue(::std::string::String);

        impl UnknownValue {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for UnknownValue {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// A strict parse (`try_parse`) met a value this version of the
        /// client does not know.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct UnknownValueError {
            type_name: &'static str,
            value: ::std::string::String,
        }

        impl UnknownValueError {
            /// The value that was refused.
            pub fn value(&self) -> &str {
                &self.value
            }
        }

        impl ::std::fmt::Display for UnknownValueError {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "unknown {} value {:?}", self.type_name, self.value)
            }
        }

        impl ::std::error::Error for UnknownValueError {}
    }
}

fn emit_enum(name: &str, description: &Option<String>, values: &[String]) -> TokenStream {
    let ident = format_ident!("{}", name);
    let doc = doc_attr(description, name);
    let variants: Vec<_> = values
        .iter()
        .map(|v| format_ident!("{}", variant_name(v)))
        .collect();
    let variant_docs: Vec<_> = values.iter().map(|v| format!(" `{v}`")).collect();
    let value_list = values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let all_doc = format!(" Every value this version of the client knows: {value_list}.");
    let name_str = name;
    quote! {
        #doc
        ///
        /// Forward compatible: a value this version does not know is kept in
        /// `Unknown` and serialises back unchanged. Non-exhaustive, so that a
        /// value added to the spec later is not a breaking change.
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum #ident {
            #( #[doc = #variant_docs] #variants, )*
            /// A value this version of the client does not know (see
            /// [`UnknownValue`]).
            Unknown(UnknownValue),
        }

        impl #ident {
            #[doc = #all_doc]
            pub const KNOWN: &'static [#ident] = &[ #( #ident::#variants ),* ];

            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #( #ident::#variants => #values, )*
                    #ident::Unknown(other) => other.as_str(),
                }
            }

            /// Whether this is a value this version of the client does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, #ident::Unknown(_))
            }

            /// Parses a value this version knows, refusing any other (for
            /// input that must be valid now, e.g. a command-line flag);
            /// [`FromStr`](::std::str::FromStr) keeps unknown values instead.
            pub fn try_parse(value: &str) -> ::std::result::Result<Self, UnknownValueError> {
                match #ident::from(value) {
                    #ident::Unknown(_) => Err(UnknownValueError {
                        type_name: #name_str,
                        value: value.to_owned(),
                    }),
                    known => Ok(known),
                }
            }
        }

        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for #ident {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(match value {
                    #( #values => #ident::#variants, )*
                    other => #ident::Unknown(UnknownValue(other.to_owned())),
                })
            }
        }

        impl ::std::convert::From<&str> for #ident {
            fn from(value: &str) -> Self {
                match value.parse() {
                    Ok(v) => v,
                    Err(never) => match never {},
                }
            }
        }

        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(#ident::from(value.as_ref()))
            }
        }
    }
}

fn emit_union(
    name: &str,
    description: &Option<String>,
    tag: &str,
    variants: &[(String, String)],
) -> Result<TokenStream> {
    let ident = format_ident!("{}", name);
    let doc = doc_attr(description, name);
    let mut seen = BTreeMap::new();
    for (value, _) in variants {
        let v = variant_name(value);
        if let Some(prev) = seen.insert(v.clone(), value.clone()) {
            bail!("component {name}: tags {prev} and {value} map to one variant {v}");
        }
    }
    let values: Vec<_> = variants.iter().map(|(v, _)| v.clone()).collect();
    let variant_idents: Vec<_> = variants
        .iter()
        .map(|(v, _)| format_ident!("{}", variant_name(v)))
        .collect();
    let payloads: Vec<_> = variants
        .iter()
        .map(|(_, target)| format_ident!("{}", target))
        .collect();
    let variant_docs: Vec<_> = values
        .iter()
        .map(|v| format!(" `{tag}: \"{v}\"`"))
        .collect();
    let unknown_doc = format!(
        " A variant this version of the client does not know (or a missing `{tag}`), kept as raw JSON."
    );
    Ok(quote! {
        #doc
        ///
        #[doc = concat!(" Tagged by `", #tag, "`. Forward compatible: a variant this version does not")]
        /// know is kept in `Unknown` as raw JSON and serialises back unchanged.
        /// Non-exhaustive, so that a variant added to the spec later is not a
        /// breaking change.
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum #ident {
            #( #[doc = #variant_docs] #variant_idents(#payloads), )*
            #[doc = #unknown_doc]
            Unknown(::serde_json::Value),
        }

        impl #ident {
            /// The discriminator value (`None` only for an `Unknown` without one).
            pub fn tag(&self) -> ::std::option::Option<&str> {
                match self {
                    #( #ident::#variant_idents(_) => Some(#values), )*
                    #ident::Unknown(value) => value.get(#tag).and_then(::serde_json::Value::as_str),
                }
            }

            /// Whether this is a variant this version of the client does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, #ident::Unknown(_))
            }
        }

        #(
            impl ::std::convert::From<#payloads> for #ident {
                fn from(value: #payloads) -> Self {
                    #ident::#variant_idents(value)
                }
            }
        )*

        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                match self {
                    #( #ident::#variant_idents(inner) => ::serde::Serialize::serialize(inner, serializer), )*
                    #ident::Unknown(value) => ::serde::Serialize::serialize(value, serializer),
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = <::serde_json::Value as ::serde::Deserialize>::deserialize(deserializer)?;
                let tag = value.get(#tag).and_then(::serde_json::Value::as_str);
                match tag {
                    #(
                        Some(#values) => ::serde_json::from_value(value)
                            .map(#ident::#variant_idents)
                            .map_err(<D::Error as ::serde::de::Error>::custom),
                    )*
                    _ => Ok(#ident::Unknown(value)),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{find, variant_name};

    fn spec(components: &str) -> openapiv3::OpenAPI {
        let text = format!(
            "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths: {{}}\ncomponents:\n  schemas:\n{components}"
        );
        serde_yaml_ng::from_str(&text).unwrap()
    }

    fn refusal(components: &str) -> String {
        format!("{:#}", find(&spec(components)).unwrap_err())
    }

    #[test]
    fn codegen_refuses_what_would_not_compile_or_would_mislabel() {
        let e = refusal("    State: {type: string, enum: [in-flight, in_flight]}\n");
        assert!(e.contains("State") && e.contains("InFlight"), "{e}");
        let e = refusal("    State: {type: string, enum: [queued, unknown]}\n");
        assert!(e.contains("State") && e.contains("Unknown"), "{e}");
        let variant =
            "{type: object, required: [type], properties: {type: {type: string, enum: [a]}}}";
        let e = refusal(&format!(
            "    A: {variant}\n    U:\n      oneOf: [{{$ref: '#/components/schemas/A'}}]\n      discriminator: {{propertyName: type, mapping: {{a: '#/components/schemas/A', b: '#/components/schemas/A'}}}}\n"
        ));
        assert!(
            e.contains("component U") && e.contains("both map to A"),
            "{e}"
        );
        let e = refusal(
            "    A: {type: object, properties: {type: {type: string}}}\n    U:\n      oneOf: [{$ref: '#/components/schemas/A'}]\n      discriminator: {propertyName: type, mapping: {a: '#/components/schemas/A'}}\n",
        );
        assert!(
            e.contains("component U") && e.contains("does not require the tag"),
            "{e}"
        );
        // The project's own spec passes.
        let ours = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/environments.yaml"
        ))
        .unwrap();
        assert!(find(&crate::parse_spec(&ours).unwrap()).is_ok());
    }

    #[test]
    fn variant_names_are_pascal_case() {
        assert_eq!(variant_name("self_hosted"), "SelfHosted");
        assert_eq!(
            variant_name("heartbeat_precondition_failed"),
            "HeartbeatPreconditionFailed"
        );
        assert_eq!(variant_name("queued"), "Queued");
        assert_eq!(variant_name("2026-10-21"), "V20261021");
        assert_eq!(variant_name("files-api"), "FilesApi");
    }
}
