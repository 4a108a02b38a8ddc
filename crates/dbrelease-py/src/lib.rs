//! `dbrelease_data`: the consumer crate's fetch for Python. Arguments become the same
//! `FetchOptions` the CLI builds from its flags; errors become Python exceptions by kind.

use std::path::PathBuf;

use dbrelease_remote::fetch::{FetchOptions, FetchOutcome, ListReport, default_cache_root, run_fetch};
use dbrelease_remote::github::{GitHub, Token};
use dbrelease_remote::http::RetryPolicy;
use dbrelease_remote::progress::Progress;
use dbrelease_remote::reader::Origin;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

pyo3::create_exception!(_dbrelease_data, DbreleaseError, PyException, "A release could not be fetched.");
pyo3::create_exception!(_dbrelease_data, RemoteError, DbreleaseError, "The origin failed or refused a request.");
pyo3::create_exception!(_dbrelease_data, IntegrityError, DbreleaseError, "Published bytes do not match the release's manifest.");

fn to_py(err: dbrelease_remote::Error) -> PyErr {
    match err {
        dbrelease_remote::Error::Integrity(message) => IntegrityError::new_err(message),
        dbrelease_remote::Error::Remote(message) => RemoteError::new_err(message),
        other => DbreleaseError::new_err(other.to_string()),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn origin(repo: Option<String>, base_url: Option<String>, retry: &RetryPolicy) -> PyResult<Origin> {
    match (repo, base_url) {
        (Some(repo), None) => {
            let token = env("GITHUB_TOKEN").or_else(|| env("GH_TOKEN")).map(Token::new);
            let api = env("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
            Ok(Origin::GitHub(GitHub::new(&api, &repo, token, retry.clone())))
        }
        (None, Some(base)) => Ok(Origin::Url(base.trim_end_matches('/').to_string())),
        _ => Err(DbreleaseError::new_err(
            "say where the data is published: repo=\"OWNER/NAME\" or base_url=\"https://…\"",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn options(
    repo: Option<String>,
    base_url: Option<String>,
    tag: String,
    assets: Vec<String>,
    cache_dir: Option<PathBuf>,
    decompress: bool,
    offline: bool,
) -> PyResult<FetchOptions> {
    let retry = RetryPolicy::default();
    let cache_root = match cache_dir {
        Some(dir) => dir,
        None => default_cache_root(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
            .map_err(to_py)?,
    };
    Ok(FetchOptions {
        origin: origin(repo, base_url, &retry)?,
        tag,
        assets,
        cache_root,
        out: None,
        force: false,
        decompress,
        offline,
        retry,
    })
}

/// Downloads (or finds in the cache) the files of one release, each verified against its
/// manifest, and returns their paths. `assets`: artifact names, table names, or ["all"];
/// default: the gzipped database (with `decompress=True`, the database itself).
#[pyfunction]
#[pyo3(signature = (repo=None, *, base_url=None, tag="latest".to_string(), assets=None, cache_dir=None, decompress=false, offline=false))]
#[allow(clippy::too_many_arguments)]
fn fetch(
    py: Python<'_>,
    repo: Option<String>,
    base_url: Option<String>,
    tag: String,
    assets: Option<Vec<String>>,
    cache_dir: Option<PathBuf>,
    decompress: bool,
    offline: bool,
) -> PyResult<Vec<PathBuf>> {
    let options = options(repo, base_url, tag, assets.unwrap_or_default(), cache_dir, decompress, offline)?;
    // The download runs without the GIL: other Python threads keep going.
    let outcome = py.detach(|| run_fetch(&options, false, Progress::new(false))).map_err(to_py)?;
    match outcome {
        FetchOutcome::Files(report) => Ok(report.files.into_iter().map(|f| f.path).collect()),
        FetchOutcome::List(_) => unreachable!("fetch lists only when asked"),
    }
}

/// The published versions (tags), newest first.
#[pyfunction]
#[pyo3(signature = (repo=None, *, base_url=None, cache_dir=None, offline=false))]
fn list_versions(
    py: Python<'_>,
    repo: Option<String>,
    base_url: Option<String>,
    cache_dir: Option<PathBuf>,
    offline: bool,
) -> PyResult<Vec<String>> {
    let options = options(repo, base_url, "latest".into(), Vec::new(), cache_dir, false, offline)?;
    let outcome = py.detach(|| run_fetch(&options, true, Progress::new(false))).map_err(to_py)?;
    match outcome {
        FetchOutcome::List(ListReport::Versions(versions)) => {
            Ok(versions.into_iter().map(|v| v.version.tag).collect())
        }
        _ => unreachable!("a list without a tag lists versions"),
    }
}

#[pymodule]
fn _dbrelease_data(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(fetch, module)?)?;
    module.add_function(wrap_pyfunction!(list_versions, module)?)?;
    module.add("DbreleaseError", module.py().get_type::<DbreleaseError>())?;
    module.add("RemoteError", module.py().get_type::<RemoteError>())?;
    module.add("IntegrityError", module.py().get_type::<IntegrityError>())?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
