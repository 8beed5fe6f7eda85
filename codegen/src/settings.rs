//! Every progenitor and typify setting codegen uses, in one place.

use progenitor::{GenerationSettings, HooksMode, InterfaceStyle, TagStyle, TypeImpl};

use crate::open_types::OpenType;

/// Path through which generated code names its own `types` module from any
/// module of the crate. The raw crate mounts the generated file as
/// `mod generated; pub use generated::*;`, so `crate::types` resolves.
pub const TYPES_PATH: &str = "crate::types";

/// Type of the `inner` value every generated `Client` carries: the raw crate's
/// hand-written hooks use it to find an optional transport.
pub const INNER_TYPE: &str = "crate::hooks::Inner";

/// Client-level timeout of `Client::new`, in seconds. The facade passes its
/// own `reqwest::Client` and never uses it; it matches the official SDK's
/// default of 10 minutes so that a long poll is never cut short.
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;

/// The settings for this API:
///
/// - builder interface (`client.poll_work().environment_id(..).send()`), one
///   `Client*Ext` trait per tag (`ClientEnvironmentsExt`, `ClientWorkExt`),
///   re-exported from `prelude`;
/// - hooks **expected**: the raw crate must implement `ClientHooks` for
///   `Client` (it adds `content-length: 0` to body-less POSTs and routes
///   requests through an optional transport), and forgetting it is a
///   compile error;
/// - an `inner` value of type [`INNER_TYPE`] on the client;
/// - `PartialEq` on every type, so responses can be compared in tests;
/// - every open type (see [`crate::open_types`]) replaces what typify would
///   have generated for that component.
pub fn generation_settings(open: &[OpenType]) -> GenerationSettings {
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Separate)
        .with_hooks(HooksMode::Expected)
        .with_inner_type(
            INNER_TYPE
                .parse::<proc_macro2::TokenStream>()
                .expect("INNER_TYPE is a type path"),
        )
        .with_derive("PartialEq")
        .with_timeout(DEFAULT_TIMEOUT_SECS);
    for ty in open {
        let impls: Vec<TypeImpl> = match ty {
            OpenType::Enum { .. } => vec![TypeImpl::Display, TypeImpl::FromStr],
            OpenType::Union { .. } => Vec::new(),
        };
        settings.with_replacement(
            ty.name(),
            format!("{TYPES_PATH}::{}", ty.name()),
            impls.into_iter(),
        );
    }
    settings
}
