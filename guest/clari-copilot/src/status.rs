//! Call processing status: which calls are eligible for the index, and the reason a call
//! that is not gets in the crawl report. Unknown status values are kept, never an error.

/// Clari's `CallStatus`, open-ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallStatus {
    /// Transcript, summary and insights are ready: the only eligible status.
    PostProcessingDone,
    /// On its way (scheduled, recording or processing): eligible later.
    InFlight(String),
    /// Ended without a processed recording (errors, nobody joined, bot denied, ...).
    Terminal(String),
    /// A value this connector does not know.
    Unknown(String),
}

const IN_FLIGHT: &[&str] = &[
    "SCHEDULED",
    "INITIATED",
    "INPROGRESS",
    "WAITING_IN_QUEUE",
    "PROCESSING",
    "PROCESSED",
];

const TERMINAL: &[&str] = &[
    "ERROR_IN_TRANSCRIBE",
    "ERROR_IN_PROCESSING",
    "ERROR_IN_RECORDING",
    "UNABLE_TO_JOIN",
    "CALL_DID_NOT_HAPPEN",
    "IGNORED_BY_USER",
    "BOTJOIN_DISABLED",
    "NO_DATA_INCALL",
    "NOBODY_JOINED_CALL",
    "BOTJOIN_DENIED",
];

impl CallStatus {
    pub fn parse(raw: &str) -> CallStatus {
        let s = raw.trim();
        if s == "POST_PROCESSING_DONE" {
            CallStatus::PostProcessingDone
        } else if IN_FLIGHT.contains(&s) {
            CallStatus::InFlight(s.to_string())
        } else if TERMINAL.contains(&s) {
            CallStatus::Terminal(s.to_string())
        } else {
            CallStatus::Unknown(s.to_string())
        }
    }

    /// Recording or processing now: the call will be eligible soon (a scheduled meeting
    /// may be days away, so it is not).
    pub fn is_on_its_way(&self) -> bool {
        matches!(self, CallStatus::InFlight(s) if s != "SCHEDULED")
    }

    pub fn is_eligible(&self) -> bool {
        matches!(self, CallStatus::PostProcessingDone)
    }

    /// Why a call with this status is not indexed now; `None` when it is eligible. Reasons
    /// carry no call id, so the crawl report can count them.
    pub fn skip_reason(&self) -> Option<String> {
        match self {
            CallStatus::PostProcessingDone => None,
            CallStatus::InFlight(s) => Some(format!("status {s}: not processed yet")),
            CallStatus::Terminal(s) => Some(format!("status {s}: no processed recording")),
            CallStatus::Unknown(s) => Some(format!("status {s}: unknown status, not indexed")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_post_processing_done_is_eligible() {
        assert!(CallStatus::parse("POST_PROCESSING_DONE").is_eligible());
        assert_eq!(
            CallStatus::parse(" POST_PROCESSING_DONE ").skip_reason(),
            None
        );
        assert_eq!(
            CallStatus::parse("PROCESSING").skip_reason().unwrap(),
            "status PROCESSING: not processed yet"
        );
        assert_eq!(
            CallStatus::parse("PROCESSED").skip_reason().unwrap(),
            "status PROCESSED: not processed yet"
        );
        assert_eq!(
            CallStatus::parse("NO_DATA_INCALL").skip_reason().unwrap(),
            "status NO_DATA_INCALL: no processed recording"
        );
        assert_eq!(
            CallStatus::parse("ARCHIVED_SOMEHOW"),
            CallStatus::Unknown("ARCHIVED_SOMEHOW".into())
        );
        assert!(!CallStatus::parse("post_processing_done").is_eligible());
        for s in IN_FLIGHT.iter().chain(TERMINAL) {
            assert!(!CallStatus::parse(s).is_eligible());
            assert!(
                !matches!(CallStatus::parse(s), CallStatus::Unknown(_)),
                "{s}"
            );
        }
    }
}
