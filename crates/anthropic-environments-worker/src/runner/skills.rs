//! The session's skills, installed before the runner starts and removed at
//! the end (the session-runner notes, §5): each `agent.skills[]` version is
//! resolved (`latest` allowed), its archive streamed to a file (never held
//! whole), extracted into a staging folder with the safety rules below, and
//! renamed into `<workdir>/skills/<name>/`. One failing skill is a warning;
//! the others go on.
//!
//! Safety: `\` reads as `/`; an absolute member or one with a `..`
//! component refuses the whole archive, even if it would be skipped; links,
//! devices, FIFOs and tar metadata are skipped; a single wrapper folder is
//! stripped; files are 0755 when any execute bit is set, else 0644;
//! folders 0700; at most 10 000 members and 1 GiB.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anthropic_environments::Client;
use futures::TryStreamExt;
use serde_json::Value;

/// The most members an archive may have.
const MAX_MEMBERS: usize = 10_000;
/// The most bytes an archive may unpack to.
const MAX_BYTES: u64 = 1 << 30;

/// What installing a skill failed on.
type Failure = String;

/// The folders this item created, to remove at its end.
#[derive(Debug, Default)]
pub(crate) struct Installed {
    dirs: Vec<PathBuf>,
}

impl Installed {
    /// Removes exactly the skill folders this item created.
    pub(crate) fn remove(self) {
        for dir in self.dirs {
            if let Err(error) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), %error, "could not remove a skill folder");
            }
        }
    }
}

/// Installs every skill of the session's agent into `<workdir>/skills`.
pub(crate) async fn install(client: &Client, workdir: &Path, session: &Value) -> Installed {
    let mut installed = Installed::default();
    let skills = session
        .pointer("/agent/skills")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for skill in skills {
        let (Some(skill_id), Some(version)) = (
            skill.get("skill_id").and_then(Value::as_str),
            skill.get("version").and_then(Value::as_str),
        ) else {
            continue;
        };
        match install_one(client, workdir, skill_id, version).await {
            Ok(dir) => {
                tracing::info!(skill_id, dir = %dir.display(), "skill installed");
                installed.dirs.push(dir);
            }
            Err(failure) => tracing::warn!(skill_id, version, %failure, "skill not installed"),
        }
    }
    installed
}

/// The folder name of a skill: the last component of its version's name,
/// else its id.
fn folder_name(name: &str, skill_id: &str) -> String {
    let last = name.trim().rsplit(['/', '\\']).next().unwrap_or_default();
    match last {
        "" | "." | ".." => skill_id.to_owned(),
        other => other.to_owned(),
    }
}

async fn install_one(
    client: &Client,
    workdir: &Path,
    skill_id: &str,
    version: &str,
) -> Result<PathBuf, Failure> {
    let resolved = client
        .skills()
        .retrieve_version(skill_id, version)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let root = workdir.join("skills");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&root)
        .map_err(|e| format!("creating {}: {e}", root.display()))?;
    let name = folder_name(&resolved.name, skill_id);
    let destination = root.join(&name);
    let canonical_root = root.canonicalize().map_err(|e| e.to_string())?;
    if destination
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .is_none_or(|p| p != canonical_root)
    {
        return Err(format!("the folder name {name:?} leaves the skills folder"));
    }
    let temp = tempfile::Builder::new()
        .prefix(".skill-")
        .tempdir_in(&root)
        .map_err(|e| e.to_string())?;
    let archive_path = temp.path().join("archive");
    let mut file = File::create(&archive_path).map_err(|e| e.to_string())?;
    let mut content = client
        .skills()
        .download_version(skill_id, &resolved.id)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    while let Some(chunk) = content.try_next().await.map_err(|e| e.to_string())? {
        file.write_all(&chunk).map_err(|e| e.to_string())?;
    }
    drop(file);
    let stage = temp.path().join("stage");
    let (archive_path, stage_dir) = (archive_path.clone(), stage.clone());
    tokio::task::spawn_blocking(move || extract(&archive_path, &stage_dir))
        .await
        .map_err(|e| e.to_string())??;
    if destination.exists() {
        let aside = temp.path().join("previous");
        std::fs::rename(&destination, &aside).map_err(|e| e.to_string())?;
    }
    std::fs::rename(&stage, &destination).map_err(|e| e.to_string())?;
    Ok(destination)
}

/// One member of an archive, as the rules see it.
struct Member {
    /// Its path, `\` read as `/`, `.` components dropped.
    path: PathBuf,
    kind: Kind,
    executable: bool,
}

#[derive(PartialEq)]
enum Kind {
    File,
    Dir,
    /// A link, a device, a FIFO, metadata: skipped.
    Special,
}

/// The member's path if it is safe: relative, no `..`.
fn safe_path(raw: &str) -> Result<PathBuf, Failure> {
    let normalised = raw.replace('\\', "/");
    if normalised.starts_with('/') {
        return Err(format!("the archive holds an absolute path {raw:?}"));
    }
    let mut path = PathBuf::new();
    for component in Path::new(&normalised).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => return Err(format!("the archive holds an unsafe path {raw:?}")),
        }
    }
    Ok(path)
}

/// The wrapper folder every plain member shares, if at least one is nested
/// in it.
fn wrapper(members: &[&Member]) -> Option<PathBuf> {
    let plain: Vec<&&Member> = members.iter().filter(|m| m.kind != Kind::Special).collect();
    let first = plain.first()?.path.components().next()?;
    let all_share = plain
        .iter()
        .all(|m| m.path.components().next() == Some(first));
    let nested = plain.iter().any(|m| m.path.components().count() > 1);
    (all_share && nested).then(|| PathBuf::from(first.as_os_str()))
}

/// Decompresses an xz stream into an unlinked file beside `stage`, refusing
/// it once it grows past `limit` (a small xz can expand to any size, and
/// lzma-rs decompresses into a writer, not a reader: so not into memory).
fn xz_to_file(file: File, stage: &Path, limit: u64) -> Result<File, Failure> {
    /// A writer that fails once more than `limit` bytes are written.
    struct Bounded {
        inner: File,
        left: u64,
        limit: u64,
    }
    impl Write for Bounded {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.left = self.left.checked_sub(buf.len() as u64).ok_or_else(|| {
                std::io::Error::other(format!("over {} bytes once decompressed", self.limit))
            })?;
            self.inner
                .write(buf)
                .inspect(|&n| self.left += (buf.len() - n) as u64)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let out = tempfile::tempfile_in(stage.parent().unwrap_or(stage)).map_err(|e| e.to_string())?;
    let mut bounded = Bounded {
        inner: out,
        left: limit,
        limit,
    };
    lzma_rs::xz_decompress(&mut std::io::BufReader::new(file), &mut bounded)
        .map_err(|e| format!("xz: {e}"))?;
    let mut out = bounded.inner;
    out.rewind().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Extracts a zip or a (compressed) tar into `stage`.
pub(crate) fn extract(archive: &Path, stage: &Path) -> Result<(), Failure> {
    let mut file = File::open(archive).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 6];
    let n = file.read(&mut magic).map_err(|e| e.to_string())?;
    file.rewind().map_err(|e| e.to_string())?;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(stage)
        .map_err(|e| e.to_string())?;
    if magic[..n].starts_with(b"PK\x03\x04") || magic[..n].starts_with(b"PK\x05\x06") {
        extract_zip(file, stage)
    } else {
        let reader: Box<dyn Read> = match &magic[..n] {
            [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(file)),
            [b'B', b'Z', b'h', ..] => Box::new(bzip2::read::BzDecoder::new(file)),
            [0xfd, b'7', b'z', b'X', b'Z', 0x00] => Box::new(xz_to_file(file, stage, MAX_BYTES)?),
            _ => Box::new(file),
        };
        extract_tar(reader, stage)
    }
}

/// Writes the plain members: a file from `contents`, a folder made.
fn place(
    stage: &Path,
    member: &Member,
    strip: Option<&Path>,
    contents: &mut dyn Read,
    total: &mut u64,
) -> Result<(), Failure> {
    let relative = match strip {
        Some(prefix) => match member.path.strip_prefix(prefix) {
            Ok(rest) if rest.as_os_str().is_empty() => return Ok(()),
            Ok(rest) => rest.to_owned(),
            Err(_) => member.path.clone(),
        },
        None => member.path.clone(),
    };
    let target = stage.join(&relative);
    if !target.starts_with(stage) {
        return Err(format!(
            "{} leaves the skill's folder",
            member.path.display()
        ));
    }
    let make_dirs = |dir: &Path| {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| e.to_string())
    };
    match member.kind {
        Kind::Special => Ok(()),
        Kind::Dir => make_dirs(&target),
        Kind::File => {
            if let Some(parent) = target.parent() {
                make_dirs(parent)?;
            }
            let mut out = File::create(&target).map_err(|e| e.to_string())?;
            let limit = MAX_BYTES.saturating_sub(*total) + 1;
            let written =
                std::io::copy(&mut contents.take(limit), &mut out).map_err(|e| e.to_string())?;
            *total += written;
            if *total > MAX_BYTES {
                return Err("the archive is over 1 GiB".into());
            }
            let mode = if member.executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                .map_err(|e| e.to_string())
        }
    }
}

fn extract_zip(file: File, stage: &Path) -> Result<(), Failure> {
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("zip: {e}"))?;
    if archive.len() > MAX_MEMBERS {
        return Err(format!("the archive has over {MAX_MEMBERS} members"));
    }
    let mut members = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| format!("zip: {e}"))?;
        let path = safe_path(&String::from_utf8_lossy(entry.name_raw()))?;
        // Only Unix-made entries carry a file type in their mode.
        let mode = entry.unix_mode();
        let file_type = mode.map(|m| m & 0o170000);
        let kind = if entry.is_dir() {
            Kind::Dir
        } else {
            match file_type {
                Some(0o100000) | Some(0) | None => Kind::File,
                Some(0o040000) => Kind::Dir,
                Some(_) => Kind::Special,
            }
        };
        let executable = mode.is_some_and(|m| m & 0o111 != 0);
        if path.as_os_str().is_empty() {
            continue;
        }
        members.push((
            i,
            Member {
                path,
                kind,
                executable,
            },
        ));
    }
    let strip = wrapper(&members.iter().map(|(_, m)| m).collect::<Vec<_>>());
    let mut total = 0;
    for (i, member) in &members {
        let mut entry = archive.by_index(*i).map_err(|e| format!("zip: {e}"))?;
        place(stage, member, strip.as_deref(), &mut entry, &mut total)?;
    }
    Ok(())
}

fn extract_tar(reader: Box<dyn Read>, stage: &Path) -> Result<(), Failure> {
    // A tar streams: read it once into members and their bytes' places.
    // Checking every path first means reading it twice: the members are
    // spooled to a temporary file beside the stage.
    let spool_dir = stage.parent().unwrap_or(stage);
    let mut spool = tempfile::tempfile_in(spool_dir).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(reader);
    let mut members: Vec<(Member, u64, u64)> = Vec::new();
    let mut offset = 0u64;
    for entry in archive.entries().map_err(|e| format!("tar: {e}"))? {
        let mut entry = entry.map_err(|e| format!("tar: {e}"))?;
        if members.len() >= MAX_MEMBERS {
            return Err(format!("the archive has over {MAX_MEMBERS} members"));
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = safe_path(&raw)?;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::Directory => Kind::Dir,
            _ => Kind::Special,
        };
        let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
        let mut length = 0;
        if kind == Kind::File {
            length = std::io::copy(&mut (&mut entry).take(MAX_BYTES + 1), &mut spool)
                .map_err(|e| e.to_string())?;
            if offset + length > MAX_BYTES {
                return Err("the archive is over 1 GiB".into());
            }
        }
        if !path.as_os_str().is_empty() {
            members.push((
                Member {
                    path,
                    kind,
                    executable,
                },
                offset,
                length,
            ));
        }
        offset += length;
    }
    let strip = wrapper(&members.iter().map(|(m, _, _)| m).collect::<Vec<_>>());
    let mut total = 0;
    for (member, start, length) in &members {
        spool
            .seek(std::io::SeekFrom::Start(*start))
            .map_err(|e| e.to_string())?;
        let mut contents = (&mut spool).take(*length);
        place(stage, member, strip.as_deref(), &mut contents, &mut total)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8], Option<u32>)]) -> Vec<u8> {
        let mut buffer = std::io::Cursor::new(Vec::new());
        {
            let mut writer = zip::ZipWriter::new(&mut buffer);
            for (name, data, mode) in entries {
                let mut options = zip::write::SimpleFileOptions::default();
                if let Some(mode) = mode {
                    options = options.unix_permissions(*mode);
                }
                writer.start_file(*name, options).unwrap();
                writer.write_all(data).unwrap();
            }
            writer.finish().unwrap();
        }
        buffer.into_inner()
    }

    fn tar_gz_of(entries: &[(&str, &[u8], u32, tar::EntryType)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, data, mode, kind) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(*mode);
            header.set_size(data.len() as u64);
            if *kind == tar::EntryType::Symlink {
                header.set_link_name("/etc/passwd").unwrap();
            }
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn xz_of(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        lzma_rs::xz_compress(&mut &bytes[..], &mut out).unwrap();
        out
    }

    fn extracted(bytes: &[u8]) -> (tempfile::TempDir, Result<(), Failure>) {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a");
        std::fs::write(&archive, bytes).unwrap();
        let result = extract(&archive, &dir.path().join("stage"));
        (dir, result)
    }

    #[test]
    fn a_zip_wrapper_is_stripped_and_modes_are_normalised() {
        let bytes = zip_of(&[
            ("pdf/SKILL.md", b"# pdf", Some(0o100666)),
            ("pdf/bin/run.sh", b"#!/bin/sh", Some(0o104777)),
        ]);
        let (dir, result) = extracted(&bytes);
        result.unwrap();
        let stage = dir.path().join("stage");
        assert_eq!(
            std::fs::read_to_string(stage.join("SKILL.md")).unwrap(),
            "# pdf"
        );
        let mode = |p: &str| {
            std::fs::metadata(stage.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("SKILL.md"), 0o644);
        assert_eq!(mode("bin/run.sh"), 0o755, "no setuid, no group/other write");
    }

    #[test]
    fn an_unsafe_member_refuses_the_whole_archive() {
        for bad in ["../escape.txt", "/etc/evil", "a/../../x", "..\\win.txt"] {
            let (dir, result) = extracted(&zip_of(&[("ok.txt", b"x", None), (bad, b"y", None)]));
            assert!(result.is_err(), "{bad}");
            assert!(
                !dir.path().join("stage/ok.txt").exists(),
                "{bad}: nothing written"
            );
        }
    }

    #[test]
    fn a_tar_gz_skips_links_and_keeps_flat_archives_flat() {
        let bytes = tar_gz_of(&[
            ("SKILL.md", b"# notes", 0o644, tar::EntryType::Regular),
            ("tool", b"#!/bin/sh", 0o700, tar::EntryType::Regular),
            ("link", b"", 0o777, tar::EntryType::Symlink),
        ]);
        let (dir, result) = extracted(&bytes);
        result.unwrap();
        let stage = dir.path().join("stage");
        assert!(
            stage.join("SKILL.md").exists(),
            "a flat archive is not stripped"
        );
        assert!(!stage.join("link").exists(), "links are skipped");
        let mode = std::fs::metadata(stage.join("tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    #[test]
    fn bzip2_and_xz_tars_are_extracted() {
        let tar = tar_of(&[("skill/SKILL.md", b"# compressed"), ("skill/x.txt", b"x")]);
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&tar).unwrap();
        for (kind, bytes) in [("bzip2", bz.finish().unwrap()), ("xz", xz_of(&tar))] {
            let (dir, result) = extracted(&bytes);
            result.unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(
                std::fs::read_to_string(dir.path().join("stage/SKILL.md")).unwrap(),
                "# compressed",
                "{kind}"
            );
        }
    }

    #[test]
    fn an_xz_that_expands_past_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.xz");
        std::fs::write(&archive, xz_of(&vec![0u8; 64 * 1024])).unwrap();
        let stage = dir.path().join("stage");
        let open = || File::open(&archive).unwrap();
        let refused = xz_to_file(open(), &stage, 4096).unwrap_err();
        assert!(refused.contains("over 4096 bytes"), "{refused}");
        let mut whole = String::new();
        let len = xz_to_file(open(), &stage, 64 * 1024)
            .unwrap()
            .read_to_string(&mut whole)
            .unwrap();
        assert_eq!(len, 64 * 1024);
        // Nothing is left beside the stage: the file was never linked.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn folder_names_come_from_the_version_name() {
        assert_eq!(
            folder_name("org/release-process ", "skill_1"),
            "release-process"
        );
        assert_eq!(folder_name("..", "skill_1"), "skill_1");
        assert_eq!(folder_name("", "skill_1"), "skill_1");
    }
}
