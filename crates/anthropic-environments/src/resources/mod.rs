//! The API's resources, one module each: environments, and an environment's
//! work queue. Their request builders are re-exported at the crate root.

pub(crate) mod environments;
pub(crate) mod work;
