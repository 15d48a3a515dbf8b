//! The archive in S3: an object per user, written only over an older
//! revision (`If-Match` on the entity tag read, or `If-None-Match: *`).

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::result::SdkError;

use super::classify;
use crate::domain::{Revision, UserId, Version};
use crate::error::PortError;
use crate::ports::{ArchiveHead, ArchiveStore, Conditional, WriteCondition, archive_key};

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
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(archive_key(user))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(SdkError::ServiceError(context)) if context.raw().status().as_u16() == 404 => {
                return Ok(None);
            }
            Err(err) => return Err(classify("HeadObject", err)),
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
}
