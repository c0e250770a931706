//! SMPP v3.4 time strings (section 7.1.1): absolute `YYMMDDhhmmsstnnp` and relative
//! `YYMMDDhhmmss000R`, as used by `validity_period`, `schedule_delivery_time` and
//! `final_date`. The one place they are read and written (the PDU field is
//! `smsgate_smpp::time_field`).

/// A time string that does not follow section 7.1.1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SMPP time {0:?}")]
pub struct InvalidTime(pub String);

/// Parse an SMPP time string into milliseconds since the epoch, relative to `now_ms` for
/// relative times. An empty string means "not set" (`Ok(None)`).
pub fn parse(s: &str, now_ms: i64) -> Result<Option<i64>, InvalidTime> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || InvalidTime(s.to_string());
    let b = s.as_bytes();
    if b.len() != 16 || !b[..15].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let num = |i: usize| i64::from(b[i] - b'0') * 10 + i64::from(b[i + 1] - b'0');
    let (yy, mo, dd, hh, mi, ss) = (num(0), num(2), num(4), num(6), num(8), num(10));
    match b[15] {
        b'R' => {
            // Relative: years and months are approximated as 365 and 30 days.
            if hh > 23 || mi > 59 || ss > 59 {
                return Err(bad());
            }
            let secs = ((yy * 365 + mo * 30 + dd) * 24 + hh) * 3600 + mi * 60 + ss;
            Ok(Some(now_ms + secs * 1000))
        }
        sign @ (b'+' | b'-') => {
            let tenths = i64::from(b[12] - b'0');
            let quarters = num(13);
            if quarters > 48 {
                return Err(bad());
            }
            let month = time::Month::try_from(mo as u8).map_err(|_| bad())?;
            let date = time::Date::from_calendar_date(2000 + yy as i32, month, dd as u8)
                .map_err(|_| bad())?;
            let t = time::Time::from_hms(hh as u8, mi as u8, ss as u8).map_err(|_| bad())?;
            let local = time::PrimitiveDateTime::new(date, t).assume_utc();
            // The time is local to an offset of `quarters` quarter hours from UTC.
            let offset = quarters * 15 * 60 * if sign == b'+' { 1 } else { -1 };
            let unix = local.unix_timestamp() - offset;
            Ok(Some(unix * 1000 + tenths * 100))
        }
        _ => Err(bad()),
    }
}

/// The relative time `secs` from now (`YYMMDDhhmmss000R`; years and months of 365 and 30
/// days, as [`parse`] reads them).
pub fn relative(secs: u64) -> String {
    let (d, r) = (secs / 86400, secs % 86400);
    let (h, r) = (r / 3600, r % 3600);
    let (mi, s) = (r / 60, r % 60);
    let (y, d) = (d / 365, d % 365);
    let (mo, d) = (d / 30, d % 30);
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}000R",
        y.min(99),
        mo,
        d,
        h,
        mi,
        s
    )
}

/// `ms` since the epoch as an absolute time in UTC (`YYMMDDhhmmss000+`); empty when out of
/// range.
pub fn absolute(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms / 1000) {
        Ok(t) => format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}000+",
            t.year() % 100,
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_times_read_back() {
        let now = 1_767_319_445_000;
        for secs in [0, 59, 3_600, 86_400 * 3 + 7, 86_400 * 400] {
            let r = relative(secs);
            assert_eq!(parse(&r, now), Ok(Some(now + secs as i64 * 1000)), "{r}");
        }
        let a = absolute(now);
        assert_eq!(a, "260102020405000+");
        assert_eq!(parse(&a, 0), Ok(Some(now)));
    }

    #[test]
    fn relative_and_absolute() {
        assert_eq!(parse("", 5), Ok(None));
        assert_eq!(
            parse("000000010000000R", 1_000),
            Ok(Some(1_000 + 3_600_000))
        );
        assert_eq!(parse("000001000000000R", 0), Ok(Some(86_400_000)));
        // 2026-01-02 03:04:05.6 at UTC+1 (4 quarters) = 02:04:05.6 UTC.
        let t = parse("260102030405604+", 0).expect("valid").expect("set");
        assert_eq!(t, 1_767_319_445_600);
        let t2 = parse("260102020405600+", 0).expect("valid").expect("set");
        assert_eq!(t, t2);
        for bad in [
            "x",
            "2601020304056040",
            "261302030405604+",
            "000000250000000R",
            "26010203040560+",
        ] {
            assert!(parse(bad, 0).is_err(), "{bad}");
        }
    }
}
