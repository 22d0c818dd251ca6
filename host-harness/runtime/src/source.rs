//! The wasm connector as the engine's [`Source`]: each export call runs in a fresh instance
//! ([`WasmSource`]), whose answers are already in the engine's plain types
//! ([`crate::convert`]).

use source_seam::types as plain;
use source_seam::{Source, SourceError};

use crate::{CallError, WasmSource};

impl From<CallError> for SourceError {
    fn from(e: CallError) -> Self {
        SourceError {
            kind: e.kind(),
            message: e.to_string(),
            retry_after: e.retry_after(),
            guest_fault: matches!(e, CallError::Deadline { .. }),
        }
    }
}

impl Source for WasmSource {
    fn describe(&self) -> Result<plain::ConnectorInfo, SourceError> {
        Ok(WasmSource::describe(self)?)
    }
    fn check(&self) -> Result<(), SourceError> {
        Ok(WasmSource::check(self)?)
    }
    fn list_changes(
        &self,
        mode: plain::CrawlMode,
        cursor: Option<&str>,
    ) -> Result<plain::ChangePage, SourceError> {
        Ok(WasmSource::list_changes(self, mode, cursor)?)
    }
    fn fetch_item(&self, id: &str, v: plain::Visibility) -> Result<plain::Item, SourceError> {
        Ok(WasmSource::fetch_item(self, id, v)?)
    }
    fn fetch_document(
        &self,
        id: &str,
        v: plain::Visibility,
    ) -> Result<source_seam::Document, SourceError> {
        let (item, permissions) = WasmSource::fetch_with_permissions(self, id, v)?;
        Ok(source_seam::Document { item, permissions })
    }
    fn map_permissions(&self, f: &plain::AccessFacts) -> Result<plain::Permissions, SourceError> {
        Ok(WasmSource::map_permissions(self, f)?)
    }
    fn list_users(&self, cursor: Option<&str>) -> Result<plain::UserPage, SourceError> {
        Ok(WasmSource::list_users(self, cursor)?)
    }
    fn requests_sent(&self) -> u64 {
        self.egress().request_count()
    }
    fn carries_secret(&self, bytes: &[u8]) -> bool {
        self.egress().redactor().contains(bytes)
    }
    fn redact(&self, text: &str) -> String {
        self.egress().redactor().redact(text)
    }
}
