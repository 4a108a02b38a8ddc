//! `dbrelease._native`: the consumer crate's fetch for Python. Arguments become the same
//! `FetchOptions` the CLI builds from its flags; errors become Python exceptions by kind, with
//! the CLI's messages. The Python-facing API is `python/dbrelease/__init__.py`.

use std::path::PathBuf;

use dbrelease_remote::fetch::{
    FetchOptions, FetchOutcome, ListReport, default_cache_root, manifest_path, public_urls,
    run_fetch,
};
use dbrelease_remote::github::{GitHub, Token};
use dbrelease_remote::http::RetryPolicy;
use dbrelease_remote::progress::Progress;
use dbrelease_remote::reader::Origin;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

pyo3::create_exception!(
    _native,
    DbreleaseError,
    PyException,
    "A release could not be fetched."
);
pyo3::create_exception!(
    _native,
    RemoteError,
    DbreleaseError,
    "The origin failed, refused, or does not have the release."
);
pyo3::create_exception!(
    _native,
    IntegrityError,
    DbreleaseError,
    "Published bytes do not match the release's manifest; nothing was kept."
);
pyo3::create_exception!(
    _native,
    OfflineError,
    DbreleaseError,
    "offline=True and the cache does not hold what was asked for."
);
pyo3::create_exception!(
    _native,
    CacheError,
    DbreleaseError,
    "The cache (or another local folder) cannot be written."
);

fn to_py(err: dbrelease_remote::Error) -> PyErr {
    let message = err.to_string();
    match err {
        dbrelease_remote::Error::Integrity(_) => IntegrityError::new_err(message),
        dbrelease_remote::Error::Remote(_) if message.starts_with("--offline") => {
            OfflineError::new_err(message)
        }
        dbrelease_remote::Error::Remote(_) => RemoteError::new_err(message),
        dbrelease_remote::Error::Local { .. } => CacheError::new_err(message),
        dbrelease_remote::Error::Usage(_) => DbreleaseError::new_err(message),
    }
}

/// An environment variable, unset when empty (as the CLI reads them).
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[allow(clippy::too_many_arguments)]
fn options(
    repo: Option<String>,
    base_url: Option<String>,
    tag: String,
    as_of: Option<String>,
    files: Vec<String>,
    cache_dir: Option<PathBuf>,
    decompress: bool,
    offline: bool,
) -> PyResult<FetchOptions> {
    let retry = RetryPolicy::default();
    let origin = match (repo, base_url) {
        (Some(repo), None) => {
            let token = env("GITHUB_TOKEN")
                .or_else(|| env("GH_TOKEN"))
                .map(Token::new);
            let api = env("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
            Origin::GitHub(GitHub::new(&api, &repo, token, retry.clone()))
        }
        (None, Some(base)) => Origin::Url(base.trim_end_matches('/').to_string()),
        _ => {
            return Err(DbreleaseError::new_err(
                "say where the data is published: a repository (\"OWNER/NAME\") or base_url=\"https://…\", not both",
            ));
        }
    };
    // The same cache as the CLI: a file fetched by one is found by the other.
    let cache_root = match cache_dir {
        Some(dir) => dir,
        None => default_cache_root(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
            .map_err(to_py)?,
    };
    let as_of = match as_of {
        None => None,
        Some(text) => Some(dbrelease_manifest::dated::Day::parse(&text).ok_or_else(|| {
            DbreleaseError::new_err(format!(
                "as_of={text:?} is not a date: give the UTC day as \"YYYY-MM-DD\" or a datetime.date"
            ))
        })?),
    };
    Ok(FetchOptions {
        origin,
        tag,
        as_of,
        assets: files,
        cache_root,
        out: None,
        force: false,
        decompress,
        offline,
        retry,
    })
}

/// Fetches files of one release; returns `(artifact name, path)` pairs in manifest order.
#[pyfunction]
#[pyo3(signature = (repo, base_url, tag, as_of, files, cache_dir, decompress, offline))]
#[allow(clippy::too_many_arguments)]
fn fetch(
    py: Python<'_>,
    repo: Option<String>,
    base_url: Option<String>,
    tag: String,
    as_of: Option<String>,
    files: Vec<String>,
    cache_dir: Option<PathBuf>,
    decompress: bool,
    offline: bool,
) -> PyResult<Vec<(String, PathBuf)>> {
    let options = options(
        repo, base_url, tag, as_of, files, cache_dir, decompress, offline,
    )?;
    // Downloads run without the GIL: other Python threads keep going.
    let outcome = py
        .detach(|| run_fetch(&options, false, Progress::new(false)))
        .map_err(to_py)?;
    match outcome {
        FetchOutcome::Files(report) => {
            Ok(report.files.into_iter().map(|f| (f.name, f.path)).collect())
        }
        FetchOutcome::List(_) => unreachable!("run_fetch lists only when asked"),
    }
}

/// The published versions, newest first, as dicts (`tag`, `date`, `prerelease`, `cached`).
#[pyfunction]
#[pyo3(signature = (repo, base_url, cache_dir, offline))]
fn versions<'py>(
    py: Python<'py>,
    repo: Option<String>,
    base_url: Option<String>,
    cache_dir: Option<PathBuf>,
    offline: bool,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let options = options(
        repo,
        base_url,
        "latest".into(),
        None,
        Vec::new(),
        cache_dir,
        false,
        offline,
    )?;
    let outcome = py
        .detach(|| run_fetch(&options, true, Progress::new(false)))
        .map_err(to_py)?;
    let FetchOutcome::List(ListReport::Versions(listed)) = outcome else {
        unreachable!("a list without a pinned tag lists versions");
    };
    listed
        .into_iter()
        .map(|v| {
            let dict = PyDict::new(py);
            dict.set_item("tag", v.version.tag)?;
            dict.set_item("date", v.version.date)?;
            dict.set_item("prerelease", v.version.prerelease)?;
            dict.set_item("cached", v.cached)?;
            Ok(dict)
        })
        .collect()
}

/// The cached manifest.json of one version (fetched first when needed): `(tag, path)`.
#[pyfunction]
#[pyo3(signature = (repo, base_url, tag, as_of, cache_dir, offline))]
fn manifest(
    py: Python<'_>,
    repo: Option<String>,
    base_url: Option<String>,
    tag: String,
    as_of: Option<String>,
    cache_dir: Option<PathBuf>,
    offline: bool,
) -> PyResult<(String, PathBuf)> {
    let options = options(
        repo,
        base_url,
        tag,
        as_of,
        Vec::new(),
        cache_dir,
        false,
        offline,
    )?;
    py.detach(|| manifest_path(&options)).map_err(to_py)
}

/// Where a version's files are read in place: `(tag, manifest path, [(artifact name, URL)])`.
#[pyfunction]
#[pyo3(signature = (repo, base_url, tag, as_of, cache_dir))]
fn urls(
    py: Python<'_>,
    repo: Option<String>,
    base_url: Option<String>,
    tag: String,
    as_of: Option<String>,
    cache_dir: Option<PathBuf>,
) -> PyResult<Located> {
    let options = options(
        repo,
        base_url,
        tag,
        as_of,
        Vec::new(),
        cache_dir,
        false,
        false,
    )?;
    let located = py.detach(|| public_urls(&options)).map_err(to_py)?;
    Ok((located.tag, located.manifest_path, located.urls))
}

/// `urls`' answer as Python sees it: `(tag, manifest path, [(artifact name, URL)])`.
type Located = (String, PathBuf, Vec<(String, String)>);

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add_function(wrap_pyfunction!(fetch, module)?)?;
    module.add_function(wrap_pyfunction!(versions, module)?)?;
    module.add_function(wrap_pyfunction!(manifest, module)?)?;
    module.add_function(wrap_pyfunction!(urls, module)?)?;
    module.add("DbreleaseError", py.get_type::<DbreleaseError>())?;
    module.add("RemoteError", py.get_type::<RemoteError>())?;
    module.add("IntegrityError", py.get_type::<IntegrityError>())?;
    module.add("OfflineError", py.get_type::<OfflineError>())?;
    module.add("CacheError", py.get_type::<CacheError>())?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
