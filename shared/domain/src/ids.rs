//! Typed identifiers: a prefix that says what the id names and a canonical ULID, checked once
//! where they enter; and the account.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::Error;

/// Prefixed ULID identifiers: `job_01H...`, `upl_01H...`. The prefix says what the id names; the
/// ULID makes ids unique and sortable by creation time.
macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id whose ULID carries the given creation time.
            pub fn new(at: OffsetDateTime) -> Self {
                Self(format!(
                    "{}{}",
                    $prefix,
                    ulid::Ulid::from_datetime(at.into())
                ))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            /// Accepts exactly `<prefix><26-character Crockford ULID>`; anything else (path
            /// separators, `..`, over-long strings) is refused before any storage call.
            fn from_str(s: &str) -> Result<Self, Error> {
                let bad = || Error::invalid_id($what, s);
                let rest = s.strip_prefix($prefix).ok_or_else(bad)?;
                if rest.len() != 26 {
                    return Err(bad());
                }
                let ulid = ulid::Ulid::from_string(rest).map_err(|_| bad())?;
                // Canonical (upper-case) form only, so one job has one id.
                if ulid.to_string() != rest {
                    return Err(bad());
                }
                Ok(Self(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(JobId, "job_", "job id");
prefixed_id!(UploadId, "upl_", "upload id");
prefixed_id!(WebhookId, "wh_", "webhook id");
prefixed_id!(KeyId, "key_", "key id");
prefixed_id!(DeliveryId, "msg_", "delivery id");

/// The account that owns jobs and uploads. Until API keys exist every caller is the default one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub String);

impl AccountId {
    pub fn default_account() -> Self {
        AccountId("acct_default".to_owned())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
