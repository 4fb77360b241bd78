//! Yilianyun's daily grant quota: 20 grants/refreshes per printer per China calendar day (UTC+8).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

/// Grants + refreshes the server allows per printer per China day (error 41 past it).
pub const GRANTS_PER_DAY: u32 = 20;

fn china() -> FixedOffset {
    // Asia/Shanghai has had no DST since 1991: a fixed +08:00 offset is exact.
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// The China calendar day that `at` falls on.
pub fn china_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&china()).date_naive()
}

/// When the quota of the China day containing `at` resets: the next 00:00 Asia/Shanghai, in UTC.
pub fn quota_reset_at(at: DateTime<Utc>) -> DateTime<Utc> {
    let next_day = china_day(at) + Duration::days(1);
    china()
        .from_local_datetime(&next_day.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("fixed offset is unambiguous")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_day_switches_at_16_utc() {
        let before = Utc.with_ymd_and_hms(2026, 11, 22, 15, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap();
        assert_eq!(
            china_day(before),
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
        );
        assert_eq!(
            china_day(after),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
    }

    #[test]
    fn reset_is_next_shanghai_midnight() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap(); // 11:00 in Shanghai
        assert_eq!(
            quota_reset_at(at),
            Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap()
        );
        let late = Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap(); // 00:00 on the 23rd
        assert_eq!(
            quota_reset_at(late),
            Utc.with_ymd_and_hms(2026, 11, 23, 16, 0, 0).unwrap()
        );
    }
}
