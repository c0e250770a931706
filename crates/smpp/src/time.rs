//! SMPP v3.4 time strings (section 7.1.1): absolute `YYMMDDhhmmsstnnp` and relative
//! `YYMMDDhhmmss000R`, as used by `validity_period` and `schedule_delivery_time`.

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

#[cfg(test)]
mod tests {
    use super::*;

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
