//! The vendor's clock: every time it writes or reads is wall-clock time in its zone
//! (China Standard Time), as `YYYY-MM-DD HH:MM:SS`.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// The vendor's time format.
pub const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// `instant` as the vendor writes it in `zone`.
pub fn format(instant: Timestamp, zone: &TimeZone) -> String {
    instant
        .to_zoned_datetime(zone.clone())
        .strftime(FORMAT)
        .to_string()
}

/// Reads a vendor time in `zone`; `None` when it is empty or not in the vendor's format.
pub fn parse(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let civil = DateTime::strptime(FORMAT, text.trim()).ok()?;
    Some(civil.to_zoned_datetime(zone.clone()).ok()?.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_session_second_is_the_sample_start_time_in_shanghai() {
        // Session 1633767017-0045-567389 starts at 2021-10-09 16:10:17 (spec notes).
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        let instant = Timestamp::from_second(1_633_767_017).unwrap();
        assert_eq!(format(instant, &shanghai), "2021-10-09 16:10:17");
        assert_eq!(parse("2021-10-09 16:10:17", &shanghai), Some(instant));
        assert_eq!(parse("", &shanghai), None);
        assert_eq!(parse("yesterday", &shanghai), None);
    }
}
