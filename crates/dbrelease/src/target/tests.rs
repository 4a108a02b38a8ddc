//! The executor against an in-memory target, with a failure injected at every write.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use super::*;

/// A target that keeps files in a map and logs every call; `fail_at` makes the n-th write
/// (put, swap, remove, finalize) fail.
#[derive(Default)]
struct MemoryTarget {
    files: RefCell<BTreeMap<String, (u64, String)>>,
    next_id: RefCell<u64>,
    ids: RefCell<BTreeMap<u64, String>>,
    log: RefCell<Vec<String>>,
    writes: RefCell<usize>,
    fail_at: Option<usize>,
    finalized: bool,
}

impl MemoryTarget {
    fn holding(files: &[(&str, u64, &str)]) -> Self {
        let target = MemoryTarget::default();
        for (name, bytes, sha) in files {
            target.store(name, *bytes, sha);
        }
        target
    }

    fn store(&self, name: &str, bytes: u64, sha: &str) -> u64 {
        let id = {
            let mut next = self.next_id.borrow_mut();
            *next += 1;
            *next
        };
        self.ids.borrow_mut().insert(id, name.to_string());
        self.files
            .borrow_mut()
            .insert(name.to_string(), (bytes, sha.to_string()));
        id
    }

    fn write(&self, what: String) -> Result<()> {
        let mut writes = self.writes.borrow_mut();
        *writes += 1;
        if self.fail_at == Some(*writes) {
            return Err(Error::Remote(format!("injected failure at {what}")));
        }
        self.log.borrow_mut().push(what);
        Ok(())
    }
}

impl Target for MemoryTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::S3
    }
    fn describe(&self) -> String {
        "memory".into()
    }
    fn locate(&self, name: &str) -> String {
        name.to_string()
    }
    async fn inventory(&mut self) -> Result<Inventory> {
        let ids = self.ids.borrow();
        let assets = self
            .files
            .borrow()
            .iter()
            .map(|(name, (bytes, sha))| RemoteAsset {
                id: *ids.iter().find(|(_, n)| *n == name).unwrap().0,
                name: name.clone(),
                bytes: *bytes,
                state: "uploaded".into(),
                sha256: Some(sha.clone()),
            })
            .collect();
        Ok(Inventory {
            assets,
            published: None,
            copy_source: None,
        })
    }
    fn pending(&self) -> bool {
        // Like S3's versions.json: finalizing is owed until it has happened once.
        !self.finalized
    }
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    fn conflict_message(&self, conflicts: &[Conflict]) -> String {
        format!("{} differ", conflicts.len())
    }
    async fn prepare(&mut self, _plan: &AssetPlan) -> Result<()> {
        Ok(())
    }
    async fn remove(&self, asset: &RemoteAsset) -> Result<()> {
        self.write(format!("remove {}", asset.name))?;
        self.files.borrow_mut().remove(&asset.name);
        Ok(())
    }
    async fn put(&self, file: &LocalFile, _path: &Path, put: Put) -> Result<Option<Staged>> {
        self.write(format!("put {}", file.name))?;
        match put {
            Put::Create => {
                self.store(&file.name, file.bytes, &file.sha256);
                Ok(None)
            }
            Put::Replace { old_id } => {
                let temporary = format!("tmp-{}", file.name);
                let new_id = self.store(&temporary, file.bytes, &file.sha256);
                Ok(Some(Staged {
                    name: file.name.clone(),
                    new_id,
                    old_id,
                }))
            }
        }
    }
    async fn swap(&self, staged: &Staged) -> Result<()> {
        self.write(format!("swap {}", staged.name))?;
        let temporary = self.ids.borrow()[&staged.new_id].clone();
        let value = self.files.borrow_mut().remove(&temporary).unwrap();
        self.files.borrow_mut().insert(staged.name.clone(), value);
        self.ids
            .borrow_mut()
            .insert(staged.new_id, staged.name.clone());
        Ok(())
    }
    async fn verify(&self, files: &[&LocalFile]) -> Result<()> {
        self.log
            .borrow_mut()
            .push(format!("verify {}", files.len()));
        for file in files {
            match self.files.borrow().get(&file.name) {
                Some((bytes, sha)) if *bytes == file.bytes && *sha == file.sha256 => {}
                _ => return Err(Error::Remote(format!("{} does not verify", file.name))),
            }
        }
        Ok(())
    }
    async fn finalize(&mut self) -> Result<Finalized> {
        self.write("finalize".into())?;
        self.finalized = true;
        Ok(Finalized::default())
    }
    fn location(&self) -> Option<String> {
        None
    }
    fn manifest_url(&self) -> String {
        "memory/manifest.json".into()
    }
    fn is_draft(&self) -> bool {
        false
    }
}

fn local(version: &str) -> Vec<LocalFile> {
    let file = |name: &str, metadata: bool| LocalFile {
        name: name.into(),
        bytes: 10,
        sha256: format!("{name}-{version}"),
        media_type: "application/octet-stream".into(),
        metadata,
    };
    vec![
        file("a.parquet", false),
        file("b.parquet", false),
        file("db.duckdb.gz", false),
        file("datapackage.json", true),
        file("SHA256SUMS", true),
        file("manifest.json", true),
    ]
}

fn delivery<'a>(files: &'a [LocalFile], mode: Mode, on_conflict: OnConflict) -> Delivery<'a> {
    Delivery {
        tag: "v1",
        local: files,
        out_dir: Path::new("/nonexistent"),
        mode,
        on_conflict,
    }
}

fn run<T: Target>(target: &mut T, delivery: &Delivery<'_>) -> Result<TargetReport> {
    futures::executor::block_on(deliver(target, delivery))
}

/// The manifest is on the target only when every artifact it lists is, with its bytes.
fn assert_never_torn(target: &MemoryTarget, files: &[LocalFile]) {
    let held = target.files.borrow();
    let manifest = files.iter().find(|f| f.name == "manifest.json").unwrap();
    if held
        .get("manifest.json")
        .is_some_and(|(_, sha)| *sha == manifest.sha256)
    {
        for file in files.iter().filter(|f| !f.metadata) {
            assert_eq!(
                held.get(&file.name).map(|(_, sha)| sha.as_str()),
                Some(file.sha256.as_str()),
                "manifest published while {} is not in place",
                file.name
            );
        }
    }
}

#[test]
fn artifacts_go_first_and_the_manifest_last_then_finalize() {
    let files = local("1");
    let mut target = MemoryTarget::default();
    let report = run(
        &mut target,
        &delivery(&files, Mode::Apply, OnConflict::Refuse),
    )
    .unwrap();
    let log = target.log.borrow().clone();
    let position = |entry: &str| log.iter().position(|e| e == entry).unwrap();
    for artifact in ["put a.parquet", "put b.parquet", "put db.duckdb.gz"] {
        assert!(position(artifact) < position("verify 3"), "{log:?}");
    }
    assert!(position("verify 3") < position("put datapackage.json"));
    assert!(position("put SHA256SUMS") < position("put manifest.json"));
    assert_eq!(&log[log.len() - 2..], ["verify 6", "finalize"]);
    assert!(!report.up_to_date);
    assert_eq!(report.assets.len(), 6);
}

#[test]
fn a_failure_at_any_write_leaves_no_torn_release_and_a_rerun_converges() {
    let files = local("1");
    // Count the writes of a clean run, then fail each one in turn.
    let mut clean = MemoryTarget::default();
    run(
        &mut clean,
        &delivery(&files, Mode::Apply, OnConflict::Refuse),
    )
    .unwrap();
    let writes = *clean.writes.borrow();
    assert_eq!(writes, 7, "six puts and finalize");
    for fail_at in 1..=writes {
        let mut target = MemoryTarget {
            fail_at: Some(fail_at),
            ..MemoryTarget::default()
        };
        let err = run(
            &mut target,
            &delivery(&files, Mode::Apply, OnConflict::Refuse),
        );
        assert!(
            err.is_err(),
            "write {fail_at} failed, yet the delivery succeeded"
        );
        assert!(
            !target.finalized,
            "finalized after a failure at write {fail_at}"
        );
        assert_never_torn(&target, &files);
        // The next run picks up from what is there and finishes.
        target.fail_at = None;
        *target.writes.borrow_mut() = 0;
        run(
            &mut target,
            &delivery(&files, Mode::Apply, OnConflict::Refuse),
        )
        .unwrap();
        assert!(target.finalized);
        assert_never_torn(&target, &files);
    }
}

#[test]
fn replacements_are_swapped_only_after_every_new_file_is_uploaded() {
    let old = local("1");
    let new = local("2");
    let held: Vec<(&str, u64, &str)> = old
        .iter()
        .map(|f| (f.name.as_str(), f.bytes, f.sha256.as_str()))
        .collect();
    for fail_at in 1..=13 {
        let mut target = MemoryTarget {
            fail_at: Some(fail_at),
            ..MemoryTarget::holding(&held)
        };
        let result = run(
            &mut target,
            &delivery(&new, Mode::Apply, OnConflict::Replace),
        );
        // The new manifest appears only once every new artifact is in place. (A failure between
        // two swaps leaves the old manifest beside some new files: GitHub cannot swap several
        // names at once. The rerun below completes it.)
        assert_never_torn(&target, &new);
        if result.is_ok() {
            assert!(target.finalized);
            continue;
        }
        target.fail_at = None;
        *target.writes.borrow_mut() = 0;
        run(
            &mut target,
            &delivery(&new, Mode::Apply, OnConflict::Replace),
        )
        .unwrap();
        let files = target.files.borrow();
        for file in &new {
            assert_eq!(
                files[&file.name].1, file.sha256,
                "after the rerun (failure at {fail_at})"
            );
        }
    }
    let mut target = MemoryTarget::holding(&held);
    run(
        &mut target,
        &delivery(&new, Mode::Apply, OnConflict::Replace),
    )
    .unwrap();
    let log = target.log.borrow().clone();
    let last_put = log
        .iter()
        .rposition(|e| e == "put db.duckdb.gz" || e == "put a.parquet" || e == "put b.parquet")
        .unwrap();
    let first_swap = log.iter().position(|e| e.starts_with("swap")).unwrap();
    assert!(last_put < first_swap, "{log:?}");
}

#[test]
fn differences_are_refused_before_any_write_and_a_dry_run_writes_nothing() {
    let old = local("1");
    let new = local("2");
    let held: Vec<(&str, u64, &str)> = old
        .iter()
        .map(|f| (f.name.as_str(), f.bytes, f.sha256.as_str()))
        .collect();
    let mut target = MemoryTarget::holding(&held);
    let err = run(
        &mut target,
        &delivery(&new, Mode::Apply, OnConflict::Refuse),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(target.log.borrow().is_empty());

    let mut target = MemoryTarget::default();
    let report = run(
        &mut target,
        &delivery(&new, Mode::DryRun, OnConflict::Refuse),
    )
    .unwrap();
    assert!(report.dry_run);
    assert!(target.log.borrow().is_empty());
    assert!(report.assets.iter().all(|a| a.action == ActionKind::Upload));
}

#[test]
fn an_identical_release_is_up_to_date_without_writes() {
    let files = local("1");
    let held: Vec<(&str, u64, &str)> = files
        .iter()
        .map(|f| (f.name.as_str(), f.bytes, f.sha256.as_str()))
        .collect();
    let mut target = MemoryTarget {
        finalized: true,
        ..MemoryTarget::holding(&held)
    };
    let report = run(
        &mut target,
        &delivery(&files, Mode::Apply, OnConflict::Refuse),
    )
    .unwrap();
    assert!(report.up_to_date);
    assert_eq!(*target.writes.borrow(), 0);
}
