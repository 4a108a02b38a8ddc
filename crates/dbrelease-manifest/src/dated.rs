//! Date versions: one immutable version per day of data, named from the UTC date of the run.
//!
//! The scheme is `vYYYY.MDD.N` — year, then month × 100 + day, then a counter from 0 for a
//! second (third…) version with different data on the same day: `v2026.1205.0`,
//! `v2026.1205.1`, `v2027.105.0` (5 January). Why this shape:
//! - it is a semantic version (three numbers, no leading zeros), so every ordering that already
//!   exists keeps working without a special case: `versions.json`'s latest, `fetch --tag
//!   latest`, readers that cache a semantic version for good, semantic-release's own tag
//!   parsing;
//! - the numbers compare in date order (month × 100 + day grows with the date), and the counter
//!   is the patch number, so a second version of a day sorts after the first;
//! - a version's date is readable in its name, and `--as-of` can tell a day's versions apart.
//!
//! `v2026.12.5` (the calendar form) leaves no third number for the same-day counter: a
//! pre-release suffix would sort *below* the day's first version, and build metadata (`+1`)
//! does not sort at all.

use std::fmt;

/// A calendar date (UTC), as the three numbers people write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    /// Year (1970..=9999).
    pub year: u32,
    /// Month (1..=12).
    pub month: u32,
    /// Day of the month (1..=31).
    pub day: u32,
}

impl Day {
    /// Parses `YYYY-MM-DD`; None for anything else, including dates that do not exist.
    pub fn parse(text: &str) -> Option<Day> {
        let mut parts = text.split('-');
        let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return None;
        }
        let day = Day {
            year: year.parse().ok()?,
            month: month.parse().ok()?,
            day: day.parse().ok()?,
        };
        day.is_valid().then_some(day)
    }

    /// True when the date exists in the Gregorian calendar (and the year has four digits).
    pub fn is_valid(&self) -> bool {
        let leap = self.year.is_multiple_of(4)
            && (!self.year.is_multiple_of(100) || self.year.is_multiple_of(400));
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        (1970..=9999).contains(&self.year) && (1..=days).contains(&self.day)
    }

    /// The first instant after this day ends, as RFC 3339 (`2026-12-06T00:00:00Z` for
    /// 2026-12-05): a timestamp is "by the end of the day" when it sorts before this one.
    pub fn end_rfc3339(&self) -> String {
        let mut next = Day {
            day: self.day + 1,
            ..*self
        };
        if !next.is_valid() {
            next = Day {
                month: self.month + 1,
                day: 1,
                ..*self
            };
        }
        if !next.is_valid() {
            next = Day {
                year: self.year + 1,
                month: 1,
                day: 1,
            };
        }
        format!("{next}T00:00:00Z")
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A date version: a day and the counter of versions made that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateVersion {
    /// The UTC day of the run that published it.
    pub day: Day,
    /// 0 for the day's first version, 1 for a second one, ….
    pub counter: u64,
}

impl DateVersion {
    /// The date version a tag names, or None for any other tag (`v1.2.0`, `nightly`).
    pub fn parse(tag: &str) -> Option<DateVersion> {
        let rest = tag.strip_prefix('v')?;
        let mut parts = rest.split('.');
        let (year, month_day, counter) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        // Semantic versions have no leading zeros; `v2026.0105.0` is not one of ours.
        let canonical = |text: &str| !text.is_empty() && (text == "0" || !text.starts_with('0'));
        let shaped = [year, month_day, counter].into_iter().all(canonical)
            && year.len() == 4
            && (3..=4).contains(&month_day.len());
        if !shaped {
            return None;
        }
        let month_day: u32 = month_day.parse().ok()?;
        let day = Day {
            year: year.parse().ok()?,
            month: month_day / 100,
            day: month_day % 100,
        };
        let version = DateVersion {
            day,
            counter: counter.parse().ok()?,
        };
        day.is_valid().then_some(version)
    }

    /// The tag: `v2026.1205.0`.
    pub fn tag(&self) -> String {
        format!(
            "v{}.{}{:02}.{}",
            self.day.year, self.day.month, self.day.day, self.counter
        )
    }

    /// The version after this one on the same day.
    pub fn next_same_day(&self) -> DateVersion {
        DateVersion {
            counter: self.counter + 1,
            ..*self
        }
    }
}

/// Why no date version can be named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The newest published version is dated after today: the clock is wrong (or the versions
    /// were made by a clock that was).
    #[error(
        "the clock says {today} (UTC), but the newest published version {newest} is dated {newest_day}: is the clock of this machine behind? A date version must sort after every published one; fix the clock, or publish with an explicit --tag"
    )]
    ClockBehind {
        /// Today by this machine's clock.
        today: Day,
        /// The newest published version.
        newest: String,
        /// Its day.
        newest_day: Day,
    },
}

/// The first candidate for a new date version on `today`, after `newest` (the newest published
/// version, if it is a date version): the day's first version, or the one after `newest` when
/// `newest` is from today. The caller moves on with [`DateVersion::next_same_day`] while a
/// candidate is taken (a tag that exists but is not the newest, such as a pre-release).
pub fn first_candidate(today: Day, newest: Option<&str>) -> Result<DateVersion, DateError> {
    let first = DateVersion {
        day: today,
        counter: 0,
    };
    let Some(newest_version) = newest.and_then(DateVersion::parse) else {
        return Ok(first);
    };
    if newest_version.day > today {
        return Err(DateError::ClockBehind {
            today,
            newest: newest_version.tag(),
            newest_day: newest_version.day,
        });
    }
    Ok(if newest_version.day == today {
        newest_version.next_same_day()
    } else {
        first
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::release_version;

    fn day(text: &str) -> Day {
        Day::parse(text).unwrap()
    }

    #[test]
    fn date_versions_are_semantic_versions_in_date_order() {
        let tags = [
            "v2026.1130.0",
            "v2026.1201.0",
            "v2026.1205.0",
            "v2026.1205.1",
            "v2026.1205.10",
            "v2027.101.0",
            "v2027.1001.0",
        ];
        for pair in tags.windows(2) {
            let (a, b) = (
                release_version(pair[0]).unwrap(),
                release_version(pair[1]).unwrap(),
            );
            assert!(a < b, "{} sorts before {}", pair[0], pair[1]);
            assert!(DateVersion::parse(pair[0]) < DateVersion::parse(pair[1]));
        }
        for tag in tags {
            assert_eq!(DateVersion::parse(tag).unwrap().tag(), tag);
        }
        assert_eq!(
            DateVersion {
                day: day("2027-01-05"),
                counter: 0
            }
            .tag(),
            "v2027.105.0"
        );
        for other in [
            "v1.2.0",
            "2026.1205.0",
            "v2026.0105.0",
            "v2026.1232.0",
            "v2026.230.0",
            "v2026.1205.01",
            "v2026.1205",
            "nightly",
        ] {
            assert_eq!(DateVersion::parse(other), None, "{other}");
        }
    }

    #[test]
    fn the_next_version_follows_the_newest_and_refuses_a_clock_behind_it() {
        let today = day("2026-12-05");
        assert_eq!(first_candidate(today, None).unwrap().tag(), "v2026.1205.0");
        assert_eq!(
            first_candidate(today, Some("v1.4.0")).unwrap().tag(),
            "v2026.1205.0"
        );
        assert_eq!(
            first_candidate(today, Some("v2026.1204.3")).unwrap().tag(),
            "v2026.1205.0"
        );
        assert_eq!(
            first_candidate(today, Some("v2026.1205.0")).unwrap().tag(),
            "v2026.1205.1"
        );
        let err = first_candidate(today, Some("v2026.1206.0")).unwrap_err();
        assert!(err.to_string().contains("is the clock"), "{err}");
    }

    #[test]
    fn days_parse_strictly_and_know_where_they_end() {
        assert_eq!(day("2026-12-05").end_rfc3339(), "2026-12-06T00:00:00Z");
        assert_eq!(day("2026-12-31").end_rfc3339(), "2027-01-01T00:00:00Z");
        assert_eq!(day("2028-02-28").end_rfc3339(), "2028-02-29T00:00:00Z");
        assert_eq!(day("2026-02-28").end_rfc3339(), "2026-03-01T00:00:00Z");
        for bad in [
            "2026-13-01",
            "2026-02-29",
            "2026-1-5",
            "yesterday",
            "2026-12-05T00:00",
        ] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
    }
}
