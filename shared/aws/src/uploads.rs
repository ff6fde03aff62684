//! Upload records in the table.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use crate::dynamo::{from_millis, millis, n, num, opt_str, s, str_attr, DynamoStore, Item};
use horizon_app::ports::UploadStore;
use horizon_app::ports::{StoreError, StoreResult};
use horizon_domain::{AccountId, Upload, UploadId};

impl DynamoStore {
    fn upload_item(upload: &Upload) -> Item {
        let mut item: Item = HashMap::new();
        item.insert("pk".into(), s(format!("UPLOAD#{}", upload.id)));
        item.insert("sk".into(), s("UPLOAD"));
        item.insert("uploadId".into(), s(upload.id.to_string()));
        item.insert("accountId".into(), s(upload.account.to_string()));
        item.insert("pending".into(), AttributeValue::Bool(upload.pending));
        item.insert("contentType".into(), s(upload.content_type.clone()));
        item.insert("size".into(), n(upload.size));
        item.insert("sha256".into(), s(upload.sha256.clone()));
        item.insert("createdAt".into(), n(millis(upload.created_at)));
        item.insert("expiresAt".into(), n(upload.expires_at.unix_timestamp()));
        if let Some(name) = &upload.filename {
            item.insert("filename".into(), s(name.clone()));
        }
        for (name, value) in [
            ("width", upload.width),
            ("height", upload.height),
            ("pages", upload.pages),
        ] {
            if let Some(v) = value {
                item.insert(name.into(), n(v));
            }
        }
        item
    }
}

#[async_trait]
impl UploadStore for DynamoStore {
    async fn put(&self, upload: &Upload) -> StoreResult<()> {
        self.put_item(
            Self::upload_item(upload),
            Some("attribute_not_exists(pk)"),
            vec![],
        )
        .await
        .map(|_| ())
    }

    async fn complete(&self, upload: &Upload) -> StoreResult<()> {
        let item = Self::upload_item(upload);
        self.put_item(
            item,
            Some("pending = :true"),
            vec![(":true", AttributeValue::Bool(true))],
        )
        .await
        .map(|_| ())
    }

    async fn get(&self, id: &UploadId) -> StoreResult<Option<Upload>> {
        let Some(item) = self.get_item(format!("UPLOAD#{id}"), "UPLOAD").await? else {
            return Ok(None);
        };
        let opt_num = |name: &str| item.get(name).and_then(|_| num::<u32>(&item, name).ok());
        Ok(Some(Upload {
            id: UploadId::from_str(str_attr(&item, "uploadId")?)?,
            account: AccountId(str_attr(&item, "accountId")?.to_owned()),
            pending: item
                .get("pending")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            content_type: str_attr(&item, "contentType")?.to_owned(),
            size: num(&item, "size")?,
            sha256: str_attr(&item, "sha256")?.to_owned(),
            filename: opt_str(&item, "filename").map(str::to_owned),
            width: opt_num("width"),
            height: opt_num("height"),
            pages: opt_num("pages"),
            created_at: from_millis(num(&item, "createdAt")?)?,
            expires_at: OffsetDateTime::from_unix_timestamp(num(&item, "expiresAt")?)
                .map_err(|e| StoreError::Internal(format!("expiresAt out of range: {e}")))?,
        }))
    }

    async fn delete(&self, id: &UploadId) -> StoreResult<()> {
        self.delete_item(format!("UPLOAD#{id}"), "UPLOAD".into())
            .await
    }
}
