//! Printer-call helpers: the test ticket and how replies are shown.

use chrono::{DateTime, FixedOffset, Utc};
use quickauth_protocol::{PrintJob, PrinterState};

/// The minimal test ticket from protocol.md: big centred name, the machine code in bold, a time stamp (UTC+8).
pub fn test_ticket(machine_code: &str, now: DateTime<Utc>) -> String {
    let china = FixedOffset::east_opt(8 * 3600).expect("offset");
    let stamp = now.with_timezone(&china).format("%Y-%m-%d %H:%M");
    format!("<FS2><center>QuickAuth</center></FS2>\n<FB>{machine_code}</FB>\n<center>OK {stamp}</center>\n")
}

pub(crate) fn state_name(state: &PrinterState) -> &'static str {
    match state {
        PrinterState::Offline => "offline",
        PrinterState::Online => "online",
        PrinterState::OutOfPaper => "out_of_paper",
        PrinterState::Unknown(_) => "unknown",
    }
}

pub(crate) fn job_id(job: &PrintJob) -> String {
    job.id.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ticket_matches_protocol_example() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 2, 0, 0).unwrap();
        assert_eq!(
            test_ticket("4004123456", at),
            "<FS2><center>QuickAuth</center></FS2>\n<FB>4004123456</FB>\n<center>OK 2026-11-22 10:00</center>\n"
        );
    }
}
