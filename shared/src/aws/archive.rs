//! The archive in S3: an object per user, written only over an older
//! revision (`If-Match` on the entity tag read, or `If-None-Match: *`);
//! after a removal, the object's older versions deleted.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::result::SdkError;

use super::classify;
use crate::domain::{Revision, UserId, Version};
use crate::error::PortError;
use crate::ports::{
    ArchiveHead, ArchiveReader, ArchiveStore, ArchivedObject, Conditional, WriteCondition,
    archive_key, erasure_key,
};

/// Object metadata that carries the archived revision.
const VERSION_METADATA: &str = "onboard-version";
const REMOVED_METADATA: &str = "onboard-removed";

/// The archive bucket in S3: one JSON object per user, its revision in the
/// object's metadata, writes guarded by `If-None-Match` / `If-Match`.
#[derive(Debug, Clone)]
pub struct S3Archive {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Archive {
    /// `HeadObject` of the user's object; `None` when there is none.
    async fn head_object(
        &self,
        user: &UserId,
    ) -> Result<Option<aws_sdk_s3::operation::head_object::HeadObjectOutput>, PortError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(archive_key(user))
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(output)),
            Err(SdkError::ServiceError(context)) if context.raw().status().as_u16() == 404 => {
                Ok(None)
            }
            Err(err) => Err(classify("HeadObject", err)),
        }
    }

    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl ArchiveStore for S3Archive {
    async fn head(&self, user: &UserId) -> Result<Option<ArchiveHead>, PortError> {
        let Some(output) = self.head_object(user).await? else {
            return Ok(None);
        };
        let metadata = output.metadata.unwrap_or_default();
        // An object without our metadata was not written by the archive
        // consumer: it holds no revision, and ranks below every change.
        let revision = metadata
            .get(VERSION_METADATA)
            .and_then(|v| v.parse::<u64>().ok())
            .and_then(|v| Version::new(v).ok())
            .map(|version| Revision {
                version,
                removed: metadata.get(REMOVED_METADATA).is_some_and(|v| v == "true"),
            });
        Ok(Some(ArchiveHead {
            revision,
            etag: output.e_tag.unwrap_or_default(),
        }))
    }

    async fn put(
        &self,
        user: &UserId,
        revision: Revision,
        body: &[u8],
        condition: WriteCondition,
    ) -> Result<Conditional, PortError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(archive_key(user))
            .content_type("application/json")
            .metadata(VERSION_METADATA, revision.version.to_string())
            .metadata(REMOVED_METADATA, revision.removed.to_string())
            .body(ByteStream::from(body.to_vec()));
        let request = match condition {
            WriteCondition::Absent => request.if_none_match("*"),
            WriteCondition::Matches(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(_) => Ok(Conditional::Written),
            // 412: the condition failed; 409: a concurrent conditional write won.
            Err(SdkError::ServiceError(context))
                if matches!(context.raw().status().as_u16(), 409 | 412) =>
            {
                Ok(Conditional::Conflict)
            }
            Err(err) => Err(classify("PutObject", err)),
        }
    }

    async fn delete_history(&self, user: &UserId) -> Result<usize, PortError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let key = archive_key(user);
        // The current version is the one HeadObject reads (S3 says so
        // itself; a listing's IsLatest is only as good as its clock).
        let current = self
            .head_object(user)
            .await?
            .and_then(|head| head.version_id);
        let Some(current) = current else {
            // No current object (or no versioning): nothing older to find.
            return Ok(0);
        };
        // Every version of the key but the current one, delete markers too.
        let mut older = Vec::new();
        let mut markers: (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&key)
                .set_key_marker(markers.0.take())
                .set_version_id_marker(markers.1.take())
                .send()
                .await
                .map_err(|err| classify("ListObjectVersions", err))?;
            let versions = page
                .versions
                .unwrap_or_default()
                .into_iter()
                .map(|v| (v.key, v.version_id));
            let deletes = page
                .delete_markers
                .unwrap_or_default()
                .into_iter()
                .map(|m| (m.key, m.version_id));
            older.extend(
                versions
                    .chain(deletes)
                    .filter(|(k, _)| k.as_deref() == Some(key.as_str()))
                    .filter_map(|(_, version)| version)
                    .filter(|version| *version != current),
            );
            if page.is_truncated != Some(true) {
                break;
            }
            markers = (page.next_key_marker, page.next_version_id_marker);
        }
        let deleted = older.len();
        // DeleteObjects takes at most 1,000 keys a call.
        for chunk in older.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|version| {
                    ObjectIdentifier::builder()
                        .key(&key)
                        .version_id(version)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| PortError::rejected("DeleteObjects", err.to_string()))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|err| PortError::rejected("DeleteObjects", err.to_string()))?;
            let output = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|err| classify("DeleteObjects", err))?;
            if let Some(failed) = output.errors.and_then(|errors| errors.into_iter().next()) {
                return Err(PortError::transient(
                    "DeleteObjects",
                    format!(
                        "a version was not deleted: {}",
                        failed.code.unwrap_or_else(|| "no code".to_owned())
                    ),
                ));
            }
        }
        Ok(deleted)
    }

    async fn log_erasure(&self, user: &UserId) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(erasure_key(user))
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .map_err(|err| classify("PutObject", err))?;
        Ok(())
    }
}

#[async_trait]
impl ArchiveReader for S3Archive {
    async fn read(&self, user: &UserId) -> Result<Option<ArchivedObject>, PortError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(archive_key(user))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(SdkError::ServiceError(context)) if context.raw().status().as_u16() == 404 => {
                return Ok(None);
            }
            Err(err) => return Err(classify("GetObject", err)),
        };
        let last_modified = output
            .last_modified
            .and_then(|at| chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos()));
        let body = output
            .body
            .collect()
            .await
            .map_err(|err| PortError::transient("GetObject", err))?
            .into_bytes()
            .to_vec();
        Ok(Some(ArchivedObject {
            body,
            last_modified,
        }))
    }
}
