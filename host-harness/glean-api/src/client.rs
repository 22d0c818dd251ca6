//! A blocking client for Glean's indexing API that sends what the official client sends:
//! `POST {base}/api/index/v1/<endpoint>`, `Authorization: Bearer <token>`,
//! `content-type: application/json`. Only HTTP 200 is success. Redirects are not followed.
//! The token never appears in `Debug` output or errors.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::types::*;

/// What went wrong talking to Glean.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GleanError {
    #[error(
        "Glean refused the indexing API token (HTTP {0}); check the token and its datasource scope"
    )]
    Unauthorized(u16),
    #[error("Glean's rate limit was hit (HTTP 429); retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the request was too large for Glean (HTTP 413); send smaller batches")]
    TooLarge,
    #[error("Glean rejected the request (HTTP {status}): {message}")]
    BadRequest { status: u16, message: String },
    #[error("Glean failed (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    #[error("could not reach Glean: {0}")]
    Transport(String),
    #[error("Glean did not answer in time")]
    Timeout,
    #[error("Glean's answer was not understood: {0}")]
    InvalidResponse(String),
    #[error("invalid Glean client configuration: {0}")]
    InvalidConfig(String),
}

impl GleanError {
    /// Worth retrying: rate limits, server errors, timeouts and connection failures.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GleanError::RateLimited { .. }
                | GleanError::Server { .. }
                | GleanError::Transport(_)
                | GleanError::Timeout
        )
    }

    /// The server's advice on when to retry.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GleanError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// The client.
#[derive(Clone)]
pub struct GleanClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl fmt::Debug for GleanClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GleanClient")
            .field("base", &self.base)
            .field("token", &"[REDACTED]")
            .finish()
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

impl GleanClient {
    /// `base_url` is the host root, without `/api/index/v1`.
    pub fn new(base_url: &str, token: String) -> Result<Self, GleanError> {
        let base = base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(GleanError::InvalidConfig(format!(
                "the base URL `{base_url}` must start with http:// or https://"
            )));
        }
        if base.contains("/api/index/v1") {
            return Err(GleanError::InvalidConfig(format!(
                "give the base URL without /api/index/v1 (got `{base_url}`)"
            )));
        }
        if token.is_empty() {
            return Err(GleanError::InvalidConfig(
                "the indexing API token is empty".into(),
            ));
        }
        Ok(GleanClient {
            base: base.to_string(),
            token,
            agent: agent(Duration::from_secs(60)),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.agent = agent(timeout);
        self
    }

    fn post(&self, endpoint: &str, body: &impl Serialize) -> Result<String, GleanError> {
        let url = format!("{}/api/index/v1/{endpoint}", self.base);
        let payload =
            serde_json::to_vec(body).map_err(|e| GleanError::InvalidConfig(e.to_string()))?;
        let result = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .send(&payload[..]);
        let mut resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Timeout(_)) => return Err(GleanError::Timeout),
            Err(e) => {
                return Err(GleanError::Transport(
                    e.to_string().replace(&self.token, "[REDACTED]"),
                ));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = resp
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let excerpt: String = text.chars().take(300).collect();
        match status {
            200 => Ok(text),
            401 | 403 => Err(GleanError::Unauthorized(status)),
            413 => Err(GleanError::TooLarge),
            429 => Err(GleanError::RateLimited { retry_after }),
            500..=599 => Err(GleanError::Server {
                status,
                message: excerpt,
            }),
            _ => Err(GleanError::BadRequest {
                status,
                message: if excerpt.is_empty() {
                    format!("unexpected status for {endpoint}")
                } else {
                    excerpt
                },
            }),
        }
    }

    fn post_json<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &impl Serialize,
    ) -> Result<T, GleanError> {
        let text = self.post(endpoint, body)?;
        serde_json::from_str(&text)
            .map_err(|e| GleanError::InvalidResponse(format!("{endpoint}: {e}")))
    }

    pub fn add_datasource(&self, config: &CustomDatasourceConfig) -> Result<(), GleanError> {
        self.post("adddatasource", config).map(drop)
    }

    pub fn get_datasource_config(&self, name: &str) -> Result<CustomDatasourceConfig, GleanError> {
        self.post_json(
            "getdatasourceconfig",
            &GetDatasourceConfigRequest {
                datasource: name.to_string(),
            },
        )
    }

    pub fn index_documents(
        &self,
        datasource: &str,
        documents: &[DocumentDefinition],
    ) -> Result<(), GleanError> {
        self.post(
            "indexdocuments",
            &serde_json::json!({"datasource": datasource, "documents": documents}),
        )
        .map(drop)
    }

    pub fn bulk_index_documents(&self, req: &BulkIndexDocumentsRequest) -> Result<(), GleanError> {
        self.post("bulkindexdocuments", req).map(drop)
    }

    pub fn delete_document(
        &self,
        datasource: &str,
        object_type: &str,
        id: &str,
    ) -> Result<(), GleanError> {
        self.post(
            "deletedocument",
            &DeleteDocumentRequest {
                version: None,
                datasource: datasource.to_string(),
                object_type: object_type.to_string(),
                id: id.to_string(),
            },
        )
        .map(drop)
    }

    pub fn bulk_index_users(&self, req: &BulkIndexUsersRequest) -> Result<(), GleanError> {
        self.post("bulkindexusers", req).map(drop)
    }

    pub fn check_document_access(
        &self,
        datasource: &str,
        object_type: &str,
        doc_id: &str,
        user_email: &str,
    ) -> Result<bool, GleanError> {
        let r: CheckDocumentAccessResponse = self.post_json(
            "checkdocumentaccess",
            &CheckDocumentAccessRequest {
                datasource: datasource.into(),
                object_type: object_type.into(),
                doc_id: doc_id.into(),
                user_email: user_email.into(),
            },
        )?;
        Ok(r.has_access)
    }
}

/// `Retry-After` as seconds, or as an HTTP date (delay from now).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    rate_window::retry_after::parse(value, std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_token() {
        let c = GleanClient::new("http://127.0.0.1:1", "secret-token-123".into()).unwrap();
        assert!(!format!("{c:?}").contains("secret-token-123"));
    }

    #[test]
    fn parses_retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn validates_the_base_url() {
        assert!(GleanClient::new("acme-be.glean.com", "t".into()).is_err());
        assert!(GleanClient::new("https://x/api/index/v1", "t".into()).is_err());
        assert!(GleanClient::new("https://x", String::new()).is_err());
    }
}
