//! The API's resources, one module each: environments, an environment's
//! work queue, sessions (as a worker serves them) and skill versions. Their
//! request builders are re-exported at the crate root.

pub(crate) mod environments;
pub(crate) mod sessions;
pub(crate) mod skills;
pub(crate) mod work;
