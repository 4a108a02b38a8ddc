//! Plan = diff(manifest, remote state): a pure function from what we built and what a target
//! holds to the list of actions that make them equal. No I/O; `--dry-run` prints exactly this.

use serde::Serialize;

use dbrelease_manifest::{DATAPACKAGE_FILE, MANIFEST_FILE, Manifest, SHA256SUMS_FILE};

/// Prefix of the temporary names a replacement is uploaded under before the swap.
pub const TEMP_PREFIX: &str = "dbrelease-tmp-";

/// A file we want the target to hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalFile {
    /// Asset name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Hex sha256.
    pub sha256: String,
    /// Media type sent as Content-Type.
    pub media_type: String,
    /// manifest.json, SHA256SUMS or datapackage.json: uploaded after every artifact.
    pub metadata: bool,
}

/// An asset as the target reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteAsset {
    /// Target-side id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// `uploaded` when complete; anything else is a leftover of a failed upload.
    pub state: String,
    /// Hex sha256 the target computed, when it reports one.
    pub sha256: Option<String>,
}

impl RemoteAsset {
    /// True once the target holds the whole file (GitHub's state `uploaded`; S3 objects always).
    pub fn is_complete(&self) -> bool {
        self.state == dbrelease_remote::github::UPLOADED
    }
}

/// What to do with one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AssetAction {
    /// Already there with the same bytes.
    Skip {
        /// Asset name.
        name: String,
        /// Size.
        bytes: u64,
    },
    /// Not there yet.
    Upload {
        /// Asset name.
        name: String,
        /// Size.
        bytes: u64,
    },
    /// Not there yet, but the same bytes are already published under the same name in version
    /// `from`: copied server-side (S3), nothing uploaded. Verified like an upload.
    Copy {
        /// Asset name.
        name: String,
        /// Size.
        bytes: u64,
        /// The version that holds it.
        from: String,
    },
    /// There with other bytes and `--replace` given: upload under a temporary name, verify,
    /// delete the old asset, rename the new one.
    Replace {
        /// Asset name.
        name: String,
        /// Size of the new bytes.
        bytes: u64,
        /// Id of the asset being replaced.
        old_id: u64,
    },
    /// An incomplete asset (a failed upload) or one of our temporary names: delete it.
    DeleteLeftover {
        /// Asset name.
        name: String,
        /// Its id.
        id: u64,
        /// Its state.
        state: String,
    },
}

impl AssetAction {
    /// The asset name the action concerns.
    pub fn name(&self) -> &str {
        match self {
            AssetAction::Skip { name, .. }
            | AssetAction::Upload { name, .. }
            | AssetAction::Copy { name, .. }
            | AssetAction::Replace { name, .. }
            | AssetAction::DeleteLeftover { name, .. } => name,
        }
    }

    /// The action's name in reports: `skip`, `upload`, `copy`, `replace` or `delete_leftover`.
    pub fn kind(&self) -> &'static str {
        match self {
            AssetAction::Skip { .. } => "skip",
            AssetAction::Upload { .. } => "upload",
            AssetAction::Copy { .. } => "copy",
            AssetAction::Replace { .. } => "replace",
            AssetAction::DeleteLeftover { .. } => "delete_leftover",
        }
    }

    /// Bytes this action sends.
    pub fn upload_bytes(&self) -> u64 {
        match self {
            AssetAction::Upload { bytes, .. } | AssetAction::Replace { bytes, .. } => *bytes,
            AssetAction::Skip { .. }
            | AssetAction::Copy { .. }
            | AssetAction::DeleteLeftover { .. } => 0,
        }
    }
}

/// An asset that differs from what we built, refused without `--replace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// Asset name.
    pub name: String,
    /// Published size.
    pub remote_bytes: u64,
    /// Published sha256, if known.
    pub remote_sha256: Option<String>,
    /// Our size.
    pub local_bytes: u64,
    /// Our sha256.
    pub local_sha256: String,
}

impl Conflict {
    /// One line for the user: both sides' size and sha256 (`held` names the remote side,
    /// e.g. "published" or "stored").
    pub fn describe(&self, held: &str) -> String {
        format!(
            "{}: {held} {} bytes sha256 {}, built {} bytes sha256 {}",
            self.name,
            self.remote_bytes,
            self.remote_sha256.as_deref().unwrap_or("unknown"),
            self.local_bytes,
            self.local_sha256
        )
    }
}

/// The actions for one target, in execution order: leftovers, artifacts, metadata (manifest.json
/// last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetPlan {
    /// Ordered actions.
    pub actions: Vec<AssetAction>,
    /// Differences refused because `--replace` was not given.
    pub conflicts: Vec<Conflict>,
}

impl AssetPlan {
    /// True when nothing needs to change.
    pub fn is_noop(&self) -> bool {
        self.conflicts.is_empty()
            && self
                .actions
                .iter()
                .all(|action| matches!(action, AssetAction::Skip { .. }))
    }

    /// Total bytes to upload.
    pub fn upload_bytes(&self) -> u64 {
        self.actions.iter().map(AssetAction::upload_bytes).sum()
    }
}

/// The files a release consists of: every artifact, then the metadata files, manifest last.
pub fn local_files(manifest: &Manifest, metadata: &[(&str, u64, String)]) -> Vec<LocalFile> {
    let mut files: Vec<LocalFile> = manifest
        .artifacts
        .iter()
        .map(|artifact| LocalFile {
            name: artifact.name.clone(),
            bytes: artifact.bytes,
            sha256: artifact.sha256.clone(),
            media_type: artifact.media_type.clone(),
            metadata: false,
        })
        .collect();
    for name in [DATAPACKAGE_FILE, SHA256SUMS_FILE, MANIFEST_FILE] {
        if let Some((_, bytes, sha256)) = metadata.iter().find(|(n, _, _)| *n == name) {
            files.push(LocalFile {
                name: name.to_string(),
                bytes: *bytes,
                sha256: sha256.clone(),
                media_type: dbrelease_manifest::names::media_type_for(name).to_string(),
                metadata: true,
            });
        }
    }
    files
}

/// Another version on the same target, whose files a new one may copy instead of uploading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    /// Its tag.
    pub tag: String,
    /// The files it holds, with the size the target reports and the sha256 its manifest
    /// records (a copy is verified like an upload before the new manifest is written).
    pub files: Vec<RemoteAsset>,
}

/// Diffs the files we want against the assets the target has.
///
/// `published` is the manifest the target already holds, if any: it vouches for assets the
/// target reports no digest for, and when it lists exactly our artifacts the metadata files
/// count as identical even if they differ in `created_at`. An artifact missing from the
/// target that `copy_source` holds with the same name and bytes is copied, not uploaded
/// (metadata files always describe this version, so they are never copied).
pub fn plan_assets(
    local: &[LocalFile],
    remote: &[RemoteAsset],
    published: Option<&Manifest>,
    copy_source: Option<&CopySource>,
    replace: bool,
) -> AssetPlan {
    let mut actions = Vec::new();
    let mut conflicts = Vec::new();

    for asset in remote {
        let ours = local.iter().any(|file| file.name == asset.name);
        if !asset.is_complete() || (!ours && asset.name.starts_with(TEMP_PREFIX)) {
            actions.push(AssetAction::DeleteLeftover {
                name: asset.name.clone(),
                id: asset.id,
                state: asset.state.clone(),
            });
        }
    }

    let same_artifacts = published.is_some_and(|manifest| {
        let theirs: Vec<(&str, &str)> = manifest
            .artifacts
            .iter()
            .map(|a| (a.name.as_str(), a.sha256.as_str()))
            .collect();
        let ours: Vec<(&str, &str)> = local
            .iter()
            .filter(|file| !file.metadata)
            .map(|file| (file.name.as_str(), file.sha256.as_str()))
            .collect();
        theirs == ours
    });

    for file in local {
        let existing = remote
            .iter()
            .find(|asset| asset.name == file.name && asset.is_complete());
        let Some(existing) = existing else {
            let copyable = copy_source.filter(|source| {
                !file.metadata
                    && source.files.iter().any(|held| {
                        held.name == file.name
                            && held.bytes == file.bytes
                            && held.sha256.as_deref() == Some(file.sha256.as_str())
                    })
            });
            actions.push(match copyable {
                Some(source) => AssetAction::Copy {
                    name: file.name.clone(),
                    bytes: file.bytes,
                    from: source.tag.clone(),
                },
                None => AssetAction::Upload {
                    name: file.name.clone(),
                    bytes: file.bytes,
                },
            });
            continue;
        };
        let identical = match &existing.sha256 {
            Some(sha256) => sha256 == &file.sha256 && existing.bytes == file.bytes,
            // No digest (older assets): the published manifest vouches for the bytes.
            None => {
                existing.bytes == file.bytes
                    && published.is_some_and(|manifest| {
                        manifest
                            .artifacts
                            .iter()
                            .any(|a| a.name == file.name && a.sha256 == file.sha256)
                    })
            }
        };
        if identical || (file.metadata && same_artifacts) {
            actions.push(AssetAction::Skip {
                name: file.name.clone(),
                bytes: file.bytes,
            });
        } else if replace {
            actions.push(AssetAction::Replace {
                name: file.name.clone(),
                bytes: file.bytes,
                old_id: existing.id,
            });
        } else {
            conflicts.push(Conflict {
                name: file.name.clone(),
                remote_bytes: existing.bytes,
                remote_sha256: existing.sha256.clone(),
                local_bytes: file.bytes,
                local_sha256: file.sha256.clone(),
            });
        }
    }
    AssetPlan { actions, conflicts }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, sha: &str, metadata: bool) -> LocalFile {
        LocalFile {
            name: name.into(),
            bytes: 10,
            sha256: sha.into(),
            media_type: "application/octet-stream".into(),
            metadata,
        }
    }

    fn asset(id: u64, name: &str, sha: Option<&str>, state: &str) -> RemoteAsset {
        RemoteAsset {
            id,
            name: name.into(),
            bytes: 10,
            state: state.into(),
            sha256: sha.map(Into::into),
        }
    }

    fn release() -> Vec<LocalFile> {
        vec![
            file("a.parquet", "aa", false),
            file("db.gz", "bb", false),
            file("manifest.json", "mm", true),
        ]
    }

    #[test]
    fn empty_release_uploads_everything_in_order() {
        let plan = plan_assets(&release(), &[], None, None, false);
        let names: Vec<&str> = plan.actions.iter().map(AssetAction::name).collect();
        assert_eq!(names, ["a.parquet", "db.gz", "manifest.json"]);
        assert!(
            plan.actions
                .iter()
                .all(|a| matches!(a, AssetAction::Upload { .. }))
        );
        assert_eq!(plan.upload_bytes(), 30);
    }

    #[test]
    fn identical_digests_skip_and_differences_conflict_or_replace() {
        let remote = [
            asset(1, "a.parquet", Some("aa"), "uploaded"),
            asset(2, "db.gz", Some("old"), "uploaded"),
            asset(3, "manifest.json", Some("mm"), "uploaded"),
        ];
        let plan = plan_assets(&release(), &remote, None, None, false);
        assert_eq!(plan.conflicts.len(), 1);
        assert_eq!(plan.conflicts[0].name, "db.gz");
        assert_eq!(plan.conflicts[0].remote_sha256.as_deref(), Some("old"));
        let plan = plan_assets(&release(), &remote, None, None, true);
        assert!(plan.conflicts.is_empty());
        assert_eq!(
            plan.actions[1],
            AssetAction::Replace {
                name: "db.gz".into(),
                bytes: 10,
                old_id: 2
            }
        );
        let remote_same = [
            asset(1, "a.parquet", Some("aa"), "uploaded"),
            asset(2, "db.gz", Some("bb"), "uploaded"),
            asset(3, "manifest.json", Some("mm"), "uploaded"),
        ];
        assert!(plan_assets(&release(), &remote_same, None, None, false).is_noop());
    }

    #[test]
    fn files_another_version_holds_with_the_same_bytes_are_copied_not_uploaded() {
        let source = CopySource {
            tag: "v2026.1204.0".into(),
            files: vec![
                // Same name and bytes: copied.
                asset(0, "a.parquet", Some("aa"), "uploaded"),
                // Same name, other bytes: uploaded.
                asset(0, "db.gz", Some("old"), "uploaded"),
                // The manifest is this version's own, whatever the other holds.
                asset(0, "manifest.json", Some("mm"), "uploaded"),
            ],
        };
        let plan = plan_assets(&release(), &[], None, Some(&source), false);
        assert_eq!(
            plan.actions,
            [
                AssetAction::Copy {
                    name: "a.parquet".into(),
                    bytes: 10,
                    from: "v2026.1204.0".into()
                },
                AssetAction::Upload {
                    name: "db.gz".into(),
                    bytes: 10
                },
                AssetAction::Upload {
                    name: "manifest.json".into(),
                    bytes: 10
                },
            ]
        );
        assert_eq!(plan.upload_bytes(), 20, "a copy sends nothing");
        assert!(!plan.is_noop());
        // A file already in place is skipped, not copied again.
        let remote = [asset(1, "a.parquet", Some("aa"), "uploaded")];
        let plan = plan_assets(&release(), &remote, None, Some(&source), false);
        assert!(matches!(plan.actions[0], AssetAction::Skip { .. }));
    }

    #[test]
    fn leftovers_are_deleted_first_and_reuploaded() {
        let remote = [
            asset(7, "db.gz", None, "starter"),
            asset(8, "dbrelease-tmp-a.parquet", Some("zz"), "uploaded"),
            asset(9, "notes.txt", Some("nn"), "uploaded"),
        ];
        let plan = plan_assets(&release(), &remote, None, None, false);
        assert!(matches!(
            plan.actions[0],
            AssetAction::DeleteLeftover { id: 7, .. }
        ));
        assert!(matches!(
            plan.actions[1],
            AssetAction::DeleteLeftover { id: 8, .. }
        ));
        // Someone else's asset is left alone.
        assert!(!plan.actions.iter().any(|a| a.name() == "notes.txt"));
        assert!(
            plan.actions
                .iter()
                .any(|a| matches!(a, AssetAction::Upload { name, .. } if name == "db.gz"))
        );
    }
}
