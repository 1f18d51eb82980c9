//! The Date header: serve's IMF-fixdate, checked against `date -u`.

use super::*;

/// `head` with its one Date header's value replaced by `DATE`, after checking
/// it: an IMF-fixdate (RFC 9110 section 5.6.7) within 5 s of this machine's
/// clock, as `date -u` formats it.
pub(crate) fn dated(head: &str) -> String {
    let lines: Vec<&str> = head.split("\r\n").collect();
    let dates: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("Date: "))
        .collect();
    assert_eq!(dates.len(), 1, "one Date header in {head:?}");
    let value = &lines[dates[0]][6..];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ok = (now.saturating_sub(5)..=now + 1).any(|t| imf_fixdate(t) == value);
    assert!(ok, "Date: {value:?} is not now ({})", imf_fixdate(now));
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[dates[0]] = "Date: DATE".into();
    out.join("\r\n")
}

/// `secs` since 1970 as an IMF-fixdate, computed here with Howard Hinnant's
/// `civil_from_days` (the server counts years and months off one by one);
/// [`imf_fixdate_is_date_u`] checks it against `date -u`.
pub(crate) fn imf_fixdate(secs: u64) -> String {
    let days = secs / 86400;
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = era * 400 + yoe + u64::from(m <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    let t = secs % 86400;
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

#[test]
pub(crate) fn imf_fixdate_is_date_u() {
    // Leap days, year ends, and now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for secs in [
        0,
        951_782_400,
        1_709_164_799,
        1_735_689_599,
        4_102_444_799,
        now,
    ] {
        let out = Command::new("date")
            .args([
                "-u",
                "-d",
                &format!("@{secs}"),
                "+%a, %d %b %Y %H:%M:%S GMT",
            ])
            .env("LC_ALL", "C")
            .output()
            .expect("run date");
        assert_eq!(
            imf_fixdate(secs),
            String::from_utf8(out.stdout).unwrap().trim_end(),
            "{secs}"
        );
    }
}
