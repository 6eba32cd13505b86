// Package cron parses standard 5-field cron expressions and computes their
// next run times in a given time zone.
//
// Supported syntax, per field "minute hour day-of-month month day-of-week":
// "*", numbers, ranges "a-b", steps "*/n" and "a-b/n", and lists "a,b,c".
// Months accept JAN-DEC and weekdays SUN-SAT (case-insensitive); day-of-week
// accepts 0-7, where both 0 and 7 mean Sunday. The descriptors @yearly
// (@annually), @monthly, @weekly, @daily (@midnight) and @hourly are accepted.
//
// Day matching follows Vixie cron: when both day-of-month and day-of-week are
// restricted, a day matches if either matches; when one of them is "*", only
// the other restricts. A field counts as unrestricted only when it is exactly
// "*" (so "*/2" in day-of-month is a restriction).
//
// Next works on wall-clock time in the location of the time it is given.
// Daylight-saving transitions are handled as follows:
//
//   - A wall time that does not exist (skipped by a spring-forward
//     transition, e.g. 02:30 on 2024-03-10 in America/New_York) does not run
//     that day; it is not shifted to a nearby time.
//   - A wall time that occurs twice (repeated by a fall-back transition, e.g.
//     01:30 on 2024-11-03 in America/New_York) runs once, at its first
//     occurrence. This also applies to wildcard schedules: "0 * * * *" runs at
//     01:00 EDT but not again at 01:00 EST.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// searchYears bounds how far Next looks ahead before concluding that a
// schedule can never fire (e.g. "0 0 30 2 *").
const searchYears = 8

// Schedule is a parsed cron expression.
type Schedule struct {
	expr    string
	minute  uint64 // bits 0-59
	hour    uint64 // bits 0-23
	dom     uint64 // bits 1-31
	month   uint64 // bits 1-12
	dow     uint64 // bits 0-6, Sunday = 0
	domStar bool
	dowStar bool
}

type fieldSpec struct {
	name     string
	min, max int
	names    map[string]int
	allowed  string
}

var (
	monthNames = map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	}
	dowNames = map[string]int{
		"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
	}

	minuteSpec = fieldSpec{name: "minute", min: 0, max: 59, allowed: "0-59"}
	hourSpec   = fieldSpec{name: "hour", min: 0, max: 23, allowed: "0-23"}
	domSpec    = fieldSpec{name: "day-of-month", min: 1, max: 31, allowed: "1-31"}
	monthSpec  = fieldSpec{name: "month", min: 1, max: 12, names: monthNames, allowed: "1-12 or JAN-DEC"}
	dowSpec    = fieldSpec{name: "day-of-week", min: 0, max: 7, names: dowNames, allowed: "0-7 (0 and 7 are Sunday) or SUN-SAT"}
)

var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Parse parses a 5-field cron expression or a descriptor such as @daily.
func Parse(expr string) (*Schedule, error) {
	spec := strings.TrimSpace(expr)
	if strings.HasPrefix(spec, "@") {
		std, ok := descriptors[strings.ToLower(spec)]
		if !ok {
			return nil, fmt.Errorf("cron: unknown descriptor %q (allowed: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)", spec)
		}
		spec = std
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("cron: expected 5 fields (minute hour day-of-month month day-of-week), got %d in %q", len(fields), expr)
	}
	s := &Schedule{expr: expr}
	var err error
	if s.minute, err = parseField(fields[0], minuteSpec); err != nil {
		return nil, err
	}
	if s.hour, err = parseField(fields[1], hourSpec); err != nil {
		return nil, err
	}
	if s.dom, err = parseField(fields[2], domSpec); err != nil {
		return nil, err
	}
	if s.month, err = parseField(fields[3], monthSpec); err != nil {
		return nil, err
	}
	if s.dow, err = parseField(fields[4], dowSpec); err != nil {
		return nil, err
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday
		s.dow = s.dow&^(1<<7) | 1
	}
	s.domStar = fields[2] == "*"
	s.dowStar = fields[4] == "*"
	return s, nil
}

// String returns the expression the schedule was parsed from.
func (s *Schedule) String() string { return s.expr }

func parseField(field string, f fieldSpec) (uint64, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("cron: %s field %q: %s", f.name, field, fmt.Sprintf(format, args...))
	}
	var bits uint64
	for _, part := range strings.Split(field, ",") {
		if part == "" {
			return 0, fail("empty list element (allowed: %s)", f.allowed)
		}
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, ok := parseNumber(stepStr)
			if !ok {
				return 0, fail("invalid step %q (must be a positive integer)", stepStr)
			}
			if n < 1 {
				return 0, fail("step %d must be at least 1", n)
			}
			step = n
		}
		var lo, hi int
		if rng == "*" {
			lo, hi = f.min, f.max
			if f.max == 7 { // day-of-week: "*" means 0-6, avoid counting Sunday twice
				hi = 6
			}
		} else {
			loStr, hiStr, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = parseValue(loStr, f, fail); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = parseValue(hiStr, f, fail); err != nil {
					return 0, err
				}
				if lo > hi {
					return 0, fail("range start %d is greater than end %d", lo, hi)
				}
			} else if hasStep {
				return 0, fail("step %q requires a range or * (e.g. */%d or a-b/%d)", "/"+stepStr, step, step)
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func parseValue(s string, f fieldSpec, fail func(string, ...any) error) (int, error) {
	if n, ok := parseNumber(s); ok {
		if n < f.min || n > f.max {
			return 0, fail("value %d out of range %d-%d", n, f.min, f.max)
		}
		return n, nil
	}
	if f.names != nil {
		if n, ok := f.names[strings.ToUpper(s)]; ok {
			return n, nil
		}
	}
	if s == "" {
		return 0, fail("missing value (allowed: %s)", f.allowed)
	}
	return 0, fail("invalid value %q (allowed: %s)", s, f.allowed)
}

// parseNumber parses a non-empty string of ASCII digits.
func parseNumber(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// Next returns the first time strictly after after (at second 0) whose wall
// clock in after's location matches the schedule, or the zero time if none is
// found within searchYears years. See the package documentation for the
// handling of daylight-saving transitions.
func (s *Schedule) Next(after time.Time) time.Time {
	loc := after.Location()
	y, mo, d := after.Date()
	// Iterate calendar days in UTC, where days are always 24h long.
	day := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	end := time.Date(y+searchYears+1, time.January, 1, 0, 0, 0, 0, time.UTC)
	for ; day.Before(end); day = day.AddDate(0, 0, 1) {
		y, mo, d := day.Date()
		if !s.dayMatches(mo, d, day.Weekday()) {
			continue
		}
		for h := 0; h < 24; h++ {
			if s.hour&(1<<uint(h)) == 0 {
				continue
			}
			for m := 0; m < 60; m++ {
				if s.minute&(1<<uint(m)) == 0 {
					continue
				}
				t, ok := firstOccurrence(y, mo, d, h, m, loc)
				if ok && t.After(after) {
					return t
				}
			}
		}
	}
	return time.Time{}
}

func (s *Schedule) dayMatches(mo time.Month, d int, wd time.Weekday) bool {
	if s.month&(1<<uint(mo)) == 0 {
		return false
	}
	domOK := s.dom&(1<<uint(d)) != 0
	dowOK := s.dow&(1<<uint(wd)) != 0
	switch {
	case s.domStar && s.dowStar:
		return true
	case s.domStar:
		return dowOK
	case s.dowStar:
		return domOK
	default:
		return domOK || dowOK
	}
}

// matches reports whether t's wall clock in its own location matches the
// schedule (at second 0).
func (s *Schedule) matches(t time.Time) bool {
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return false
	}
	return s.minute&(1<<uint(t.Minute())) != 0 &&
		s.hour&(1<<uint(t.Hour())) != 0 &&
		s.dayMatches(t.Month(), t.Day(), t.Weekday())
}

// firstOccurrence returns the earliest instant whose wall clock in loc reads
// y-mo-d h:m:00, and false if no such instant exists (a spring-forward gap).
// time.Date alone does not specify which instant it picks for repeated wall
// times, nor does it report nonexistent ones, so candidates are derived from
// the UTC offsets in effect around the wall time and each is verified.
func firstOccurrence(y int, mo time.Month, d, h, m int, loc *time.Location) (time.Time, bool) {
	wall := time.Date(y, mo, d, h, m, 0, 0, time.UTC).Unix()
	approx := time.Date(y, mo, d, h, m, 0, 0, loc)
	var best time.Time
	found := false
	for _, probe := range [...]time.Time{approx.Add(-36 * time.Hour), approx, approx.Add(36 * time.Hour)} {
		_, off := probe.Zone()
		u := time.Unix(wall-int64(off), 0).In(loc)
		uy, umo, ud := u.Date()
		if uy != y || umo != mo || ud != d || u.Hour() != h || u.Minute() != m {
			continue
		}
		if !found || u.Before(best) {
			best, found = u, true
		}
	}
	return best, found
}

// cache holds parsed expressions by their text.
var cache sync.Map // string → *Schedule

// Cached is Parse, remembering what it parsed: a perpetual task's
// expression is parsed at every enqueue and after every run.
func Cached(expr string) (*Schedule, error) {
	if s, ok := cache.Load(expr); ok {
		return s.(*Schedule), nil
	}
	s, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	cache.Store(expr, s)
	return s, nil
}
