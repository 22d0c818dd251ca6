//! Readable labels for Clari's enumerations (call type, disposition). Unknown values are
//! shown as Clari sent them, never rejected.

/// `ZOOM` -> `Zoom`, `MS_TEAMS` -> `Microsoft Teams`, `RECORDING` -> `Recording`.
pub fn call_type(raw: &str) -> String {
    let known = match raw.trim() {
        "ZOOM" => "Zoom",
        "GOOGLE_MEET" => "Google Meet",
        "FRESHCALLER" => "Freshcaller",
        "AIRCALL_RECORDING" => "Aircall",
        "RINGCENTRAL" => "RingCentral",
        "GOTO_MEETING" => "GoTo Meeting",
        "OUTREACH" => "Outreach",
        "HUBSPOT" => "HubSpot",
        "BLUE_JEANS" => "BlueJeans",
        "SALESLOFT" => "Salesloft",
        "MS_TEAMS" => "Microsoft Teams",
        "DIALPAD" => "Dialpad",
        "FRONTSPIN" => "FrontSpin",
        "TALKDESK" => "Talkdesk",
        "RECORDING" => "Recording",
        "VENDASTA" => "Vendasta",
        "KNOWLARITY" => "Knowlarity",
        "CALL_HIPPO" => "CallHippo",
        "RINGOVER" => "Ringover",
        other => return other.to_string(),
    };
    known.to_string()
}

/// `CALL_CONNECTED_WITH_PROSPECT` -> `Connected with prospect`.
pub fn disposition(raw: &str) -> String {
    let known = match raw.trim() {
        "UNKNOWN_CALL_DISPOSITION" => "Unknown",
        "CALL_CONNECTED_WITH_PROSPECT" => "Connected with prospect",
        "CALL_DID_NOT_CONNECT_WITH_PROSPECT" => "Did not connect with prospect",
        "CALL_NOBODY_JOINED" => "Nobody joined",
        "CALL_BOTJOIN_DENIED" => "Bot was denied",
        other => return other.to_string(),
    };
    known.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_values() {
        assert_eq!(call_type("MS_TEAMS"), "Microsoft Teams");
        assert_eq!(call_type("RECORDING"), "Recording");
        assert_eq!(call_type("WEBEX_NEW"), "WEBEX_NEW");
        assert_eq!(disposition("CALL_NOBODY_JOINED"), "Nobody joined");
        assert_eq!(disposition("CALL_VOICEMAIL"), "CALL_VOICEMAIL");
    }
}
