//! `dbrelease init`: a commented `dbrelease.toml` for a database, the way `dist init` starts a
//! cargo-dist project. Everything it writes is a suggestion the user can read and edit.

use std::path::{Path, PathBuf};

use crate::build::source;
use crate::cli::InitArgs;
use crate::config::{self, ConfigFile};
use crate::error::{Error, Result};

/// Writes the config; returns its path.
pub fn run(args: &InitArgs) -> Result<PathBuf> {
    // Never overwrite a config the user wrote (nor anything else at that name: a link there,
    // even a dangling one, counts as taken).
    if std::fs::symlink_metadata(&args.config).is_ok() && !args.force {
        return Err(Error::Config(format!(
            "{} already exists; edit it, or pass --force to replace it",
            args.config.display()
        )));
    }
    // The database as `build` will see it: read-only, every table with its primary key.
    let defaults = ConfigFile::for_database(&args.db);
    let dataset = defaults.dataset.name.clone();
    let header = source::read_header(&args.db)?;
    let conn = source::open_read_only(
        &args.db,
        &header,
        &crate::config::default_export_options().memory_limit,
    )?;
    let export = config::default_export_options();
    let snapshot = source::snapshot(&conn, &args.db, &export)?;
    let tables: Vec<(String, Vec<String>)> = snapshot
        .tables
        .iter()
        .map(|t| (t.display_name(), t.primary_key.clone()))
        .collect();
    // The repository from the git remote of the folder the config goes to.
    let folder = args
        .config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let repo = github_repo_of(folder);
    let database = relative_to(&args.db, folder);
    let text = render(&dataset, &database, &tables, repo.as_deref());
    write_config(&args.config, &text, args.force)?;
    Ok(args.config.clone())
}

/// Writes the config through a new file renamed into place: the rename replaces a link at the
/// name (with --force) instead of writing where it points, and without --force it fails if
/// anything appeared there meanwhile.
fn write_config(path: &Path, text: &str, force: bool) -> Result<()> {
    use std::io::Write;
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temporary = tempfile::Builder::new()
        .prefix(".dbrelease-init-")
        .tempfile_in(folder)
        .map_err(|err| Error::output(path, &err))?;
    temporary
        .write_all(text.as_bytes())
        .and_then(|_| temporary.as_file().sync_all())
        .map_err(|err| Error::output(path, &err))?;
    // Readable like any file the user writes (tempfile makes it owner-only).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(temporary.path(), std::fs::Permissions::from_mode(0o644));
    }
    let placed = if force {
        temporary.persist(path)
    } else {
        temporary.persist_noclobber(path)
    };
    placed.map_err(|err| Error::output(path, &err.error))?;
    Ok(())
}

/// The config text. Pure, so its shape is tested without a database.
pub fn render(
    dataset: &str,
    database: &str,
    tables: &[(String, Vec<String>)],
    repo: Option<&str>,
) -> String {
    let quote = |text: &str| toml::Value::String(text.to_string()).to_string();
    let mut text = format!(
        "# dbrelease.toml, written by `dbrelease init`. Every key below is explained by\n\
         # `dbrelease build --help`; commented keys show the defaults or an example.\n\n\
         [dataset]\n\
         # Machine name of the release (datapackage.json `name`): lowercase letters, digits, - _ .\n\
         name = {}\n\
         # title = \"…\"\n\
         # description = \"What the data is, in one paragraph.\"\n\
         # license = \"CC-BY-4.0\"\n\
         # The database, relative to this file. The release never modifies it.\n\
         database = {}\n\n\
         [export]\n\
         # Every table is exported to Parquet (zstd); name tables to narrow it down.\n\
         # include = [{}]\n\
         # exclude = []\n",
        quote(dataset),
        quote(database),
        tables
            .iter()
            .map(|(name, _)| quote(name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (name, primary_key) in tables {
        let key = if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            name.clone()
        } else {
            quote(name)
        };
        text.push_str(&format!("\n[export.tables.{key}]\n"));
        if primary_key.is_empty() {
            text.push_str(
                "# No primary key: rows keep their storage order. Sorting by the column readers\n\
                 # filter on lets DuckDB and Polars read only the row groups a query needs.\n\
                 # sort_by = [\"…\"]\n",
            );
        } else {
            let columns: Vec<String> = primary_key.iter().map(|c| quote(c)).collect();
            text.push_str(
                "# Sorted by the primary key: remote readers (DuckDB, Polars over HTTP) then read\n\
                 # only the row groups a query needs.\n",
            );
            text.push_str(&format!("sort_by = [{}]\n", columns.join(", ")));
        }
        text.push_str("# bloom_filter = []  # columns looked up by value but not sorted on\n");
        text.push_str(
            "# partition_by = []  # one file per value, e.g. [\"strftime(date, '%Y-%m')\"]\n",
        );
    }
    text.push_str("\n[github]\n# Where `publish --github` releases to (--repo and GITHUB_REPOSITORY override it).\n");
    match repo {
        Some(repo) => text.push_str(&format!("repo = {}\n", quote(repo))),
        None => text.push_str("# repo = \"OWNER/NAME\"\n"),
    }
    text.push_str(
        "\n# [s3]\n# Where `publish --s3` releases to: {prefix}/{tag}/, latest/ and versions.json.\n\
         # bucket = \"my-bucket\"\n# prefix = \"datasets/my-data\"\n# region = \"eu-central-1\"\n",
    );
    text
}

/// `OWNER/NAME` of the `origin` remote when it is on GitHub.
fn github_repo_of(folder: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["remote", "get-url", "origin"])
        .current_dir(folder)
        .output()
        .ok()?;
    let url = String::from_utf8(output.stdout).ok()?;
    parse_github_remote(url.trim())
}

/// `git@github.com:o/r.git`, `https://github.com/o/r(.git)`, `ssh://git@github.com/o/r` → `o/r`.
pub fn parse_github_remote(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("git@github.com:")
        .or_else(|| url.split_once("github.com/").map(|(_, rest)| rest))?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = rest.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    (parts.next().is_none() && !owner.is_empty() && !name.is_empty())
        .then(|| format!("{owner}/{name}"))
}

/// `db` as written relative to `folder` when it is inside it, else as given.
fn relative_to(db: &Path, folder: &Path) -> String {
    let absolute = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (db_abs, folder_abs) = (absolute(db), absolute(folder));
    db_abs
        .strip_prefix(&folder_abs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| db.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_remotes_in_every_spelling() {
        for url in [
            "git@github.com:owner/data.git",
            "https://github.com/owner/data",
            "https://github.com/owner/data.git",
            "ssh://git@github.com/owner/data",
        ] {
            assert_eq!(
                parse_github_remote(url).as_deref(),
                Some("owner/data"),
                "{url}"
            );
        }
        assert_eq!(parse_github_remote("https://gitlab.com/owner/data"), None);
    }

    #[test]
    fn the_config_parses_and_sorts_by_each_primary_key() {
        let text = render(
            "prices",
            "prices.duckdb",
            &[
                ("quotes".into(), vec!["date".into(), "symbol".into()]),
                ("raw.events".into(), vec![]),
            ],
            Some("owner/data"),
        );
        let parsed: ConfigFile = toml::from_str(&text).unwrap();
        assert_eq!(parsed.dataset.name, "prices");
        assert_eq!(parsed.github.repo.as_deref(), Some("owner/data"));
        assert_eq!(parsed.export.tables["quotes"].sort_by, ["date", "symbol"]);
        assert!(parsed.export.tables["raw.events"].sort_by.is_empty());
    }
}
