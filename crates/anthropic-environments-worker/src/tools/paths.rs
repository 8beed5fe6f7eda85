//! Where the file tools may reach: the working directory and the allowed
//! roots, resolved as the session-runner notes say (§4.1): a relative path
//! joins the workdir, `.` and `..` collapse lexically first, then every
//! symbolic link is followed (the leaf and dangling ones too, keeping the
//! components that do not exist yet), at most 40 hops; the result must lie
//! inside the canonical workdir or an allowed root, component-wise. Errors
//! name the path the model gave, never a host path.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

/// The most symbolic links one resolution follows.
const MAX_HOPS: usize = 40;

/// Why a path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PathError {
    /// Outside the workdir (and the allowed roots).
    #[error("path '{0}' is outside the session's working directory{1}")]
    Outside(String, &'static str),
    /// Too many levels of symbolic links.
    #[error("path '{0}': too many levels of symbolic links")]
    Loop(String),
    /// A component could not be read.
    #[error("path '{0}': {1}")]
    Unresolvable(String, String),
    /// Inside a read-only root.
    #[error("{0} is inside read-only directory {1}")]
    ReadOnly(String, String),
}

/// The directories a session's file tools may reach.
#[derive(Clone, Debug)]
pub(crate) struct Confinement {
    workdir: PathBuf,
    allowed: Vec<PathBuf>,
    /// As configured: canonicalised at each check, named in errors.
    read_only: Vec<PathBuf>,
    unrestricted: bool,
}

/// The short lower-case phrase of an I/O error, as the tools report it.
pub(crate) fn reason(error: &std::io::Error) -> String {
    match error.kind() {
        ErrorKind::NotFound => "no such file or directory".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::AlreadyExists => "file already exists".into(),
        ErrorKind::NotADirectory => "not a directory".into(),
        ErrorKind::IsADirectory => "is a directory".into(),
        _ if error.raw_os_error() == Some(40) => "too many levels of symbolic links".into(),
        _ => "i/o error".into(),
    }
}

/// `..` and `.` collapsed without touching the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Confinement {
    /// The workdir (canonicalised now), allowed roots and read-only roots;
    /// `unrestricted` lets the tools reach any path (`--unrestricted-paths`).
    pub(crate) fn new(
        workdir: &Path,
        allowed: &[PathBuf],
        read_only: &[PathBuf],
        unrestricted: bool,
    ) -> std::io::Result<Self> {
        Ok(Confinement {
            workdir: workdir.canonicalize()?,
            allowed: allowed.iter().map(|root| canonical_root(root)).collect(),
            read_only: read_only.to_vec(),
            unrestricted,
        })
    }

    /// The canonical workdir.
    pub(crate) fn workdir(&self) -> &Path {
        &self.workdir
    }
}

/// A configured root as the checks compare with it: every link followed,
/// missing trailing components kept (a root that does not exist yet, or
/// one under a symlinked ancestor, is still reachable).
fn canonical_root(root: &Path) -> PathBuf {
    let lexical = lexical(root);
    follow("", &lexical).unwrap_or(lexical)
}

/// Follows every link of `path` (absolute, lexical), keeping trailing
/// components that do not exist.
fn follow(given: &str, path: &Path) -> Result<PathBuf, PathError> {
    let mut pending: VecDeque<PathBuf> = path
        .components()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut current = PathBuf::new();
    let mut hops = 0;
    let mut missing = false;
    while let Some(part) = pending.pop_front() {
        if part.as_os_str() == ".." {
            current.pop();
            continue;
        }
        if part.as_os_str() == "." {
            continue;
        }
        let candidate = current.join(&part);
        if missing {
            current = candidate;
            continue;
        }
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(PathError::Loop(given.to_owned()));
                }
                let target = std::fs::read_link(&candidate)
                    .map_err(|e| PathError::Unresolvable(given.to_owned(), reason(&e)))?;
                let mut parts: VecDeque<PathBuf> = target
                    .components()
                    .map(|c| PathBuf::from(c.as_os_str()))
                    .collect();
                if target.is_absolute() {
                    current = PathBuf::new();
                }
                parts.extend(pending.drain(..));
                pending = parts;
            }
            Ok(_) => current = candidate,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                missing = true;
                current = candidate;
            }
            Err(e) => return Err(PathError::Unresolvable(given.to_owned(), reason(&e))),
        }
    }
    Ok(current)
}

impl Confinement {
    /// The canonical path the model's `given` path names, if the tools may
    /// reach it.
    pub(crate) fn resolve(&self, given: &str) -> Result<PathBuf, PathError> {
        let joined = if Path::new(given).is_absolute() {
            PathBuf::from(given)
        } else {
            self.workdir.join(given)
        };
        let lexical = lexical(&joined);
        let inside = |p: &Path| {
            p.starts_with(&self.workdir) || self.allowed.iter().any(|root| p.starts_with(root))
        };
        // `..` is collapsed lexically first (`loop/../out` is `out`,
        // whatever `loop` is), then only where the links lead counts: an
        // absolute path through a symlinked ancestor of the workdir is in.
        let resolved = match follow(given, &lexical) {
            Ok(resolved) => resolved,
            // Nothing is told about what lies outside.
            Err(_) if !self.unrestricted && !inside(&lexical) => return Err(self.outside(given)),
            Err(e) => return Err(e),
        };
        if !self.unrestricted && !inside(&resolved) {
            return Err(self.outside(given));
        }
        Ok(resolved)
    }

    fn outside(&self, given: &str) -> PathError {
        let others = if self.allowed.is_empty() {
            ""
        } else {
            " and its other permitted directories"
        };
        PathError::Outside(given.to_owned(), others)
    }

    /// `resolve`, and refused inside a read-only root (for write and edit).
    pub(crate) fn resolve_writable(&self, given: &str) -> Result<PathBuf, PathError> {
        let resolved = self.resolve(given)?;
        for root in &self.read_only {
            if resolved.starts_with(canonical_root(root)) {
                return Err(PathError::ReadOnly(
                    given.to_owned(),
                    root.display().to_string(),
                ));
            }
        }
        Ok(resolved)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, Confinement) {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("sub")).unwrap();
        std::fs::create_dir_all(dir.path().join("work2")).unwrap();
        std::fs::write(dir.path().join("outside.txt"), "x").unwrap();
        let c = Confinement::new(&work, &[], &[], false).unwrap();
        (dir, c)
    }

    #[test]
    fn relative_paths_and_dot_dot_inside_are_accepted() {
        let (_dir, c) = setup();
        assert_eq!(c.resolve("a.txt").unwrap(), c.workdir().join("a.txt"));
        assert_eq!(c.resolve("sub/../b").unwrap(), c.workdir().join("b"));
        assert_eq!(c.resolve(".").unwrap(), c.workdir());
        let abs = c.workdir().join("sub/new/deep.txt");
        assert_eq!(c.resolve(abs.to_str().unwrap()).unwrap(), abs);
    }

    #[test]
    fn escapes_are_refused_with_the_models_path() {
        let (dir, c) = setup();
        for bad in ["../outside.txt", "/etc/passwd", "../work2/x"] {
            let err = c.resolve(bad).unwrap_err();
            assert!(matches!(err, PathError::Outside(..)), "{bad}: {err}");
            let text = err.to_string();
            assert!(
                text.contains(bad) && !text.contains(dir.path().to_str().unwrap()),
                "{text}"
            );
        }
    }

    #[test]
    fn symlinks_are_followed_and_judged_where_they_lead() {
        let (dir, c) = setup();
        let w = c.workdir().to_owned();
        symlink(dir.path().join("outside.txt"), w.join("out-link")).unwrap();
        symlink("sub", w.join("in-link")).unwrap();
        symlink(w.join("sub/missing.txt"), w.join("dangling-in")).unwrap();
        symlink("a", w.join("b")).unwrap();
        symlink("b", w.join("a")).unwrap();
        assert!(matches!(c.resolve("out-link"), Err(PathError::Outside(..))));
        assert_eq!(c.resolve("in-link/f").unwrap(), w.join("sub/f"));
        assert_eq!(c.resolve("dangling-in").unwrap(), w.join("sub/missing.txt"));
        assert!(matches!(c.resolve("a"), Err(PathError::Loop(_))));
        // `..` first, lexically: `a/../x` is `x`, whatever `a` is.
        assert_eq!(c.resolve("a/../x").unwrap(), w.join("x"));
    }

    #[test]
    fn read_only_roots_refuse_writes() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("ro")).unwrap();
        let c = Confinement::new(&work, &[], &[work.join("ro")], false).unwrap();
        assert!(c.resolve("ro/f").is_ok());
        assert!(matches!(
            c.resolve_writable("ro/f"),
            Err(PathError::ReadOnly(..))
        ));
        assert!(c.resolve_writable("f").is_ok());
    }

    #[test]
    fn roots_reached_through_symlinked_ancestors_and_named_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir_all(real.join("work/ro")).unwrap();
        symlink(&real, dir.path().join("link")).unwrap();
        let via_link = dir.path().join("link/work");
        let not_yet = dir.path().join("link/memory");
        let read_only = via_link.join("ro");
        let c = Confinement::new(
            &via_link,
            std::slice::from_ref(&not_yet),
            std::slice::from_ref(&read_only),
            false,
        )
        .unwrap();
        // The workdir spelled through the link, and an allowed root that
        // does not exist yet (under the link).
        let abs = via_link.join("a.txt");
        assert_eq!(
            c.resolve(abs.to_str().unwrap()).unwrap(),
            real.join("work/a.txt")
        );
        let later = not_yet.join("m.md");
        assert_eq!(
            c.resolve(later.to_str().unwrap()).unwrap(),
            real.join("memory/m.md")
        );
        let err = c.resolve_writable("ro/f").unwrap_err().to_string();
        assert_eq!(
            err,
            format!("ro/f is inside read-only directory {}", read_only.display())
        );
        let err = c.resolve("../../outside").unwrap_err().to_string();
        assert!(
            err.ends_with("and its other permitted directories"),
            "{err}"
        );
    }

    #[test]
    fn loops_are_named_by_the_models_path_and_say_nothing_of_outside() {
        let (dir, c) = setup();
        let w = c.workdir().to_owned();
        symlink("self", w.join("self")).unwrap();
        let err = c.resolve("self/child").unwrap_err().to_string();
        assert_eq!(err, "path 'self/child': too many levels of symbolic links");
        // A loop outside the workdir is just outside.
        symlink("outloop", dir.path().join("outloop")).unwrap();
        let outside = dir.path().join("outloop");
        assert!(matches!(
            c.resolve(outside.to_str().unwrap()),
            Err(PathError::Outside(..))
        ));
        // `loop/../x`: `..` first, lexically.
        symlink(dir.path().join("outside.txt"), w.join("out-link")).unwrap();
        assert!(matches!(
            c.resolve("self/../out-link"),
            Err(PathError::Outside(..))
        ));
    }
}
