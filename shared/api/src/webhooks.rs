//! Webhook subscriptions as clients create them: the rules every subscription follows.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use horizon_domain::error::{Error, Result};
use horizon_domain::keys::random_bytes;
use horizon_domain::net::{check_webhook_url, Cidr};
use horizon_domain::{rfc3339, EventType, Subscription, WebhookId};

/// A subscription as a client sends it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookInput {
    /// http(s) URL; internal addresses are refused.
    #[schema(
        example = "https://example.com/hooks/horizon",
        format = "uri",
        max_length = 2048
    )]
    pub url: String,
    /// One or more of `job.completed`, `job.failed`, `job.processing`.
    #[schema(min_items = 1)]
    #[schema(value_type = Vec<crate::schemas::EventType>)]
    pub events: Vec<EventType>,
    /// `whsec_` + standard base64 of 24 to 64 random bytes; generated (and shown once) if absent.
    #[schema(
        example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        pattern = r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$"
    )]
    pub secret: Option<String>,
}

/// A rotation of a subscription's secret (`POST /v1/webhooks/{webhookId}/rotate`): the new
/// secret, or none to have one generated (and shown once). The old secret is still signed
/// with for [`ROTATION_OVERLAP`].
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// `whsec_` + standard base64 of 24 to 64 random bytes; generated (and shown once) if absent.
    #[schema(
        example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        pattern = r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$"
    )]
    pub secret: Option<String>,
}

/// How long deliveries are signed with a rotated-out secret too.
pub const ROTATION_OVERLAP: time::Duration = time::Duration::hours(24);

impl RotateSecret {
    /// The subscription with its new secret, and that secret when the server generated it.
    pub fn apply(
        self,
        sub: &Subscription,
        now: time::OffsetDateTime,
    ) -> Result<(Subscription, Option<String>)> {
        let (secret, generated) = new_secret(self.secret, "secret")?;
        Ok((sub.rotated(secret, now, ROTATION_OVERLAP), generated))
    }
}

/// The secret given (checked; a fault names `field`), or a new one (then also returned, to be
/// shown once).
fn new_secret(given: Option<String>, field: &str) -> Result<(String, Option<String>)> {
    match given {
        Some(secret) => {
            check_secret(&secret).map_err(|m| Error::field(field, m))?;
            Ok((secret, None))
        }
        None => {
            use base64::Engine;
            let secret = format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(random_bytes(32)?)
            );
            Ok((secret.clone(), Some(secret)))
        }
    }
}

/// Checks `input` (naming the field at fault) and makes the subscription. Also returns the
/// secret when the server generated it, for the one response that shows it.
pub fn subscribe(
    input: WebhookInput,
    allow: &[Cidr],
    now: time::OffsetDateTime,
    field_prefix: &str,
) -> Result<(Subscription, Option<String>)> {
    let field = |name: &str| format!("{field_prefix}{name}");
    check_webhook_url(&input.url, allow).map_err(|m| Error::field(field("url"), m))?;
    if input.events.is_empty() {
        return Err(Error::field(
            field("events"),
            "must name at least one event",
        ));
    }
    let mut events = input.events;
    events.sort();
    events.dedup();
    let (secret, generated) = new_secret(input.secret, &field("secret"))?;
    Ok((
        Subscription {
            id: WebhookId::new(now),
            url: input.url,
            events,
            secret,
            created_at: rfc3339(now),
            disabled: false,
            previous: None,
        },
        generated,
    ))
}

/// `whsec_` followed by standard, padded base64 of 24 to 64 bytes (Standard Webhooks).
pub fn check_secret(secret: &str) -> Result<(), String> {
    use base64::Engine;
    let b64 = secret
        .strip_prefix("whsec_")
        .ok_or("must start with whsec_")?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "must be whsec_ followed by standard base64".to_owned())?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!("must encode 24 to 64 bytes, not {}", key.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str, events: Vec<EventType>, secret: Option<&str>) -> WebhookInput {
        WebhookInput {
            url: url.into(),
            events,
            secret: secret.map(String::from),
        }
    }

    #[test]
    fn secrets() {
        assert!(check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(check_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(
            check_secret("whsec_c2hvcnQ=").is_err(),
            "5 bytes is too short"
        );
        assert!(check_secret("whsec_!!!").is_err());
    }

    #[test]
    fn generated_secrets_are_valid_and_returned_once() {
        let now = time::OffsetDateTime::now_utc();
        let (sub, generated) = subscribe(
            input("https://example.com/h", vec![EventType::Completed], None),
            &[],
            now,
            "",
        )
        .unwrap();
        let secret = generated.unwrap();
        assert_eq!(sub.secret, secret);
        assert!(check_secret(&secret).is_ok());
        assert!(crate::views::SubscriptionView::of(&sub, None)
            .secret
            .is_none());
        let (_, none) = subscribe(
            input(
                "https://example.com/h",
                vec![EventType::Failed],
                Some(&secret),
            ),
            &[],
            now,
            "",
        )
        .unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn bad_input_names_the_field() {
        let now = time::OffsetDateTime::now_utc();
        let field = |r: Result<(Subscription, Option<String>)>| match r.unwrap_err() {
            Error::BadRequest { errors, .. } => errors[0].field.clone(),
            e => panic!("{e:?}"),
        };
        assert_eq!(
            field(subscribe(
                input("http://10.0.0.1/", vec![EventType::Failed], None),
                &[],
                now,
                "webhook."
            )),
            "webhook.url"
        );
        assert_eq!(
            field(subscribe(
                input("https://e.com/", vec![], None),
                &[],
                now,
                ""
            )),
            "events"
        );
        assert_eq!(
            field(subscribe(
                input("https://e.com/", vec![EventType::Failed], Some("nope")),
                &[],
                now,
                ""
            )),
            "secret"
        );
    }
}
